//! The `service` attribute of sockeye-rpc: a trait of `async fn`s becomes
//! a method set that one side serves and a typed client that the other
//! side calls it with. Use it as `sockeye_rpc::service` (the `macros`
//! feature of sockeye-rpc, on by default).
//!
//! ```
//! use sockeye_rpc::{CallError, Cx, ErrorObject, Methods, Peer};
//!
//! /// Who is connected.
//! pub struct Session {
//!     pub user: String,
//! }
//!
//! /// Arithmetic, served by name.
//! #[sockeye_rpc::service(namespace = "calc", namespace_separator = ".")]
//! pub trait Calculator {
//!     /// Adds.
//!     async fn add(&self, a: i64, b: i64) -> Result<i64, ErrorObject>;
//!     /// Subtracts; served as `calc.sub`.
//!     #[rpc(name = "sub")]
//!     async fn subtract(&self, minuend: i64, subtrahend: i64) -> Result<i64, ErrorObject>;
//!     /// Divides; the client sends `{"dividend": .., "divisor": ..}`.
//!     #[rpc(named)]
//!     async fn divide(&self, dividend: f64, divisor: f64) -> Result<f64, ErrorObject>;
//!     /// Greets whoever is connected.
//!     async fn whoami(&self, cx: &Cx<Session>) -> Result<String, ErrorObject>;
//!     /// Takes a line; nothing is answered.
//!     #[rpc(notification)]
//!     async fn log(&self, line: String);
//! }
//!
//! struct Engine;
//!
//! impl Calculator for Engine {
//!     async fn add(&self, a: i64, b: i64) -> Result<i64, ErrorObject> {
//!         a.checked_add(b).ok_or_else(|| ErrorObject::new(1, "overflow"))
//!     }
//!     async fn subtract(&self, minuend: i64, subtrahend: i64) -> Result<i64, ErrorObject> {
//!         minuend.checked_sub(subtrahend).ok_or_else(|| ErrorObject::new(1, "overflow"))
//!     }
//!     async fn divide(&self, dividend: f64, divisor: f64) -> Result<f64, ErrorObject> {
//!         Ok(dividend / divisor)
//!     }
//!     async fn whoami(&self, cx: &Cx<Session>) -> Result<String, ErrorObject> {
//!         Ok(cx.context().user.clone())
//!     }
//!     async fn log(&self, line: String) {
//!         println!("{line}");
//!     }
//! }
//!
//! // The served side: give these to `sockeye_rpc::spawn` with a `Session`.
//! let methods: Methods<Session> = Engine.into_methods();
//! assert!(methods.contains("calc.add") && methods.contains("calc.sub"));
//!
//! // The calling side, on any `Peer`.
//! async fn use_it(peer: Peer) -> Result<(), CallError> {
//!     let calculator = CalculatorClient::new(peer);
//!     assert_eq!(calculator.add(2, 3).await?, 5);
//!     calculator.log("done".into()).await
//! }
//! ```
//!
//! # What it generates
//!
//! For `trait Calculator`:
//!
//! - **The trait**, with `Send + Sync + 'static` added to its supertraits
//!   and each `async fn` declared as a `fn` returning
//!   `impl Future<Output = ..> + Send`, so that its calls can run on any
//!   task. Implementations write `async fn` as usual (the compiler then
//!   checks that their futures are `Send`). A method may have a default
//!   body.
//! - **`Calculator::into_methods(self) -> Methods<C>`**, a provided
//!   method that registers every method under its name, all sharing
//!   `self` behind an `Arc`. `C` is the context type of the methods'
//!   `&Cx<C>` argument; when no method takes one, `into_methods` is
//!   generic over `C` and serves any context. Each method gets a private
//!   params struct deriving `Deserialize`, so params are taken both by
//!   position (`[1, 2]`) and by name (`{"a": 1, "b": 2}`); trailing
//!   `Option` params may be left out. Params that do not deserialize are
//!   answered with -32602 (Invalid params).
//! - **`CalculatorClient<P = Peer>`**, with the trait's visibility:
//!   `new(peer)` (or `From<Peer>`, `From<Client>`), `peer()`, and one
//!   `async fn` per method with the same params, returning
//!   `Result<T, CallError>` (notifications `Result<(), CallError>`,
//!   subscriptions `Result<P::Subscription<Item>, CallError>`). `P` is
//!   any `sockeye_rpc::Caller`: a `Peer` (one connection) or a `Client`
//!   (one that comes back when lost, and subscribes again). Params go by position
//!   unless the method is `#[rpc(named)]`; a method without params sends
//!   none.
//!
//! # The trait's shape
//!
//! - Every item is an `async fn` taking `&self` (not `self` or
//!   `&mut self`: calls run concurrently on one shared value).
//! - An optional `cx: &Cx<C>` right after `&self` gives the handler the
//!   connection's context and the peer (to call it back). Every method
//!   that takes one names the same `C`. The client leaves it out.
//! - The params follow, each a plain name and an owned type
//!   (`String`, not `&str`), without generics or `impl Trait`. The Rust
//!   name is the name on the wire (`r#type` is `type`), unless the param
//!   has `#[rpc(rename = "..")]`.
//! - A method returns `Result<T, E>` (any path ending in `Result` whose
//!   first argument is the result's type, so aliases work): `T` is
//!   serialized as the result, and `E` converts into
//!   `sockeye_rpc::ErrorObject` (`From`), which is what the peer gets.
//! - A notification (`#[rpc(notification)]`) returns nothing.
//! - A subscription (`#[rpc(subscription = .., unsubscribe = .., item = T)]`)
//!   returns nothing and takes a `PendingSubscription` first after
//!   `&self` and the `&Cx<C>`: see [Subscriptions](#subscriptions).
//!
//! Other shapes are compile errors at the place concerned.
//!
//! # Options
//!
//! On the trait, `#[service(..)]`:
//!
//! - `namespace = "calc"`: every name is prefixed with `calc` and the
//!   separator, as jsonrpsee does;
//! - `namespace_separator = "."`: the separator, `_` unless given.
//!
//! On a method, `#[rpc(..)]`:
//!
//! - `name = "math.sub"`: the name on the wire instead of the Rust
//!   name (the namespace still comes first). Names that start with
//!   `rpc.` are refused: JSON-RPC 2.0 reserves them;
//! - `named`: the client sends params by name (the served side takes
//!   both forms anyway);
//! - `notification`: a call that gets no answer;
//! - `subscription = "tick", unsubscribe = "unsubscribe_ticks", item = T`:
//!   a subscription whose items, of type `T`, come as `tick`
//!   notifications until `unsubscribe_ticks` (all three names are
//!   required, and namespaced like the method's).
//!
//! On a param, `#[rpc(rename = "..")]`: its name on the wire (in an
//! object of params), instead of the Rust name.
//!
//! # Subscriptions
//!
//! A subscription method registers with `Methods::subscription`: the
//! served side gets the `PendingSubscription`, accepts or rejects it,
//! and sends items into the sink it got, until the peer unsubscribes or
//! the connection ends, either of which drops the method's future. The
//! client's method subscribes and gives the `Subscription<T>` stream;
//! dropping it unsubscribes.
//!
//! ```
//! use sockeye_rpc::{PendingSubscription, Subscription, CallError};
//!
//! #[sockeye_rpc::service]
//! pub trait Clock {
//!     /// `count` ticks, numbered.
//!     #[rpc(subscription = "tick", unsubscribe = "unsubscribe_ticks", item = u64)]
//!     async fn subscribe_ticks(&self, pending: PendingSubscription, count: u64);
//! }
//!
//! struct Ticker;
//!
//! impl Clock for Ticker {
//!     async fn subscribe_ticks(&self, pending: PendingSubscription, count: u64) {
//!         let Ok(sink) = pending.accept().await else { return };
//!         for n in 0..count {
//!             if sink.send(&n).await.is_err() {
//!                 return;
//!             }
//!         }
//!     }
//! }
//!
//! let methods: sockeye_rpc::Methods = Ticker.into_methods();
//! assert!(methods.contains("subscribe_ticks") && methods.contains("unsubscribe_ticks"));
//!
//! async fn ticks(clock: &ClockClient) -> Result<Subscription<u64>, CallError> {
//!     clock.subscribe_ticks(10).await
//! }
//! ```
//!
//! # Coming from jsonrpsee
//!
//! The same ideas under other names, with differences where the two
//! stacks differ:
//!
//! | jsonrpsee | here |
//! |---|---|
//! | `#[rpc(server, client, namespace = "foo")]` | `#[service(namespace = "foo")]`: the trait is the server trait, and the client is always made |
//! | `FooServer`, `into_rpc() -> RpcModule<Self>` | `Foo` itself, `into_methods() -> Methods<C>` |
//! | `FooClient`, an extension trait of `WsClient` | `FooClient`, a struct around a `sockeye_rpc::Peer` (which either side of a connection has) or a reconnecting `sockeye_rpc::Client` |
//! | `#[method(name = "bar")]` | `#[rpc(name = "bar")]`, or nothing: the Rust name is the default |
//! | `param_kind = map` | `#[rpc(named)]`, for what the client sends; the served side takes both kinds |
//! | `Extensions`, connection ids | `cx: &Cx<C>`, with the connection's context and its peer |
//! | `#[subscription(name = "sub" => "notif", unsubscribe = "unsub", item = T)]` | `#[rpc(name = "sub", subscription = "notif", unsubscribe = "unsub", item = T)]` |
//! | a method without a return value is a notification | `#[rpc(notification)]`, said outright |
//! | `#[argument(rename = "x")]` on a param | `#[rpc(rename = "x")]` |
//!
//! # Module map
//!
//! - `options.rs`: reading `#[service(..)]` and `#[rpc(..)]`.
//! - `model.rs`: reading the trait and refusing what is not taken.
//! - `server.rs`: the trait as emitted, and `into_methods`.
//! - `client.rs`: the client struct.

use proc_macro::TokenStream;
use syn::ItemTrait;
use syn::parse::Parser;

mod client;
mod model;
mod options;
mod server;

use model::Service;
use options::ServiceOptions;

/// Turns a trait of `async fn`s into a served method set
/// (`Trait::into_methods`) and a typed client (`TraitClient`); see the
/// [crate docs](crate) for the shapes it takes and what it generates.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let mut options = ServiceOptions::default();
    syn::meta::parser(|meta| options.parse(&meta)).parse2(args)?;
    let item: ItemTrait = syn::parse2(item)?;
    let service = Service::read(item, &options)?;
    let served = server::expand(&service);
    let client = client::expand(&service);
    Ok(quote::quote! {
        #served
        #client
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use super::expand;

    /// Each error of expanding `source` with `args`: its message and the
    /// source text where it points (up to the end of that line).
    fn errors(args: &str, source: &str) -> Vec<(String, String)> {
        let args = TokenStream::from_str(args).unwrap();
        let item = TokenStream::from_str(source).unwrap();
        let error = expand(args, item).expect_err("expanded without an error");
        let lines: Vec<&str> = source.lines().collect();
        error
            .into_iter()
            .map(|e| {
                let start = e.span().start();
                let line = lines[start.line - 1];
                let at: String = line.chars().skip(start.column).collect();
                (e.to_string(), at)
            })
            .collect()
    }

    /// The one error of `source`: where it points starts with `at`, and
    /// its message holds `says`.
    #[track_caller]
    fn refused(source: &str, at: &str, says: &str) {
        let found = errors("", source);
        assert_eq!(found.len(), 1, "{found:?}");
        let (message, text) = &found[0];
        assert!(text.starts_with(at), "points at {text:?}, not {at:?}");
        assert!(message.contains(says), "{message:?} does not say {says:?}");
    }

    #[test]
    fn a_valid_trait_gives_the_trait_and_the_client() {
        let args = TokenStream::from_str(r#"namespace = "calc""#).unwrap();
        let item = TokenStream::from_str(
            "pub trait Calculator {
                async fn add(&self, cx: &Cx<S>, a: i64, b: i64) -> Result<i64, ErrorObject>;
                #[rpc(notification, named)]
                async fn log(&self, #[rpc(rename = \"text\")] line: String);
            }",
        )
        .unwrap();
        let file: syn::File = syn::parse2(expand(args, item).unwrap()).unwrap();
        let names: Vec<String> = file
            .items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Trait(t) => Some(format!("trait {}", t.ident)),
                syn::Item::Struct(s) => Some(format!("struct {}", s.ident)),
                _ => None,
            })
            .collect();
        assert_eq!(
            names,
            [
                "trait Calculator",
                "struct SockeyeRpcParamsCalculatorAdd",
                "struct SockeyeRpcParamsCalculatorLog",
                "struct CalculatorClient"
            ]
        );
        let text = file
            .items
            .iter()
            .map(|item| quote::quote!(#item).to_string())
            .collect::<String>();
        assert!(text.contains("\"calc_add\"") && text.contains("\"calc_log\""));
        assert!(
            !text.contains("# [rpc"),
            "the #[rpc] attributes are taken out"
        );
    }

    #[test]
    fn refuses_a_method_that_is_not_async() {
        refused(
            "trait T {\n fn add(&self) -> Result<i64, E>;\n}",
            "fn add",
            "`async fn`",
        );
    }

    #[test]
    fn refuses_a_method_that_does_not_return_a_result() {
        refused(
            "trait T {\n async fn add(&self) -> i64;\n}",
            "i64",
            "returns `Result<T, E>`",
        );
        refused(
            "trait T {\n async fn add(&self);\n}",
            "add(",
            "#[rpc(notification)]",
        );
    }

    #[test]
    fn refuses_a_notification_that_returns_something() {
        refused(
            "trait T {\n #[rpc(notification)]\n async fn log(&self) -> Result<(), E>;\n}",
            "Result<(), E>",
            "returns nothing",
        );
    }

    #[test]
    fn refuses_generics_on_methods_and_traits() {
        refused(
            "trait T {\n async fn f<X: Clone>(&self, x: X) -> Result<(), E>;\n}",
            "<X: Clone>",
            "cannot be generic",
        );
        refused(
            "trait T {\n async fn f(&self, x: impl Clone) -> Result<(), E>;\n}",
            "impl Clone",
            "`impl Trait`",
        );
        refused(
            "trait T<X> {\n async fn f(&self) -> Result<(), E>;\n}",
            "<X>",
            "cannot be generic",
        );
    }

    #[test]
    fn refuses_receivers_other_than_a_shared_reference() {
        refused(
            "trait T {\n async fn f(self) -> Result<(), E>;\n}",
            "self)",
            "takes `&self`",
        );
        refused(
            "trait T {\n async fn f(self: Arc<Self>) -> Result<(), E>;\n}",
            "self: Arc",
            "takes `&self`",
        );
        refused(
            "trait T {\n async fn f(&mut self) -> Result<(), E>;\n}",
            "&mut self",
            "not `&mut self`",
        );
        refused(
            "trait T {\n async fn f(a: i64) -> Result<(), E>;\n}",
            "(a: i64)",
            "`&self` first",
        );
    }

    #[test]
    fn refuses_names_reserved_by_the_specification() {
        refused(
            "trait T {\n #[rpc(name = \"rpc.discover\")]\n async fn discover(&self) -> Result<(), E>;\n}",
            "\"rpc.discover\"",
            "reserved",
        );
        let found = errors(
            r#"namespace = "rpc", namespace_separator = ".""#,
            "trait T {\n async fn discover(&self) -> Result<(), E>;\n}",
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].1.starts_with("discover") && found[0].0.contains("reserved"));
    }

    #[test]
    fn refuses_two_methods_of_one_name() {
        refused(
            "trait T {\n async fn a(&self) -> Result<(), E>;\n #[rpc(name = \"a\")]\n async fn b(&self) -> Result<(), E>;\n}",
            "b(",
            "two methods are served as \"a\"",
        );
    }

    #[test]
    fn refuses_params_that_borrow_or_are_not_names() {
        refused(
            "trait T {\n async fn f(&self, s: &str) -> Result<(), E>;\n}",
            "&str",
            "owned values",
        );
        refused(
            "trait T {\n async fn f(&self, s: Cow<'static, str>) -> Result<(), E>;\n}",
            "'static",
            "owned values",
        );
        refused(
            "trait T {\n async fn f(&self, (a, b): (i64, i64)) -> Result<(), E>;\n}",
            "(a, b)",
            "plain name",
        );
    }

    #[test]
    fn refuses_a_context_out_of_place_or_of_another_type() {
        refused(
            "trait T {\n async fn f(&self, a: i64, cx: &Cx<S>) -> Result<(), E>;\n}",
            "&Cx<S>",
            "comes first",
        );
        refused(
            "trait T {\n async fn f(&self, cx: &Cx<S>) -> Result<(), E>;\n async fn g(&self, cx: &Cx<U>) -> Result<(), E>;\n}",
            "U>",
            "same context type",
        );
    }

    #[test]
    fn refuses_items_other_than_methods_and_names_the_expansion_takes() {
        refused("trait T {\n type X;\n}", "type X", "only `async fn`s");
        refused(
            "trait T {\n async fn into_methods(&self) -> Result<(), E>;\n}",
            "into_methods",
            "adds",
        );
        refused(
            "trait T {\n async fn new(&self) -> Result<(), E>;\n}",
            "new",
            "#[rpc(name",
        );
    }

    #[test]
    fn refuses_unknown_options() {
        refused(
            "trait T {\n #[rpc(nmae = \"x\")]\n async fn f(&self) -> Result<(), E>;\n}",
            "nmae",
            "unknown option",
        );
        refused(
            "trait T {\n #[rpc(named, named)]\n async fn f(&self) -> Result<(), E>;\n}",
            "named)]",
            "twice",
        );
        let found = errors("prefix = \"x\"", "trait T {}");
        assert_eq!(found.len(), 1);
        assert!(found[0].0.contains("unknown option"));
    }

    #[test]
    fn refuses_subscriptions_of_the_wrong_shape() {
        refused(
            "trait T {\n #[rpc(subscription = \"tick\", item = u64)]\n async fn s(&self, p: PendingSubscription);\n}",
            "s(",
            "`unsubscribe = \"..\"`",
        );
        refused(
            "trait T {\n #[rpc(subscription = \"tick\", unsubscribe = \"u\")]\n async fn s(&self, p: PendingSubscription);\n}",
            "s(",
            "`item = T`",
        );
        refused(
            "trait T {\n #[rpc(subscription = \"tick\", unsubscribe = \"u\", item = u64)]\n async fn s(&self, n: u64);\n}",
            "s(",
            "takes a `PendingSubscription` first",
        );
        refused(
            "trait T {\n #[rpc(subscription = \"tick\", unsubscribe = \"u\", item = u64)]\n async fn s(&self, p: PendingSubscription) -> Result<(), E>;\n}",
            "Result<(), E>",
            "returns nothing",
        );
        refused(
            "trait T {\n #[rpc(subscription = \"tick\", unsubscribe = \"rpc.u\", item = u64)]\n async fn s(&self, p: PendingSubscription);\n}",
            "\"rpc.u\"",
            "reserved",
        );
        refused(
            "trait T {\n #[rpc(item = u64)]\n async fn s(&self) -> Result<(), E>;\n}",
            "u64",
            "goes with `subscription",
        );
        refused(
            "trait T {\n async fn s(&self, n: u64, p: PendingSubscription) -> Result<(), E>;\n}",
            "PendingSubscription)",
            "`#[rpc(subscription = ..)]`",
        );
        refused(
            "trait T {\n async fn u(&self) -> Result<(), E>;\n #[rpc(subscription = \"tick\", unsubscribe = \"u\", item = u64)]\n async fn s(&self, p: PendingSubscription);\n}",
            "s(",
            "two methods are served as \"u\"",
        );
    }

    #[test]
    fn refuses_param_names_that_collide_and_unknown_param_options() {
        refused(
            "trait T {\n async fn f(&self, a: i64, #[rpc(rename = \"a\")] b: i64) -> Result<(), E>;\n}",
            "\"a\")] b",
            "two params are named \"a\"",
        );
        refused(
            "trait T {\n async fn f(&self, #[rpc(renam = \"a\")] b: i64) -> Result<(), E>;\n}",
            "renam",
            "`rename = \"..\"`",
        );
        refused(
            "trait T {\n async fn f(&self, #[rpc(rename = \"c\")] cx: &Cx<S>) -> Result<(), E>;\n}",
            "\"c\")] cx",
            "not sent",
        );
    }

    #[test]
    fn reports_every_error_at_once() {
        let found = errors(
            "",
            "trait T {\n fn a(&self) -> i64;\n async fn b(self, s: &str) -> Result<(), E>;\n}",
        );
        let expected = ["fn a", "i64;", "self,", "&str)"];
        assert_eq!(found.len(), expected.len(), "{found:?}");
        for ((_, at), expected) in found.iter().zip(expected) {
            assert!(at.starts_with(expected), "{found:?}");
        }
    }
}
