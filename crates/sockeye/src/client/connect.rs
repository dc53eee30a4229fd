//! Opening a client's transport: TCP to the server or a tunnel to it
//! through a proxy, then TLS for `wss://`.

use std::time::Duration;

use tokio::net::TcpStream;

use super::proxy::{Proxy, tunnel};
use super::transport::ClientStream;
use crate::error::{Error, Result, Timeout};
use crate::url::Target;

/// What opening a connection needs, settled by the builder beforehand.
pub(crate) struct Dial<'a> {
    /// The proxy to tunnel through, if any.
    pub(crate) proxy: Option<&'a Proxy>,
    /// The TLS settings for `wss://`; `None` for `ws://`.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The limit on the whole: resolving, TCP, the tunnel, TLS.
    pub(crate) timeout: Duration,
    /// The engine's limits, which bound a proxy's answer too.
    pub(crate) proto: &'a sockeye_proto::Config,
}

/// TCP to `target`'s host (or a tunnel to it through the proxy), and TLS
/// over it when `dial` has TLS settings, within the dial's time limit.
pub(crate) async fn open(target: &Target, dial: Dial<'_>) -> Result<ClientStream> {
    tokio::time::timeout(dial.timeout, async {
        let tcp = if let Some(proxy) = dial.proxy {
            tunnel(proxy, &target.host, target.port, dial.proto).await?
        } else {
            let tcp = TcpStream::connect(&target.address).await?;
            // Writes are batched by the connection; Nagle would only
            // add delay.
            tcp.set_nodelay(true)?;
            tcp
        };
        #[cfg(feature = "tls")]
        if let Some(config) = dial.tls {
            let tls = crate::tls::connect(config, &target.host, tcp).await?;
            return Ok(ClientStream::Tls(Box::new(tls)));
        }
        Ok::<_, Error>(ClientStream::Plain(tcp))
    })
    .await
    .map_err(|_| Error::Timeout(Timeout::Connect))?
}
