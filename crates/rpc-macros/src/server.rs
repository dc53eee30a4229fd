//! The served side: the trait again, its `async fn`s made to return
//! `Send` futures, and its provided `into_methods`, which registers each
//! method by name in a `Methods<C>`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, PathArguments, Type};

use crate::model::{Kind, Method, Param, Service, unraw};

/// The local names of the generated code, hygienic so that no param's
/// name can shadow them.
struct Locals {
    this: Ident,
    cx: Ident,
    params: Ident,
    pending: Ident,
    methods: Ident,
}

impl Locals {
    fn new() -> Self {
        let local = |name: &str| Ident::new(name, Span::mixed_site());
        Self {
            this: local("this"),
            cx: local("cx"),
            params: local("params"),
            pending: local("pending"),
            methods: local("methods"),
        }
    }
}

/// The trait, with `into_methods`.
pub(crate) fn expand(service: &Service) -> TokenStream {
    let Service {
        attrs,
        vis,
        ident,
        supertraits,
        ..
    } = service;
    let declarations = service.methods.iter().map(declaration);
    let into_methods = into_methods(service);
    let supertraits = supertraits.iter();
    let params = service.methods.iter().map(|m| params_struct(service, m));
    quote! {
        #(#attrs)*
        #vis trait #ident: #(#supertraits +)* ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#declarations)*

            #into_methods
        }

        #(#params)*
    }
}

/// The name of a method's params struct, in the case of a type's.
fn params_ident(service: &Service, method: &Method) -> Ident {
    let method: String = unraw(&method.ident)
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    format_ident!("SockeyeRpcParams{}{}", unraw(&service.ident), method)
}

/// A method's params struct: derived `Deserialize` takes an array or an
/// object. It sits beside the trait rather than in `into_methods`, where
/// `into_methods`' own generic could shadow a param's type.
fn params_struct(service: &Service, method: &Method) -> TokenStream {
    let ident = params_ident(service, method);
    let fields = method.params.iter().map(field);
    quote! {
        #[derive(::sockeye_rpc::__private::serde::Deserialize)]
        #[serde(crate = "::sockeye_rpc::__private::serde")]
        struct #ident {
            #(#fields)*
        }
    }
}

/// A method as the trait declares it: `async fn f(..) -> T` becomes
/// `fn f(..) -> impl Future<Output = T> + Send`, so that the methods can
/// run on any task; implementations still write `async fn`.
fn declaration(method: &Method) -> TokenStream {
    let Method {
        attrs, sig, output, ..
    } = method;
    let ident = &sig.ident;
    let inputs = &sig.inputs;
    let future = quote_spanned! {output.span()=>
        impl ::core::future::Future<Output = #output> + ::core::marker::Send
    };
    let body = method
        .body
        .as_ref()
        .map_or_else(|| quote!(;), |block| quote!({ async move #block }));
    quote! {
        #(#attrs)*
        fn #ident(#inputs) -> #future #body
    }
}

/// The provided `into_methods`.
fn into_methods(service: &Service) -> TokenStream {
    let locals = Locals::new();
    let Locals { this, methods, .. } = &locals;
    let (generics, context) = if let Some(context) = &service.context {
        (quote!(), quote!(#context))
    } else {
        let c = format_ident!("C");
        (
            quote!(<#c: ::core::marker::Send + ::core::marker::Sync + 'static>),
            quote!(#c),
        )
    };
    let registrations = service
        .methods
        .iter()
        .map(|method| registration(service, method, &context, &locals));
    let names: Vec<String> = service
        .methods
        .iter()
        .map(|m| format!("`{}`", m.name))
        .collect();
    let doc = format!(
        " The methods of [`{}`] served by `self`, under their names ({}), \
         for [`sockeye_rpc::spawn`] or [`sockeye_rpc::connect`]. Every call \
         shares `self` (behind an `Arc`). Params are taken by position (an \
         array) or by name (an object); a trailing `Option` param may be \
         left out. Combine services with [`Methods::merge`](sockeye_rpc::Methods::merge).",
        service.ident,
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    );
    let unused = service.methods.is_empty().then(|| quote!(let _ = &#this;));
    quote! {
        #[doc = #doc]
        fn into_methods #generics (self) -> ::sockeye_rpc::Methods<#context>
        where
            Self: ::core::marker::Sized,
        {
            let #this = ::std::sync::Arc::new(self);
            let mut #methods = ::sockeye_rpc::Methods::<#context>::new();
            #unused
            #(#registrations)*
            #methods
        }
    }
}

/// Registers one method: a handler that reads its params struct and
/// calls the method on the shared `self`.
fn registration(
    service: &Service,
    method: &Method,
    context: &TokenStream,
    locals: &Locals,
) -> TokenStream {
    let Locals {
        this,
        cx,
        params,
        pending,
        methods,
    } = locals;
    let trait_ident = &service.ident;
    let ident = &method.ident;
    let name = &method.name;
    let struct_ident = params_ident(service, method);
    let idents: Vec<&Ident> = method.params.iter().map(|p| &p.ident).collect();
    let cx_arg = method.takes_cx.then(|| quote!(&#cx,));
    let cx_pattern = if method.takes_cx {
        quote!(#cx)
    } else {
        quote!(_)
    };
    let subscription = matches!(method.kind, Kind::Subscription { .. });
    let pending_arg = subscription.then(|| quote!(#pending,));
    let pending_param =
        subscription.then(|| quote!(, #pending: ::sockeye_rpc::PendingSubscription));
    let call = quote! {
        <Self as #trait_ident>::#ident(&*#this, #cx_arg #pending_arg #(#idents),*).await
    };
    let (register, names, answer) = match &method.kind {
        Kind::Call { .. } => {
            // Errors about the result's type point at the return type.
            let span = method.output.span();
            let register = quote_spanned!(span=> method);
            let into =
                quote_spanned!(span=> ::core::convert::Into::<::sockeye_rpc::ErrorObject>::into);
            let answer = quote_spanned! {span=>
                ::core::result::Result::map_err(#call, #into)
            };
            (register, quote!(#name), answer)
        }
        Kind::Notification => (quote!(notification), quote!(#name), call),
        Kind::Subscription {
            notification,
            unsubscribe,
            ..
        } => (
            quote!(subscription),
            quote!(#name, #notification, #unsubscribe),
            call,
        ),
    };
    quote! {
        {
            let #this = ::std::sync::Arc::clone(&#this);
            #methods.#register(
                #names,
                move |#cx_pattern: ::sockeye_rpc::Cx<#context>, #params: #struct_ident #pending_param| {
                    let #this = ::std::sync::Arc::clone(&#this);
                    async move {
                        let #struct_ident { #(#idents),* } = #params;
                        #answer
                    }
                },
            );
        }
    }
}

/// A field of the params struct; an `Option` may be left out.
fn field(param: &Param) -> TokenStream {
    let Param { ident, ty, rename } = param;
    let default = is_option(ty).then(|| quote!(#[serde(default)]));
    let rename = rename.as_ref().map(|name| quote!(#[serde(rename = #name)]));
    quote!(#default #rename #ident: #ty,)
}

/// Whether `ty` is written as an `Option<..>`.
pub(crate) fn is_option(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    path.path.segments.last().is_some_and(|last| {
        last.ident == "Option" && matches!(last.arguments, PathArguments::AngleBracketed(_))
    })
}
