//! Round trips over a live connection: any id (numbers of any size or
//! fraction, any string) comes back exactly as it was sent, any params
//! come back as the echo method got them, and a call made through a
//! `Peer` with any params gets them back.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use sockeye::Message;
use sockeye_rpc::{Config, ErrorObject, Methods, Peer};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// One runtime and one echo server for every case.
fn fixture() -> &'static (Runtime, String, Peer) {
    static FIXTURE: OnceLock<(Runtime, String, Peer)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = Runtime::new().unwrap();
        let (url, client) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("ws://{}/", listener.local_addr().unwrap());
            let mut methods = Methods::<()>::new();
            methods.sync_method("echo", |_, params: Value| Ok::<_, ErrorObject>(params));
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    if let Ok(ws) = sockeye::accept(tcp).await {
                        sockeye_rpc::spawn(ws, methods.clone(), (), Config::default());
                    }
                }
            });
            let client = sockeye_rpc::connect(&url, Methods::new(), (), Config::default())
                .await
                .unwrap();
            (url, client)
        });
        (runtime, url, client)
    })
}

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{0,40}(\\.[0-9]{1,10})?([eE][+-]?[0-9]{1,3})?",
        Just("0".to_owned()),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn structured() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::vec(value(), 0..4).prop_map(Value::from),
        proptest::collection::btree_map(any::<String>(), value(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ids_come_back_exactly_as_sent(id in id_text(), params in structured()) {
        let (runtime, url, _) = fixture();
        let (reply, sent) = runtime.block_on(async {
            let mut ws = sockeye::connect(url).await.unwrap();
            let sent = format!(r#"{{"jsonrpc":"2.0","method":"echo","params":{params},"id":{id}}}"#);
            ws.send(Message::text(sent.clone())).await.unwrap();
            let reply = ws.recv().await.unwrap().unwrap();
            (reply.as_text().unwrap().to_owned(), sent)
        });
        let expected = format!(r#"{{"jsonrpc":"2.0","result":{params},"id":{id}}}"#);
        prop_assert_eq!(reply, expected, "sent {}", sent);
    }

    #[test]
    fn a_peer_gets_back_the_params_it_sent(params in structured()) {
        let (runtime, _, client) = fixture();
        let back: Value = runtime.block_on(client.call("echo", &params)).unwrap();
        prop_assert_eq!(back, params);
    }
}
