//! Negotiation of permessage-deflate in the opening handshake (RFC 7692
//! §5, §7.1): what one end wants ([`DeflateConfig`]), the offer and the
//! answer, and what both ends agreed ([`PerMessageDeflate`]).

use std::fmt::{self, Write as _};

use crate::handshake::{ExtensionOffer, HandshakeError};
use crate::role::Role;

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// zlib cannot compress with an 8-bit window (it uses 9), so the smallest
/// window this end can honour as a sender is 9 bits (PMD-15).
pub(super) const MIN_COMPRESS_BITS: u8 = 9;

/// How one end wants permessage-deflate negotiated and used.
///
/// The same struct serves both roles; each field says what it means for a
/// client and for a server. Put it in
/// [`Config::deflate`](crate::Config::deflate) to offer (client) or accept
/// (server) the extension.
///
/// # Examples
///
/// ```
/// use sockeye_proto::DeflateConfig;
///
/// let config = DeflateConfig::default();
/// assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
///
/// let lean = DeflateConfig {
///     client_no_context_takeover: true,
///     server_no_context_takeover: true,
///     ..DeflateConfig::default()
/// };
/// assert_eq!(
///     lean.offer(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
///      client_max_window_bits"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The zlib compression level, 0 (store) to 9 (smallest). Default: 1.
    ///
    /// Level 1 gets most of the size reduction on the JSON and text that
    /// WebSocket applications send, at a fraction of level 6's CPU cost.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed.
    /// Default: 0, every message is compressed.
    ///
    /// Uncompressed messages on a compressed connection are valid (RFC 7692
    /// §6), but some peers handle them badly, so nothing is left out unless
    /// asked. Below a few dozen bytes deflate's block overhead outweighs what
    /// it saves; a threshold also keeps short secrets out of compression
    /// (RFC 7692 §8).
    pub min_size: usize,
    /// Server: always reset the compression window between messages, and
    /// say so in the response; a client's request for it is honoured either
    /// way. Client: ask the server for it. Default: `false`.
    ///
    /// Without context takeover a server compresses with a compressor shared
    /// by all such connections on a thread, instead of ~256 KiB of zlib state
    /// per connection, at some cost in compression ratio.
    pub server_no_context_takeover: bool,
    /// Client: promise to reset the compression window between messages
    /// (sent as a hint in the offer). Server: require it of every client in
    /// the response; a client's own hint is confirmed either way.
    /// Default: `false`.
    ///
    /// Lets the receiving end inflate with a decompressor shared per thread.
    pub client_no_context_takeover: bool,
    /// Server: the largest window this end compresses with, 9–15; a client's
    /// smaller limit is honoured. Client: ask the server for at most this
    /// window (sent only when below 15). Default: 15.
    pub server_max_window_bits: u8,
    /// Client: the largest window this end compresses with, 9–15, sent in
    /// the offer when below 15 (the bare parameter is always sent, saying
    /// the client can honour a server's limit). Server: the window asked of
    /// clients that offer the parameter (sent when below 15). Default: 15.
    pub client_max_window_bits: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 1,
            min_size: 0,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// The parameters both ends agreed on: the server's response (PMD-14).
///
/// Window sizes are in bits (8–15). An absent window parameter means 15
/// (PMD-13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the four RFC 7692 parameters and whether each window was stated"
)]
pub struct PerMessageDeflate {
    /// The server starts each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with.
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with.
    pub client_max_window_bits: u8,
    /// Whether the server wrote `server_max_window_bits` in its response.
    server_bits_sent: bool,
    /// Whether the server wrote `client_max_window_bits` in its response.
    client_bits_sent: bool,
}

impl PerMessageDeflate {
    /// The `Sec-WebSocket-Extensions` element a server answers with.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_proto::{DeflateConfig, handshake::ExtensionOffer};
    ///
    /// let offer = ExtensionOffer {
    ///     name: "permessage-deflate".into(),
    ///     params: vec![("server_max_window_bits".into(), Some("10".into()))],
    /// };
    /// let agreed = DeflateConfig::default().negotiate(&[offer]).unwrap();
    /// assert_eq!(agreed.response(), "permessage-deflate; server_max_window_bits=10");
    /// ```
    pub fn response(&self) -> String {
        let mut out = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_bits_sent {
            let _ = write!(
                out,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            );
        }
        if self.client_bits_sent {
            let _ = write!(
                out,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        }
        out
    }

    /// Whether `role`'s end resets its compression window per message.
    pub(super) fn no_context_takeover(self, role: Role) -> bool {
        match role {
            Role::Client => self.client_no_context_takeover,
            Role::Server => self.server_no_context_takeover,
        }
    }

    /// The window `role`'s end compresses with.
    pub(super) fn window_bits(self, role: Role) -> u8 {
        match role {
            Role::Client => self.client_max_window_bits,
            Role::Server => self.server_max_window_bits,
        }
    }
}

impl fmt::Display for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.response())
    }
}

/// The `client_max_window_bits` parameter as written.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum ClientBits {
    #[default]
    Absent,
    /// Present without a value: "I can honour a limit".
    Bare,
    Value(u8),
}

/// Parsed permessage-deflate parameters of one offer or response.
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: ClientBits,
}

/// A window-bits value: 8–15 in decimal, no leading zeros (RFC 7692 §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => value.parse().ok(),
        _ => None,
    }
}

/// Reads the parameters; `None` for an unknown or repeated parameter, or a
/// missing or invalid value (PMD-10, PMD-11).
fn parse_params(offer: &ExtensionOffer) -> Option<Params> {
    let mut params = Params::default();
    let mut seen = [false; 4];
    for (name, value) in &offer.params {
        let value = value.as_deref();
        let slot = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => {
                value.is_none().then_some(())?;
                params.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" => {
                value.is_none().then_some(())?;
                params.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                params.server_max_window_bits = Some(window_bits(value?)?);
                2
            }
            "client_max_window_bits" => {
                params.client_max_window_bits = match value {
                    None => ClientBits::Bare,
                    Some(v) => ClientBits::Value(window_bits(v)?),
                };
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
    }
    Some(params)
}

impl DeflateConfig {
    /// A configured window size, clamped to what zlib can honour (9–15).
    fn checked_bits(bits: u8) -> u8 {
        bits.clamp(MIN_COMPRESS_BITS, 15)
    }

    /// The `Sec-WebSocket-Extensions` value a client offers.
    pub fn offer(&self) -> String {
        let mut out = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        let server_bits = Self::checked_bits(self.server_max_window_bits);
        if server_bits < 15 {
            let _ = write!(out, "; server_max_window_bits={server_bits}");
        }
        // The bare parameter says we can honour any limit the server sets.
        let client_bits = Self::checked_bits(self.client_max_window_bits);
        if client_bits < 15 {
            let _ = write!(out, "; client_max_window_bits={client_bits}");
        } else {
            out.push_str("; client_max_window_bits");
        }
        out
    }

    /// Server side: picks the first acceptable `permessage-deflate` offer
    /// (PMD-01) and returns the agreed parameters, or `None` to decline.
    ///
    /// Offers with unknown, repeated or invalid parameters are declined, and
    /// so is one that asks for `server_max_window_bits=8`, which zlib cannot
    /// honour (PMD-10, PMD-15). Declining never fails the handshake (PMD-02).
    pub fn negotiate(&self, offers: &[ExtensionOffer]) -> Option<PerMessageDeflate> {
        offers
            .iter()
            .filter(|offer| offer.name.eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|offer| self.accept_offer(offer))
    }

    fn accept_offer(&self, offer: &ExtensionOffer) -> Option<PerMessageDeflate> {
        let params = parse_params(offer)?;
        let (server_max_window_bits, server_bits_sent) =
            self.answer_server_bits(params.server_max_window_bits)?;
        let (client_max_window_bits, client_bits_sent) =
            self.answer_client_bits(params.client_max_window_bits);
        Some(PerMessageDeflate {
            server_no_context_takeover: params.server_no_context_takeover
                || self.server_no_context_takeover,
            // A client's hint is confirmed (RFC 7692 §7.1.1.2), which lets
            // us inflate its messages with a shared decompressor.
            client_no_context_takeover: params.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            server_bits_sent,
            client_bits_sent,
        })
    }

    /// The `server_max_window_bits` a server answers an offer with, and
    /// whether it writes it; `None` declines the offer.
    fn answer_server_bits(&self, asked: Option<u8>) -> Option<(u8, bool)> {
        let ours = Self::checked_bits(self.server_max_window_bits);
        match asked {
            // PMD-15: we cannot compress with a window below 9 bits.
            Some(asked) if asked < MIN_COMPRESS_BITS => None,
            Some(asked) => Some((asked.min(ours), true)),
            None => Some((ours, ours < 15)),
        }
    }

    /// The `client_max_window_bits` a server answers an offer with, and
    /// whether it writes it.
    fn answer_client_bits(&self, offered: ClientBits) -> (u8, bool) {
        let wanted = Self::checked_bits(self.client_max_window_bits);
        match offered {
            // The client can honour a limit: ask for ours if it is lower.
            ClientBits::Bare => (wanted, wanted < 15),
            // A client's own limit binds it; repeat the smaller one.
            ClientBits::Value(hint) => (hint.min(wanted), true),
            // Without the parameter we may not limit the client (PMD-11).
            ClientBits::Absent => (15, false),
        }
    }

    /// Client side: checks the server's answer to [`offer`](Self::offer)
    /// and returns the agreed parameters (PMD-11, PMD-12).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::InvalidExtensionResponse`] for an unknown,
    /// repeated or invalid parameter, a window larger than asked, or no
    /// `server_no_context_takeover` when it was asked for.
    pub fn accept_response(
        &self,
        response: &ExtensionOffer,
    ) -> Result<PerMessageDeflate, HandshakeError> {
        let invalid = HandshakeError::InvalidExtensionResponse;
        let params = parse_params(response).ok_or(invalid.clone())?;
        let server_max_window_bits = self
            .check_server_bits(params.server_max_window_bits)
            .ok_or(invalid.clone())?;
        let client_max_window_bits = self
            .check_client_bits(params.client_max_window_bits)
            .ok_or(invalid.clone())?;
        // PMD-12: we asked for it and cannot do without it.
        if self.server_no_context_takeover && !params.server_no_context_takeover {
            return Err(invalid);
        }
        Ok(PerMessageDeflate {
            server_no_context_takeover: params.server_no_context_takeover,
            // Our hint binds us even when the server does not repeat it.
            client_no_context_takeover: params.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            server_bits_sent: params.server_max_window_bits.is_some(),
            client_bits_sent: params.client_max_window_bits != ClientBits::Absent,
        })
    }

    /// The server's window in an answer to our offer, or `None` if it is
    /// larger than we asked, or absent when we asked for a limit (PMD-11).
    fn check_server_bits(&self, answered: Option<u8>) -> Option<u8> {
        let asked = Self::checked_bits(self.server_max_window_bits);
        match answered {
            Some(bits) if bits > asked => None,
            Some(bits) => Some(bits),
            None if asked < 15 => None,
            None => Some(15),
        }
    }

    /// Our own window as the server's answer sets it, or `None` for an
    /// answer without a value or above our hint (PMD-11).
    fn check_client_bits(&self, answered: ClientBits) -> Option<u8> {
        let offered = Self::checked_bits(self.client_max_window_bits);
        match answered {
            ClientBits::Bare => None,
            ClientBits::Value(bits) if bits > offered => None,
            ClientBits::Value(bits) => Some(bits),
            ClientBits::Absent => Some(offered),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn offer(params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: EXTENSION_NAME.into(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.map(str::to_owned)))
                .collect(),
        }
    }

    /// What a server configured with `server` and a client configured with
    /// `client` agree on, as each of them sees it.
    pub(in crate::deflate) fn agreed(
        server: &DeflateConfig,
        client: &DeflateConfig,
    ) -> (PerMessageDeflate, PerMessageDeflate) {
        let offers =
            crate::handshake::parse_extensions([
                &http::HeaderValue::from_str(&client.offer()).unwrap()
            ])
            .unwrap();
        let on_server = server.negotiate(&offers).expect("accepted");
        let response = crate::handshake::parse_extensions([&http::HeaderValue::from_str(
            &on_server.response(),
        )
        .unwrap()])
        .unwrap();
        let on_client = client
            .accept_response(&response[0])
            .expect("valid response");
        (on_server, on_client)
    }

    #[test]
    fn pmd_16_browser_offer_is_accepted() {
        let got = DeflateConfig::default()
            .negotiate(&[offer(&[("client_max_window_bits", None)])])
            .unwrap();
        assert_eq!(got.response(), "permessage-deflate");
        assert_eq!(
            (got.server_max_window_bits, got.client_max_window_bits),
            (15, 15)
        );
    }

    #[test]
    fn pmd_10_bad_offers_are_declined_and_the_next_one_taken() {
        let bad = [
            offer(&[("unknown", None)]),
            offer(&[
                ("server_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ]),
            offer(&[("server_max_window_bits", None)]),
            offer(&[("server_max_window_bits", Some("16"))]),
            offer(&[("server_max_window_bits", Some("08"))]),
            offer(&[("client_max_window_bits", Some("7"))]),
            offer(&[("client_no_context_takeover", Some("1"))]),
            offer(&[("server_max_window_bits", Some("8"))]),
        ];
        for o in &bad {
            assert_eq!(
                DeflateConfig::default().negotiate(std::slice::from_ref(o)),
                None,
                "{o:?}"
            );
        }
        let mut offers = bad.to_vec();
        offers.push(offer(&[("server_no_context_takeover", None)]));
        let got = DeflateConfig::default().negotiate(&offers).unwrap();
        assert!(got.server_no_context_takeover);
    }

    #[test]
    fn pmd_11_client_refuses_bad_responses() {
        let config = DeflateConfig::default();
        for r in [
            offer(&[("client_max_window_bits", None)]),
            offer(&[("server_max_window_bits", Some("7"))]),
            offer(&[("bogus", None)]),
            offer(&[
                ("server_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ]),
        ] {
            assert!(config.accept_response(&r).is_err(), "{r:?}");
        }
        let limited = DeflateConfig {
            client_max_window_bits: 10,
            server_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        assert!(
            limited
                .accept_response(&offer(&[("client_max_window_bits", Some("11"))]))
                .is_err()
        );
        assert!(
            limited
                .accept_response(&offer(&[("server_max_window_bits", Some("13"))]))
                .is_err()
        );
        // Asked for a window but the server did not confirm it.
        assert!(limited.accept_response(&offer(&[])).is_err());
    }

    #[test]
    fn pmd_12_asked_for_server_no_context_takeover_and_not_given() {
        let config = DeflateConfig {
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert!(config.accept_response(&offer(&[])).is_err());
        assert!(
            config
                .accept_response(&offer(&[("server_no_context_takeover", None)]))
                .is_ok()
        );
    }

    #[test]
    fn negotiation_round_trips() {
        let server = DeflateConfig {
            client_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let client = DeflateConfig {
            server_no_context_takeover: true,
            server_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        let (s, c) = agreed(&server, &client);
        assert_eq!(s, c);
        assert!(s.server_no_context_takeover);
        assert_eq!(
            (s.server_max_window_bits, s.client_max_window_bits),
            (12, 10)
        );
    }
}
