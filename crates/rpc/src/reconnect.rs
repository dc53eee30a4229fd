//! [`Client`]: a client connection that comes back. When the connection
//! is lost, calls waiting for answers fail at once with
//! [`CallError::Disconnected`]; the client connects again with backoff,
//! runs its `on_connect` step, and subscribes its subscriptions again.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sockeye::ClientBuilder;
use tokio::sync::{mpsc, watch};

use crate::call_error::{CallError, SubscriptionError};
use crate::config::Config;
use crate::methods::Methods;
use crate::open::{open, spawn};
use crate::peer::Peer;
use crate::subscription::Subscription;

/// How long to wait between attempts to connect again: `initial`, then
/// twice as long each time up to `max`, each wait shortened by a random
/// part of up to a quarter so that many clients of one server that went
/// away do not all come back at the same instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The first wait. Default 100 ms: a server restarting is usually
    /// back within a few hundred.
    pub initial: Duration,
    /// The longest wait. Default 5 s: a client notices within that much
    /// that its server is back.
    pub max: Duration,
    /// Attempts in a row before the client gives up (its calls then fail
    /// with [`CallError::Disconnected`] for good); `None` (the default)
    /// never gives up.
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (1 for the first retry).
    fn wait(&self, attempt: u32) -> Duration {
        let full = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max);
        full.mul_f64(1.0 - rand::random::<f64>() / 4.0)
    }
}

type MakeBuilder = Arc<dyn Fn() -> ClientBuilder + Send + Sync>;
type OnConnect = Arc<dyn Fn(Peer) -> BoxFuture<'static, Result<(), CallError>> + Send + Sync>;

/// How a [`Client`] connects; [`connect`](Self::connect) makes it.
pub struct ClientOptions<C> {
    make: MakeBuilder,
    methods: Methods<C>,
    context: C,
    config: Config,
    backoff: Backoff,
    on_connect: Option<OnConnect>,
}

impl<C> std::fmt::Debug for ClientOptions<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("methods", &self.methods)
            .field("config", &self.config)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl ClientOptions<()> {
    /// A client of the server at `url`, serving nothing.
    pub fn new(url: &str) -> Self {
        let url = url.to_owned();
        Self::with_builder(move || ClientBuilder::new(url.clone()))
    }

    /// A client whose every connection is opened by a builder `make`
    /// gives (headers, subprotocols, TLS, proxies: all of
    /// [`ClientBuilder`]).
    pub fn with_builder(make: impl Fn() -> ClientBuilder + Send + Sync + 'static) -> Self {
        Self {
            make: Arc::new(make),
            methods: Methods::new(),
            context: (),
            config: Config::default(),
            backoff: Backoff::default(),
            on_connect: None,
        }
    }
}

impl<C: Clone + Send + Sync + 'static> ClientOptions<C> {
    /// Serves `methods` (the calls the server makes back) on every
    /// connection, each with a clone of `context`.
    pub fn serve<D>(self, methods: Methods<D>, context: D) -> ClientOptions<D> {
        ClientOptions {
            make: self.make,
            methods,
            context,
            config: self.config,
            backoff: self.backoff,
            on_connect: self.on_connect,
        }
    }

    /// The limits of every connection.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The waits between attempts to connect again.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// A step run on every connection before it is used (logging in,
    /// for one): calls made through the client wait for it. When it
    /// fails, the connection is closed and made again.
    #[must_use]
    pub fn on_connect<F, Fut>(mut self, step: F) -> Self
    where
        F: Fn(Peer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), CallError>> + Send + 'static,
    {
        self.on_connect = Some(Arc::new(move |peer| Box::pin(step(peer))));
        self
    }

    /// Connects, and keeps connecting again whenever the connection is
    /// lost, until the client is closed or dropped.
    ///
    /// # Errors
    ///
    /// The WebSocket's, when the first connection cannot be opened (a
    /// wrong URL or a server that is not there is better said at once
    /// than retried in silence); [`sockeye::Error::Io`] when its
    /// `on_connect` step fails.
    pub async fn connect(self) -> sockeye::Result<Client> {
        let options = Arc::new(self);
        let peer = options
            .open()
            .await?
            .map_err(|e| sockeye::Error::Io(std::io::Error::other(e)))?;
        let (current, _) = watch::channel(Some(peer.clone()));
        let shared = Arc::new(ClientShared {
            current,
            closed: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            call_timeout: options.config.call_timeout,
            subscription_buffer: options.config.subscription_buffer.max(1),
        });
        tokio::spawn(supervise(
            Arc::clone(&options),
            Arc::downgrade(&shared),
            peer,
        ));
        Ok(Client { shared })
    }

    /// One connection, with its `on_connect` step run: the outer error
    /// is the WebSocket's, the inner one the step's.
    async fn open(&self) -> sockeye::Result<Result<Peer, CallError>> {
        let ws = open((self.make)(), &self.config).await?;
        let peer = spawn(
            ws,
            self.methods.clone(),
            self.context.clone(),
            self.config.clone(),
        );
        if let Some(step) = &self.on_connect {
            if let Err(error) = step(peer.clone()).await {
                let _ = peer.close(sockeye::CloseCode::NORMAL, "").await;
                return Ok(Err(error));
            }
        }
        Ok(Ok(peer))
    }
}

/// What the client's handles and its supervising task share.
#[derive(Debug)]
struct ClientShared {
    /// The connection in use; `None` while connecting again.
    current: watch::Sender<Option<Peer>>,
    closed: AtomicBool,
    reconnects: AtomicU64,
    call_timeout: Option<Duration>,
    subscription_buffer: usize,
}

/// Watches the connection and makes it again when it is lost, while the
/// client lives (it holds the client's state weakly: dropping the last
/// [`Client`] closes the connection, which ends this).
async fn supervise<C: Clone + Send + Sync + 'static>(
    options: Arc<ClientOptions<C>>,
    client: Weak<ClientShared>,
    mut peer: Peer,
) {
    loop {
        peer.closed().await;
        let mut attempt = 0u32;
        peer = loop {
            let Some(shared) = client.upgrade() else {
                return;
            };
            shared.current.send_replace(None);
            if shared.closed.load(Ordering::Acquire) {
                return;
            }
            attempt += 1;
            if options
                .backoff
                .max_attempts
                .is_some_and(|max| attempt > max)
            {
                shared.closed.store(true, Ordering::Release);
                shared.current.send_replace(None);
                return;
            }
            drop(shared);
            tokio::time::sleep(options.backoff.wait(attempt)).await;
            match options.open().await {
                Ok(Ok(peer)) => break peer,
                Ok(Err(error)) => tracing::debug!(%error, "the on_connect step failed"),
                Err(error) => tracing::debug!(%error, "connecting again failed"),
            }
        };
        let shared = client
            .upgrade()
            .filter(|shared| !shared.closed.load(Ordering::Acquire));
        let Some(shared) = shared else {
            let _ = peer.close(sockeye::CloseCode::NORMAL, "").await;
            return;
        };
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        shared.current.send_replace(Some(peer.clone()));
    }
}

/// A client that connects again when its connection is lost. Cheap to
/// clone; dropping the last clone closes it.
///
/// Calls made while it is connecting again wait for the new connection,
/// within the call's timeout; calls that were waiting for answers when
/// the connection was lost fail at once with
/// [`CallError::Disconnected`] (whether the peer acted on them is not
/// known, so they are not sent again). Subscriptions made through it
/// are made again on every new connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sockeye_rpc::ClientOptions;
///
/// let client = ClientOptions::new("ws://127.0.0.1:8080/rpc").connect().await?;
/// let sum: i64 = client.call("add", &(2, 3)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    shared: Arc<ClientShared>,
}

impl Client {
    /// The connection in use, waiting for one while connecting again
    /// (at most `wait`; `None`: as long as it takes).
    ///
    /// # Errors
    ///
    /// [`CallError::Timeout`] when none came in time;
    /// [`CallError::Disconnected`] once the client is closed or gave up.
    pub async fn peer(&self, wait: Option<Duration>) -> Result<Peer, CallError> {
        wait_for_peer(&Arc::downgrade(&self.shared), wait).await
    }

    /// [`Peer::call`] on the connection in use.
    ///
    /// # Errors
    ///
    /// As [`Peer::call`], and [`Client::peer`]'s.
    pub async fn call<R: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, CallError> {
        self.peer(self.shared.call_timeout)
            .await?
            .call(method, params)
            .await
    }

    /// [`Peer::notify`] on the connection in use.
    ///
    /// # Errors
    ///
    /// As [`Peer::notify`], and [`Client::peer`]'s.
    pub async fn notify<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<(), CallError> {
        self.peer(self.shared.call_timeout)
            .await?
            .notify(method, params)
            .await
    }

    /// [`Peer::subscribe`], made again on every new connection: the
    /// stream then yields [`SubscriptionError::Resubscribed`] (items sent
    /// in between were missed) and goes on.
    ///
    /// # Errors
    ///
    /// As [`Peer::subscribe`], for the first subscription.
    pub async fn subscribe<T: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        subscribe: &str,
        params: &P,
        notification: &str,
        unsubscribe: &str,
    ) -> Result<ClientSubscription<T>, CallError> {
        let params = serde_json::value::to_raw_value(params).map_err(CallError::Encode)?;
        let request = Resubscribe {
            client: Arc::downgrade(&self.shared),
            subscribe: subscribe.to_owned(),
            params,
            notification: notification.to_owned(),
            unsubscribe: unsubscribe.to_owned(),
        };
        let first = request.once().await?;
        let (items, receiver) = mpsc::channel(self.shared.subscription_buffer);
        tokio::spawn(request.forward(first, items));
        Ok(ClientSubscription {
            items: receiver,
            item: std::marker::PhantomData,
        })
    }

    /// How many times the connection was made again.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// Closes the connection in use and stops connecting again; calls
    /// fail with [`CallError::Disconnected`] from then on.
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        let peer = self.shared.current.send_replace(None);
        if let Some(peer) = peer {
            peer.close(sockeye::CloseCode::NORMAL, "").await;
        }
    }
}

impl Drop for ClientShared {
    fn drop(&mut self) {
        // Nothing can wait here: a task closes it. Outside a runtime (the
        // runtime itself shutting down) there is no task to ask, and the
        // connection's own task is gone with the runtime anyway.
        if let (Some(peer), Ok(runtime)) = (
            self.current.send_replace(None),
            tokio::runtime::Handle::try_current(),
        ) {
            runtime.spawn(async move { peer.close(sockeye::CloseCode::NORMAL, "").await });
        }
    }
}

/// The connection in use by the client `client` names, waiting for one
/// while it connects again (at most `wait`), without keeping the client
/// alive meanwhile: once its last handle is gone, this fails.
async fn wait_for_peer(
    client: &Weak<ClientShared>,
    wait: Option<Duration>,
) -> Result<Peer, CallError> {
    let mut current = client
        .upgrade()
        .ok_or(CallError::Disconnected)?
        .current
        .subscribe();
    let connected = async {
        loop {
            if let Some(peer) = current.borrow_and_update().clone() {
                if !peer.is_closed() {
                    return Ok(peer);
                }
            }
            let closed = client
                .upgrade()
                .is_none_or(|shared| shared.closed.load(Ordering::Acquire));
            if closed || current.changed().await.is_err() {
                return Err(CallError::Disconnected);
            }
        }
    };
    match wait {
        Some(limit) => tokio::time::timeout(limit, connected)
            .await
            .map_err(|_| CallError::Timeout(limit))?,
        None => connected.await,
    }
}

/// What a subscription of a [`Client`] is made of, to make it again.
struct Resubscribe {
    client: Weak<ClientShared>,
    subscribe: String,
    params: Box<RawValue>,
    notification: String,
    unsubscribe: String,
}

impl Resubscribe {
    async fn once(&self) -> Result<Subscription<serde_json::Value>, CallError> {
        let timeout = self
            .client
            .upgrade()
            .ok_or(CallError::Disconnected)?
            .call_timeout;
        let peer = wait_for_peer(&self.client, timeout).await?;
        peer.subscribe(
            &self.subscribe,
            &self.params,
            &self.notification,
            &self.unsubscribe,
        )
        .await
    }

    /// Passes the items on, subscribing again after each reconnection,
    /// until the application drops its stream or the subscription ends
    /// for good.
    async fn forward(
        self,
        mut subscription: Subscription<serde_json::Value>,
        items: mpsc::Sender<Result<Box<RawValue>, SubscriptionError>>,
    ) {
        loop {
            let ended = tokio::select! {
                () = items.closed() => return,
                ended = pass_on(&mut subscription, &items) => ended,
            };
            match ended {
                Some(SubscriptionError::Disconnected) => {}
                Some(error) => {
                    let _ = items.send(Err(error)).await;
                    return;
                }
                None => return,
            }
            drop(subscription);
            subscription = loop {
                let again = tokio::select! {
                    () = items.closed() => return,
                    again = self.once() => again,
                };
                match again {
                    Ok(subscription) => break subscription,
                    Err(CallError::Disconnected | CallError::Timeout(_)) if self.client_lives() => {
                    }
                    Err(_) => {
                        let _ = items.send(Err(SubscriptionError::Disconnected)).await;
                        return;
                    }
                }
            };
            if items
                .send(Err(SubscriptionError::Resubscribed))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

impl Resubscribe {
    /// Whether the client is still open.
    fn client_lives(&self) -> bool {
        self.client
            .upgrade()
            .is_some_and(|shared| !shared.closed.load(Ordering::Acquire))
    }
}

/// Passes items on until the subscription ends; its last error, or
/// `None` when the application went away.
async fn pass_on(
    subscription: &mut Subscription<serde_json::Value>,
    items: &mpsc::Sender<Result<Box<RawValue>, SubscriptionError>>,
) -> Option<SubscriptionError> {
    loop {
        match subscription.next_raw().await {
            Some(Ok(item)) => items.send(Ok(item)).await.ok()?,
            Some(Err(error)) => return Some(error),
            None => return Some(SubscriptionError::Disconnected),
        }
    }
}

/// The items of a [`Client`]'s subscription, across reconnections.
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct ClientSubscription<T> {
    items: mpsc::Receiver<Result<Box<RawValue>, SubscriptionError>>,
    item: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Stream for ClientSubscription<T> {
    type Item = Result<T, SubscriptionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().items.poll_recv(cx).map(|item| {
            item.map(|item| {
                item.and_then(|raw| {
                    serde_json::from_str(raw.get()).map_err(SubscriptionError::Decode)
                })
            })
        })
    }
}
