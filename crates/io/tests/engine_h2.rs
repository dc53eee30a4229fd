//! The engine over HTTP/2 (cleartext, prior knowledge) and inside axum:
//! polling over HTTP/2, the WebSocket transport over extended CONNECT
//! (RFC 8441), and the engine mounted beside other routes.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sockeye::Message;
use sockeye_io::engine::{Engine, EngineLayer};
use support::{EchoHandler, bounded, get, quiet_config, sid_of, start};
use tokio::net::{TcpListener, TcpStream};

/// Polling over HTTP/2: handshake, POST and GET on one h2c connection.
#[tokio::test]
async fn server_serves_polling_over_http2() {
    bounded(async {
        let server = start(quiet_config()).await;
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let (mut h2, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut call = async |method: Method, query: String, body: &'static [u8]| {
            let request = Request::builder()
                .method(method)
                .uri(format!("http://{}/engine.io/?{query}", server.addr))
                .body(Full::new(Bytes::from_static(body)))
                .unwrap();
            let response = h2.send_request(request).await.unwrap();
            assert_eq!(response.version(), Version::HTTP_2);
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status.as_u16(), String::from_utf8(body.to_vec()).unwrap())
        };
        let (status, open) = call(Method::GET, "EIO=4&transport=polling".into(), b"").await;
        assert_eq!(status, 200);
        let sid = sid_of(&open[1..]);
        let query = format!("EIO=4&transport=polling&sid={sid}");
        assert_eq!(
            call(Method::POST, query.clone(), b"4over h2").await,
            (200, "ok".into())
        );
        assert_eq!(
            call(Method::GET, query, b"").await,
            (200, "4over h2".into())
        );
    })
    .await;
}

/// WebSocket over HTTP/2 extended CONNECT: the session opens and echoes.
#[tokio::test]
async fn server_serves_websocket_over_http2_connect() {
    bounded(async {
        let server = start(quiet_config()).await;
        let (mut ws, response) =
            sockeye::ClientBuilder::new(server.ws_url("EIO=4&transport=websocket"))
                .http2(true)
                .connect()
                .await
                .unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        let Some(Ok(Message::Text(open))) = ws.next().await else {
            panic!("no open packet");
        };
        assert!(open.as_str().starts_with("0{"));
        ws.send(Message::text("4h2")).await.unwrap();
        let Some(Ok(Message::Text(echo))) = ws.next().await else {
            panic!("no echo");
        };
        assert_eq!(echo.as_str(), "4h2");
    })
    .await;
}

/// axum: the engine as a route service and as a layer, beside the app's
/// own routes, which keep working.
#[tokio::test]
async fn engine_mounts_in_axum_beside_other_routes() {
    bounded(async {
        let engine = Engine::new(quiet_config(), EchoHandler(Arc::default()));
        let app = axum::Router::new()
            .route("/hello", axum::routing::get(|| async { "hi" }))
            .layer(EngineLayer::new(engine.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(async move { axum::serve(listener, app).await });
        assert_eq!(get(addr, "/hello").await.text(), "hi");
        let open = get(addr, "/engine.io/?EIO=4&transport=polling").await;
        assert_eq!(open.status, 200);
        assert!(open.text().starts_with("0{"));
        assert_eq!(engine.session_count(), 1);
        serving.abort();

        let routed = axum::Router::new()
            .route("/hello", axum::routing::get(|| async { "hi" }))
            .route_service("/engine.io/", engine.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(async move { axum::serve(listener, routed).await });
        assert_eq!(get(addr, "/hello").await.text(), "hi");
        let mut ws = sockeye::connect(&format!("ws://{addr}/engine.io/?EIO=4&transport=websocket"))
            .await
            .unwrap();
        assert!(
            matches!(ws.next().await, Some(Ok(Message::Text(t))) if t.as_str().starts_with("0{"))
        );
        serving.abort();
    })
    .await;
}
