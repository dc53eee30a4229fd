//! What an accept callback sees ([`UpgradeRequest`]) and returns
//! ([`Accept`]).

use std::ops::Deref;

use http::Request;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// A valid opening-handshake request, as the accept callback sees it.
///
/// Derefs to the [`http::Request`] (method, URI, headers).
#[derive(Clone, Debug)]
pub struct UpgradeRequest {
    request: Request<()>,
    protocols: Vec<String>,
}

impl UpgradeRequest {
    /// A request found valid, offering `protocols`.
    pub(crate) fn new(request: Request<()>, protocols: Vec<String>) -> Self {
        UpgradeRequest { request, protocols }
    }

    /// The request line and headers.
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The path part of the request target.
    pub fn path(&self) -> &str {
        self.request.uri().path()
    }

    /// The subprotocols the client offered, in its order.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The first subprotocol the client offered, in its order of
    /// preference, that is one of `supported`; `None` when there is none.
    pub fn select_protocol<S: AsRef<str>>(&self, supported: &[S]) -> Option<&str> {
        select_protocol(&self.protocols, supported)
    }

    /// The `Origin` header, if sent (browsers always send it; R-SH-06).
    pub fn origin(&self) -> Option<&str> {
        self.request
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
    }
}

impl Deref for UpgradeRequest {
    type Target = Request<()>;
    fn deref(&self) -> &Request<()> {
        &self.request
    }
}

/// The accept callback's "yes": which subprotocol to use, and extra headers
/// for the 101 response (`Set-Cookie`, for example).
#[derive(Clone, Debug)]
pub struct Accept {
    pub(crate) protocol: Option<String>,
    pub(super) headers: HeaderMap,
    pub(super) deflate: bool,
}

impl Default for Accept {
    fn default() -> Self {
        Accept {
            protocol: None,
            headers: HeaderMap::new(),
            deflate: true,
        }
    }
}

impl Accept {
    /// Accept with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Use this subprotocol. It must be one the client offered (R-SH-08).
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Do not negotiate permessage-deflate on this connection, even if the
    /// server's settings allow it.
    #[must_use]
    pub fn without_deflate(mut self) -> Self {
        self.deflate = false;
        self
    }

    /// Use this subprotocol if `condition` holds.
    #[must_use]
    pub fn protocol_if(self, condition: bool, protocol: impl Into<String>) -> Self {
        if condition {
            self.protocol(protocol)
        } else {
            self
        }
    }

    /// Adds a header to the 101 response. Invalid names or values are
    /// skipped.
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        if let (Ok(name), Ok(value)) = (name.try_into(), value.try_into()) {
            self.headers.append(name, value);
        }
        self
    }
}

/// The first of the `offered` subprotocols, in the client's order, that is
/// one of `supported` (R-SH-08).
pub(super) fn select_protocol<'a, S: AsRef<str>>(
    offered: &'a [String],
    supported: &[S],
) -> Option<&'a str> {
    offered
        .iter()
        .find(|offered| {
            supported
                .iter()
                .any(|ours| ours.as_ref() == offered.as_str())
        })
        .map(String::as_str)
}
