//! The handlers a user registers, behind object-safe traits: a
//! namespace's connection handler and middleware, and the typed event
//! handlers a socket keeps.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::args::{Args, IntoArgs};
use crate::error::ConnectRefusal;
use crate::socket::{BoxFuture, EventHandler, Socket};
use crate::task::run;

/// A handler taking the event's first argument as a `T`.
pub(crate) struct FirstArg<F, T>(pub(crate) F, pub(crate) PhantomData<fn(T)>);

impl<F, T, Fut> EventHandler for FirstArg<F, T>
where
    F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoArgs,
{
    fn call(&self, socket: Socket, mut args: Args, ack: Option<u64>) {
        let data = match args.take::<T>(0) {
            Ok(data) => data,
            Err(e) => {
                tracing::debug!(socket = %socket.id(), error = %e, "event dropped: its argument does not fit");
                return;
            }
        };
        let future = (self.0)(socket.clone(), data);
        run(async move { acknowledge(&socket, ack, future.await) });
    }
}

/// A handler taking all of the event's arguments.
pub(crate) struct AllArgs<F>(pub(crate) F);

impl<F, Fut> EventHandler for AllArgs<F>
where
    F: Fn(Socket, Args) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoArgs,
{
    fn call(&self, socket: Socket, args: Args, ack: Option<u64>) {
        let future = (self.0)(socket.clone(), args);
        run(async move { acknowledge(&socket, ack, future.await) });
    }
}

/// Sends a handler's result as the acknowledgement `ack`, if there is one.
fn acknowledge(socket: &Socket, ack: Option<u64>, result: impl IntoArgs) {
    let Some(id) = ack else { return };
    match result.into_args() {
        Ok(args) => {
            if let Err(e) = socket.send_ack(id, args) {
                tracing::debug!(socket = %socket.id(), error = %e, "acknowledgement not sent");
            }
        }
        Err(e) => {
            tracing::warn!(socket = %socket.id(), error = %e, "acknowledgement not serializable");
        }
    }
}

/// What a namespace runs for each new socket, once connected.
pub(crate) trait ConnectHandler: Send + Sync + 'static {
    fn call(&self, socket: Socket) -> BoxFuture<()>;
}

impl<F, Fut> ConnectHandler for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<()> {
        Box::pin(self(socket))
    }
}

/// A namespace's middleware: may refuse a socket before it connects.
pub(crate) trait Middleware: Send + Sync + 'static {
    fn call(&self, socket: Socket) -> BoxFuture<Result<(), ConnectRefusal>>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectRefusal>> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<Result<(), ConnectRefusal>> {
        Box::pin(self(socket))
    }
}

impl Socket {
    /// Handles the event `event` with `handler`, given the event's first
    /// argument as a `T` (a missing argument is `null`, so `Option<T>`
    /// and `()` accept it; an argument that does not fit `T` drops the
    /// event, logged at debug level). What the handler's future gives is
    /// the acknowledgement when the client asked for one (see
    /// [`IntoArgs`]).
    ///
    /// The handler runs in the task that read the packet until it first
    /// waits, so handlers that do not wait run in the order the events
    /// came; one that waits goes on in a task of its own.
    pub fn on<T, F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
        T: DeserializeOwned + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoArgs,
    {
        self.add_handler(event, Arc::new(FirstArg(handler, PhantomData)));
    }

    /// As [`on`](Self::on), given all of the event's arguments.
    pub fn on_args<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Socket, Args) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoArgs,
    {
        self.add_handler(event, Arc::new(AllArgs(handler)));
    }
}
