//! The calling side: `<Trait>Client`, a `Peer` with one typed `async fn`
//! per method of the trait.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use crate::model::{Kind, Method, Service};
use crate::server::is_option;

/// The client struct and its methods.
pub(crate) fn expand(service: &Service) -> TokenStream {
    let Service { vis, ident, .. } = service;
    let client = format_ident!("{}Client", ident);
    let struct_doc = format!(
        " Calls the methods of [`{ident}`] on a peer that serves them: one \
         `async fn` per method, with the trait's params, each giving the \
         result or a [`CallError`](sockeye_rpc::CallError). Cheap to clone; \
         make one of any [`Peer`](sockeye_rpc::Peer), such as the one a \
         handler's `cx.peer()` gives, to call its caller back, or of a \
         [`Client`](sockeye_rpc::Client), to call through a connection \
         that comes back when lost."
    );
    let new_doc = format!(" A client of [`{ident}`] that calls `peer`.");
    let methods = service.methods.iter().map(method);
    quote! {
        #[doc = #struct_doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #vis struct #client<SockeyeRpcCaller = ::sockeye_rpc::Peer> {
            peer: SockeyeRpcCaller,
        }

        impl<SockeyeRpcCaller: ::sockeye_rpc::Caller> #client<SockeyeRpcCaller> {
            #[doc = #new_doc]
            pub fn new(peer: SockeyeRpcCaller) -> Self {
                Self { peer }
            }

            /// The peer (or client) it calls.
            pub fn peer(&self) -> &SockeyeRpcCaller {
                &self.peer
            }

            #(#methods)*
        }

        impl ::core::convert::From<::sockeye_rpc::Peer> for #client<::sockeye_rpc::Peer> {
            fn from(peer: ::sockeye_rpc::Peer) -> Self {
                Self::new(peer)
            }
        }

        impl ::core::convert::From<::sockeye_rpc::Client> for #client<::sockeye_rpc::Client> {
            fn from(client: ::sockeye_rpc::Client) -> Self {
                Self::new(client)
            }
        }
    }
}

/// One method of the client.
fn method(method: &Method) -> TokenStream {
    let docs = method.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let ident = &method.ident;
    let name = &method.name;
    let inputs = method.params.iter().map(|p| {
        let (ident, ty) = (&p.ident, &p.ty);
        quote!(#ident: #ty)
    });
    let args = args(method);
    let how = if method.params.is_empty() {
        "without params"
    } else if method.named {
        "params by name"
    } else {
        "params by position"
    };
    let answered = " [`CallError::Error`](sockeye_rpc::CallError::Error) when the peer \
         answered with an error, and the other [`CallError`](sockeye_rpc::CallError)s \
         as they say (timeout, disconnection, a result that does not deserialize).";
    let (summary, output, call, errors) = match &method.kind {
        Kind::Call { ok } => (
            format!(" Calls `{name}` on the peer, {how}, and waits for its result."),
            quote!(#ok),
            quote!(::sockeye_rpc::Caller::call::<#ok, _>(&self.peer, #name, &#args).await),
            answered,
        ),
        Kind::Notification => (
            format!(" Sends the notification `{name}` to the peer, {how}."),
            quote!(()),
            quote!(::sockeye_rpc::Caller::notify(&self.peer, #name, &#args).await),
            " [`CallError::Disconnected`](sockeye_rpc::CallError::Disconnected) \
             when the connection ended; [`CallError::Encode`](sockeye_rpc::CallError::Encode) \
             when a param does not serialize.",
        ),
        Kind::Subscription {
            notification,
            unsubscribe,
            item,
        } => (
            format!(
                " Subscribes with `{name}`, {how}: the items come as `{notification}` \
                 notifications, and dropping the subscription calls `{unsubscribe}`."
            ),
            quote!(<SockeyeRpcCaller as ::sockeye_rpc::Caller>::Subscription<#item>),
            quote! {
                ::sockeye_rpc::Caller::subscribe::<#item, _>(
                    &self.peer, #name, &#args, #notification, #unsubscribe,
                )
                .await
            },
            answered,
        ),
    };
    let separator = method
        .attrs
        .iter()
        .any(|a| a.path().is_ident("doc"))
        .then(|| {
            quote! {
                #[doc = ""]
            }
        });
    quote! {
        #(#docs)*
        #separator
        #[doc = #summary]
        #[doc = ""]
        #[doc = " # Errors"]
        #[doc = ""]
        #[doc = #errors]
        // As many params as the trait's method, whose own lints judge them.
        #[allow(clippy::too_many_arguments)]
        pub async fn #ident(&self, #(#inputs),*)
            -> ::core::result::Result<#output, ::sockeye_rpc::CallError>
        {
            #call
        }
    }
}

/// The params as sent: nothing, an array, or an object.
fn args(method: &Method) -> TokenStream {
    let idents: Vec<&Ident> = method.params.iter().map(|p| &p.ident).collect();
    let types = method.params.iter().map(|p| &p.ty);
    let args = format_ident!("SockeyeRpcArgs");
    let serde = quote! {
        #[derive(::sockeye_rpc::__private::serde::Serialize)]
        #[serde(crate = "::sockeye_rpc::__private::serde")]
    };
    match idents.as_slice() {
        [] => quote!(()),
        _ if method.named => {
            let fields = method.params.iter().map(|p| {
                let (ident, ty) = (&p.ident, &p.ty);
                let rename = p
                    .rename
                    .as_ref()
                    .map(|name| quote!(#[serde(rename = #name)]));
                // A `None` is left out, as a server that reads names
                // takes a missing one.
                let skip = is_option(ty).then(
                    || quote!(#[serde(skip_serializing_if = "::core::option::Option::is_none")]),
                );
                quote!(#skip #rename #ident: #ty,)
            });
            quote!({
                #serde
                struct #args { #(#fields)* }
                #args { #(#idents),* }
            })
        }
        [one] => quote!((#one,)),
        _ => quote!({
            #serde
            struct #args(#(#types),*);
            #args(#(#idents),*)
        }),
    }
}
