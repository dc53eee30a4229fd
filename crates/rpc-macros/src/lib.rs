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
//! - **`CalculatorClient`**, with the trait's visibility: `new(peer)`
//!   (or `From<Peer>`), `peer()`, and one `async fn` per method with the
//!   same params, returning `Result<T, CallError>` (notifications
//!   `Result<(), CallError>`). Params go by position unless the method
//!   is `#[rpc(named)]`; a method without params sends none.
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
//!   name is the name on the wire (`r#type` is `type`).
//! - A method returns `Result<T, E>` (any path ending in `Result` whose
//!   first argument is the result's type, so aliases work): `T` is
//!   serialized as the result, and `E` converts into
//!   `sockeye_rpc::ErrorObject` (`From`), which is what the peer gets.
//! - A notification (`#[rpc(notification)]`) returns nothing.
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
//! - `notification`: a call that gets no answer.
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
