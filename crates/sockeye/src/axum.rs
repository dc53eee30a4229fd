//! An axum extractor for WebSocket upgrades, over HTTP/1.1 and HTTP/2
//! (RFC 8441), built on the [`hyper`](crate::hyper) module.
//!
//! A handler takes a [`WebSocketUpgrade`], which holds a request already
//! checked against RFC 6455 §4.2.1 (or RFC 8441 §5), adjusts its settings,
//! and returns [`WebSocketUpgrade::on_upgrade`]: the response that accepts
//! the request, while the callback runs on the [`WebSocket`] in a task of
//! its own once axum has sent it. A request that is not a valid WebSocket
//! request never reaches the handler: the extractor refuses it with an
//! [`UpgradeError`] that answers 400, 426 or 501 as the
//! [`hyper`](crate::hyper) module describes.
//!
//! # Routing both HTTP versions
//!
//! Over HTTP/1.1 a WebSocket request is a `GET`; over HTTP/2 it is a
//! `CONNECT` (RFC 8441). `routing::get` serves only the first: route with
//! `routing::any`, or add `CONNECT` with
//! `on(MethodFilter::GET.or(MethodFilter::CONNECT), handler)`. `axum::serve`
//! announces extended CONNECT over HTTP/2 (with axum's `http2` feature);
//! with a hyper server of your own, turn it on with
//! `http2::Builder::enable_connect_protocol()`.
//!
//! # Examples
//!
//! An echo route offering the `echo` subprotocol:
//!
//! ```
//! use axum::Router;
//! use axum::response::Response;
//! use axum::routing::any;
//! use futures_util::StreamExt;
//! use sockeye::axum::WebSocketUpgrade;
//!
//! async fn echo(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["echo"])
//!         .max_message_size(1 << 20)
//!         .on_upgrade(|mut socket| async move {
//!             while let Some(Ok(message)) = socket.next().await {
//!                 if socket.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         })
//! }
//!
//! let app: Router = Router::new().route("/echo", any(echo));
//! # drop(app);
//! ```

use std::fmt;
use std::future::Future;
use std::time::Duration;

use ::axum::body::Body;
use ::axum::extract::{FromRequestParts, OptionalFromRequestParts};
use ::axum::response::{IntoResponse, Response};
use ::hyper::upgrade::OnUpgrade;
use http::request::Parts;
use sockeye_proto::DeflateConfig;

use crate::config::WebSocketConfig;
use crate::error::Error;
use crate::hyper::{Checked, UpgradeError, UpgradedIo, asks_for_websocket};
use crate::server::builder::ServerBuilder;
use crate::server::request::{Accept, UpgradeRequest};

/// The WebSocket an upgraded axum request runs: sockeye's
/// [`WebSocket`](crate::WebSocket) over the upgraded connection.
pub type WebSocket = crate::WebSocket<UpgradedIo>;

/// A callback for an upgrade that failed after the response was sent.
type OnFailed = Box<dyn FnOnce(Error) + Send>;

/// Extractor of a valid WebSocket request, HTTP/1.1 `GET` with
/// `Upgrade: websocket` or HTTP/2 extended CONNECT; its
/// [`on_upgrade`](Self::on_upgrade) accepts it.
///
/// Settings start as [`ServerBuilder::new`]'s (no subprotocol, no
/// permessage-deflate, any origin) and change with the setters, or all at
/// once from a shared builder with [`with_settings`](Self::with_settings).
///
/// As `Option<WebSocketUpgrade>` it extracts `None` from a request that
/// asks for no WebSocket at all ([`is_upgrade_request`](crate::hyper::is_upgrade_request)),
/// so one handler can serve a page and a socket on the same path; a broken
/// WebSocket request is still refused.
///
/// # Rejections
///
/// An [`UpgradeError`], answered as its status says: 400 for a malformed
/// request, 426 over HTTP/1.1 without `Upgrade: websocket` or with a
/// `Sec-WebSocket-Version` other than 13, 501 for an extended CONNECT of
/// another protocol, 500 when the connection cannot be upgraded (served
/// without upgrades).
pub struct WebSocketUpgrade {
    checked: Checked,
    server: ServerBuilder,
    /// The answer set with [`accept`](Self::accept), instead of the one
    /// [`protocols`](Self::protocols) gives.
    accept: Option<Accept>,
    on_failed_upgrade: Option<OnFailed>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", self.checked.request())
            .field("server", &self.server)
            .field("accept", &self.accept)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// The request: method, target, headers, the subprotocols offered.
    pub fn request(&self) -> &UpgradeRequest {
        self.checked.request()
    }

    /// The subprotocol [`on_upgrade`](Self::on_upgrade) will agree to with
    /// the settings as they are, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        match &self.accept {
            Some(accept) => accept.protocol.as_deref(),
            None => self.server.select_protocol(self.request().protocols()),
        }
    }

    /// Takes every setting from `server` (limits, keepalive, subprotocols,
    /// permessage-deflate, allowed origins), replacing those set before:
    /// configure one [`ServerBuilder`] in the application's state and use
    /// it in each handler. Setters called afterwards change this copy only.
    #[must_use]
    pub fn with_settings(mut self, server: &ServerBuilder) -> Self {
        self.server = server.clone();
        self
    }

    /// The subprotocols to agree to: the first one the client offers, in
    /// its order of preference, that is in `protocols`
    /// ([`ServerBuilder::protocols`]). Default: none.
    #[must_use]
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.server = self.server.protocols(protocols);
        self
    }

    /// Answers with `accept` (a subprotocol the client offered, extra
    /// response headers such as `Set-Cookie`) instead of the choice of
    /// [`protocols`](Self::protocols). Read the offers from
    /// [`request`](Self::request).
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::response::Response;
    /// use sockeye::Accept;
    /// use sockeye::axum::WebSocketUpgrade;
    ///
    /// async fn handler(ws: WebSocketUpgrade) -> Response {
    ///     let v2 = ws.request().protocols().iter().any(|p| p.starts_with("v2."));
    ///     let accept = match ws.request().select_protocol(&["v2.json", "v2.cbor"]) {
    ///         Some(protocol) if v2 => Accept::new().protocol(protocol),
    ///         _ => Accept::new(),
    ///     };
    ///     ws.accept(accept).on_upgrade(|_socket| async {})
    /// }
    /// let app: axum::Router = axum::Router::new().route("/", axum::routing::any(handler));
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn accept(mut self, accept: Accept) -> Self {
        self.accept = Some(accept);
        self
    }

    /// Accepts only requests whose `Origin` is one of `origins`; others are
    /// answered 403 by [`on_upgrade`](Self::on_upgrade) (R-SH-06). Default:
    /// any ([`ServerBuilder::allowed_origins`]).
    #[must_use]
    pub fn allowed_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.server = self.server.allowed_origins(origins);
        self
    }

    /// Accepts permessage-deflate from clients that offer it, with these
    /// settings, or never with `None`. Default: `None`
    /// ([`ServerBuilder::deflate`]).
    #[must_use]
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.server = self.server.deflate(deflate);
        self
    }

    /// Replaces all connection settings ([`ServerBuilder::config`]).
    #[must_use]
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.server = self.server.config(config);
        self
    }

    /// The largest message accepted. Default: 16 MiB
    /// ([`ServerBuilder::max_message_size`]).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.server = self.server.max_message_size(bytes);
        self
    }

    /// The largest frame accepted. Default: 16 MiB
    /// ([`ServerBuilder::max_frame_size`]).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.server = self.server.max_frame_size(bytes);
        self
    }

    /// Queued output above which sending waits. Default: 128 KiB
    /// ([`ServerBuilder::write_buffer_size`]).
    #[must_use]
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.server = self.server.write_buffer_size(bytes);
        self
    }

    /// How long the closing handshake may take. Default: 10 s
    /// ([`ServerBuilder::close_timeout`]).
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.server = self.server.close_timeout(timeout);
        self
    }

    /// Keepalive: a Ping after `interval` with nothing received, and the
    /// connection closed with 1011 if nothing arrives within `timeout` of
    /// it; `None` turns it off. Default: every 20 s, 20 s to answer
    /// ([`ServerBuilder::keepalive`]).
    #[must_use]
    pub fn keepalive(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.server = self.server.keepalive(interval, timeout);
        self
    }

    /// Closes the connection with 1001 after `timeout` without a message
    /// either way; `None`: never. Default: `None`
    /// ([`ServerBuilder::idle_timeout`]).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.server = self.server.idle_timeout(timeout);
        self
    }

    /// Runs `callback` with the error when the upgrade fails after the
    /// response went out (the client went away first). Default: the error
    /// is logged at debug level.
    #[must_use]
    pub fn on_failed_upgrade<C>(mut self, callback: C) -> Self
    where
        C: FnOnce(Error) + Send + 'static,
    {
        self.on_failed_upgrade = Some(Box::new(callback));
        self
    }

    /// Accepts the request: returns the response for the handler to
    /// return (`101` over HTTP/1.1, `200` over HTTP/2), and runs `callback`
    /// on the [`WebSocket`] in a new task once axum has sent it.
    ///
    /// The response refuses instead with 403 for an origin not allowed
    /// ([`allowed_origins`](Self::allowed_origins)), or 500 when
    /// [`accept`](Self::accept) names a subprotocol the client did not offer
    /// (R-SH-08); the callback then never runs.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let WebSocketUpgrade {
            checked,
            server,
            accept,
            on_failed_upgrade,
        } = self;
        let accept = accept.unwrap_or_else(|| server.default_accept(checked.request().protocols()));
        let answer = checked
            .check_origin(&server)
            .and_then(|()| checked.accept(&server, accept));
        let (response, upgrade) = match answer {
            Ok(accepted) => accepted,
            Err(refused) => return refused.into_response(),
        };
        tokio::spawn(async move {
            match upgrade.await {
                Ok(socket) => callback(socket).await,
                Err(e) => {
                    if let Some(on_failed) = on_failed_upgrade {
                        on_failed(e);
                    } else {
                        tracing::debug!(error = %e, "websocket upgrade failed");
                    }
                }
            }
        });
        response.map(Body::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, UpgradeError> {
        let on_upgrade = parts.extensions.remove::<OnUpgrade>();
        let checked = Checked::new(parts.clone(), on_upgrade)?;
        Ok(WebSocketUpgrade {
            checked,
            server: ServerBuilder::new(),
            accept: None,
            on_failed_upgrade: None,
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, UpgradeError> {
        if !asks_for_websocket(
            &parts.method,
            parts.version,
            &parts.headers,
            &parts.extensions,
        ) {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

impl IntoResponse for UpgradeError {
    fn into_response(self) -> Response {
        UpgradeError::into_response(self)
    }
}
