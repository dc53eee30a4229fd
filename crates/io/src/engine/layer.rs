//! [`EngineLayer`]: an [`Engine`] in front of another service, which gets
//! every request that is not on the engine's path (an axum app keeps its
//! routes).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Either;
use hyper::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::handler::EngineHandler;
use super::response::EngineBody;
use super::service::Engine;

/// A tower [`Layer`] that answers the engine's path with an [`Engine`]
/// and passes every other request to the service it wraps.
///
/// # Examples
///
/// ```no_run
/// # use std::sync::Arc;
/// # use sockeye_io::engine::{CloseReason, EngineSocket, Payload};
/// use sockeye_io::engine::{Engine, EngineConfig, EngineHandler, EngineLayer};
/// # struct Echo;
/// # impl EngineHandler for Echo {
/// #     type Data = ();
/// #     fn on_open(&self, _: &Arc<EngineSocket<()>>) {}
/// #     fn on_message(&self, s: &Arc<EngineSocket<()>>, p: Payload) { let _ = s.send(p); }
/// #     fn on_close(&self, _: &Arc<EngineSocket<()>>, _: CloseReason) {}
/// # }
///
/// let engine = Engine::new(EngineConfig::default(), Echo);
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "home" }))
///     .layer(EngineLayer::new(engine));
/// # let _: axum::Router = app;
/// ```
#[derive(Debug)]
pub struct EngineLayer<H: EngineHandler> {
    /// The engine put in front.
    engine: Engine<H>,
}

impl<H: EngineHandler> Clone for EngineLayer<H> {
    fn clone(&self) -> Self {
        EngineLayer {
            engine: self.engine.clone(),
        }
    }
}

impl<H: EngineHandler> EngineLayer<H> {
    /// A layer putting `engine` in front of the service it wraps.
    pub fn new(engine: Engine<H>) -> Self {
        EngineLayer { engine }
    }
}

impl<H: EngineHandler, S> Layer<S> for EngineLayer<H> {
    type Service = EngineService<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        EngineService {
            engine: self.engine.clone(),
            inner,
        }
    }
}

/// The service of an [`EngineLayer`]: the engine on its path, `S`
/// elsewhere. Answers carry either body ([`Either`]).
#[derive(Debug)]
pub struct EngineService<H: EngineHandler, S> {
    /// The engine.
    engine: Engine<H>,
    /// The wrapped service.
    inner: S,
}

impl<H: EngineHandler, S: Clone> Clone for EngineService<H, S> {
    fn clone(&self) -> Self {
        EngineService {
            engine: self.engine.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<H, S, B, ResBody> Service<Request<B>> for EngineService<H, S>
where
    H: EngineHandler,
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Either<EngineBody, ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if self.engine.serves_path(request.uri().path()) {
            let engine = self.engine.clone();
            return Box::pin(async move { Ok(engine.handle(request).await.map(Either::Left)) });
        }
        let inner = self.inner.call(request);
        Box::pin(async move { Ok(inner.await?.map(Either::Right)) })
    }
}
