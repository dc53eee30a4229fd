//! A socket as `fetchSockets()` describes it to another server, with
//! Node's handshake shape (notes §3b: "Responses": `REMOTE_FETCH`).

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderName, HeaderValue};
use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{Room, SocketInfo};
use sockeye_io::engine::Handshake;

use crate::date::{from_millis, js_date_string, millis};
use crate::error::{Result, WireError};
use crate::fields;

/// Headers of which Node keeps only the first when a request repeats them
/// (`IncomingMessage.headers`).
const SINGLE_HEADERS: [&str; 18] = [
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

/// `socket.handshake` as Node's `buildHandshake` makes it and the adapter
/// sends it (its `sessionStore` left out).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeHandshake {
    /// The request headers as Node's `IncomingMessage.headers`: an object
    /// of lower-case names; repeated headers joined with `, ` (`cookie`
    /// with `; `, `set-cookie` an array, some kept once).
    pub headers: Value,
    /// When the session opened, as `String(new Date())`.
    pub time: String,
    /// The peer's IP address, when known.
    pub address: Option<String>,
    /// Whether the request carried an `Origin` header.
    pub xdomain: bool,
    /// Whether the connection was TLS.
    pub secure: bool,
    /// When the session opened, in ms since the epoch.
    pub issued: u64,
    /// The request target, path and query.
    pub url: String,
    /// The query parameters as an object, the last value of a repeated
    /// one winning (`Object.fromEntries` of the URL's search params).
    pub query: Value,
    /// The CONNECT packet's auth payload (`{}` when there was none).
    pub auth: Value,
}

impl NodeHandshake {
    /// Node's shape of a sockeye-io handshake and the socket's auth.
    ///
    /// `secure` says whether the connection was TLS: sockeye-io's
    /// [`Handshake`] does not record it.
    pub fn new(handshake: &Handshake, auth: &Value, secure: bool) -> Self {
        let mut headers: Vec<(String, Value)> = Vec::new();
        for (name, bytes) in handshake.headers() {
            // Node reads header bytes as Latin-1.
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            match headers.iter_mut().find(|(n, _)| n == name) {
                None if name == "set-cookie" => {
                    headers.push((name.to_owned(), Value::Array(vec![Value::from(text)])));
                }
                None => headers.push((name.to_owned(), Value::from(text))),
                Some((_, Value::Array(items))) => items.push(Value::from(text)),
                Some((_, _)) if SINGLE_HEADERS.contains(&name) => {}
                Some((_, Value::String(old))) => {
                    let sep = if name == "cookie" { "; " } else { ", " };
                    let joined = format!("{}{sep}{text}", old.as_str().unwrap_or_default());
                    *old = joined.into();
                }
                Some(_) => {}
            }
        }
        let mut query: Vec<(String, Value)> = Vec::new();
        for (key, value) in handshake.query() {
            match query.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = Value::from(&*value),
                None => query.push((key.into_owned(), Value::from(&*value))),
            }
        }
        let to_map = |pairs: Vec<(String, Value)>| {
            Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect(),
            )
        };
        Self {
            headers: to_map(headers),
            time: js_date_string(handshake.issued),
            address: handshake.remote_addr.map(|a| a.ip().to_string()),
            xdomain: handshake.header("origin").is_some(),
            secure,
            issued: millis(handshake.issued),
            url: handshake.target().to_owned(),
            query: to_map(query),
            auth: if auth.is_nil() {
                Value::Map(Vec::new())
            } else {
                auth.clone()
            },
        }
    }

    /// The handshake as a value, keys in `buildHandshake`'s order.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![
            ("headers", self.headers.clone()),
            ("time", Value::from(self.time.as_str())),
        ];
        if let Some(address) = &self.address {
            entries.push(("address", Value::from(address.as_str())));
        }
        entries.extend([
            ("xdomain", Value::Boolean(self.xdomain)),
            ("secure", Value::Boolean(self.secure)),
            ("issued", Value::from(self.issued)),
            ("url", Value::from(self.url.as_str())),
            ("query", self.query.clone()),
            ("auth", self.auth.clone()),
        ]);
        fields::object(entries)
    }

    /// Reads a handshake; a missing field takes its empty value, as a
    /// handshake from an older or foreign server may lack some.
    ///
    /// # Errors
    ///
    /// [`WireError`] when the value does not have the shape read.
    pub fn read(value: &Value) -> Result<Self> {
        let entries = fields::map(value, "handshake")?;
        let text = |key| {
            fields::get(entries, key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let object = |key| {
            fields::get(entries, key)
                .filter(|v| v.is_map())
                .cloned()
                .unwrap_or(Value::Map(Vec::new()))
        };
        let flag = |key| {
            fields::get(entries, key)
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        Ok(Self {
            headers: object("headers"),
            time: text("time"),
            address: fields::get(entries, "address")
                .and_then(Value::as_str)
                .map(str::to_owned),
            xdomain: flag("xdomain"),
            secure: flag("secure"),
            issued: fields::get(entries, "issued")
                .and_then(fields::as_uint)
                .unwrap_or(0),
            url: text("url"),
            query: object("query"),
            auth: fields::get(entries, "auth")
                .cloned()
                .unwrap_or(Value::Map(Vec::new())),
        })
    }

    /// sockeye-io's handshake for this one: target, headers (a header
    /// that is not valid HTTP is left out), the address with port 0 (Node
    /// sends none), the `EIO` version of the query, and the issue time.
    pub fn to_handshake(&self) -> Handshake {
        let mut headers = HeaderMap::new();
        if let Value::Map(entries) = &self.headers {
            for (name, value) in entries {
                let Some(Ok(name)) = name.as_str().map(|s| HeaderName::from_bytes(s.as_bytes()))
                else {
                    continue;
                };
                let values = match value {
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                    other => other.as_str().into_iter().collect::<Vec<_>>(),
                };
                for v in values {
                    if let Ok(v) = HeaderValue::from_str(v) {
                        headers.append(name.clone(), v);
                    }
                }
            }
        }
        let remote_addr = self
            .address
            .as_deref()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 0));
        let protocol = match &self.query {
            Value::Map(entries) => fields::get(entries, "EIO")
                .and_then(Value::as_str)
                .and_then(|v| v.parse().ok())
                .unwrap_or(4),
            _ => 4,
        };
        let mut handshake = Handshake::new(&self.url, &headers, remote_addr, protocol);
        handshake.issued = from_millis(self.issued);
        handshake
    }
}

/// One socket in a `REMOTE_FETCH` response: `{id, handshake, rooms,
/// data}`.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSocket {
    /// The socket's id.
    pub id: String,
    /// Its handshake, in Node's shape.
    pub handshake: NodeHandshake,
    /// The rooms it is in, its own included.
    pub rooms: Vec<Room>,
    /// `socket.data` (Node's default is `{}`).
    pub data: Value,
}

impl RemoteSocket {
    /// The description of a sockeye-io socket. sockeye-io's
    /// [`SocketInfo`] carries neither `socket.data` nor whether the
    /// connection was TLS, so both are given here.
    pub fn new(info: &SocketInfo, data: Value, secure: bool) -> Self {
        Self {
            id: info.id.as_str().to_owned(),
            handshake: NodeHandshake::new(&info.handshake, &info.auth, secure),
            rooms: info.rooms.clone(),
            data,
        }
    }

    /// sockeye-io's description of this socket, in namespace `nsp`.
    pub fn to_info(&self, nsp: &str) -> SocketInfo {
        SocketInfo {
            id: Sid::from(self.id.as_str()),
            nsp: nsp.into(),
            rooms: self.rooms.clone(),
            handshake: self.handshake.to_handshake(),
            auth: self.handshake.auth.clone(),
            data: self.data.clone(),
        }
    }

    /// The socket as a `fetchSockets()` answer carries it.
    pub fn to_value(&self) -> Value {
        fields::object(vec![
            ("id", Value::from(self.id.as_str())),
            ("handshake", self.handshake.to_value()),
            ("rooms", fields::room_array(&self.rooms)),
            ("data", self.data.clone()),
        ])
    }

    /// Reads a socket out of a `fetchSockets()` answer.
    ///
    /// # Errors
    ///
    /// [`WireError`] when it is not a socket's shape.
    pub fn read(value: &Value) -> Result<Self> {
        let entries = fields::map(value, "socket")?;
        Ok(Self {
            id: fields::string(entries, "id")?,
            handshake: NodeHandshake::read(
                fields::get(entries, "handshake").ok_or(WireError::Shape("handshake"))?,
            )?,
            rooms: fields::rooms(entries, "rooms")?,
            data: fields::get(entries, "data").cloned().unwrap_or(Value::Nil),
        })
    }
}
