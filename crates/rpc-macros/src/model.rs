//! Reading the trait: what each method is called, takes and returns,
//! with an error at the place of every shape the attribute does not
//! take.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Attribute, Block, FnArg, GenericArgument, Ident, ItemTrait, LitStr, Pat, PathArguments,
    ReturnType, Signature, TraitItem, TraitItemFn, Type, TypeParamBound, Visibility,
};

use crate::options::{MethodOptions, ParamOptions, ServiceOptions};

/// The trait, read.
pub(crate) struct Service {
    /// The trait's attributes (its docs among them).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The trait's own supertraits; `Send + Sync + 'static` are added.
    pub(crate) supertraits: Vec<TypeParamBound>,
    pub(crate) methods: Vec<Method>,
    /// The `C` of the methods' `&Cx<C>`; `None` when no method takes one,
    /// and the methods then serve any context.
    pub(crate) context: Option<Type>,
}

/// One method of the trait.
pub(crate) struct Method {
    /// Its attributes without `#[rpc]` (its docs among them).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) ident: Ident,
    /// The name on the wire, namespace included.
    pub(crate) name: String,
    /// Whether it takes a `&Cx<C>` argument.
    pub(crate) takes_cx: bool,
    pub(crate) params: Vec<Param>,
    /// A call, a notification or a subscription.
    pub(crate) kind: Kind,
    /// The return type as written (`()` when there is none).
    pub(crate) output: Type,
    /// The client sends params by name.
    pub(crate) named: bool,
    /// A default body.
    pub(crate) body: Option<Block>,
    /// The whole signature, for spans.
    pub(crate) sig: Signature,
}

/// One param of a method: a name and an owned type.
pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// The name on the wire, when `#[rpc(rename = "..")]` gives one.
    pub(crate) rename: Option<LitStr>,
}

/// What a method is.
pub(crate) enum Kind {
    /// A call answered with `Result<T, E>`'s `T` (`ok`) or its error.
    Call { ok: Type },
    /// A notification: no answer.
    Notification,
    /// A subscription: the method gets a `PendingSubscription`; its items
    /// (of type `item`) come as `notification`s until `unsubscribe`.
    Subscription {
        notification: String,
        unsubscribe: String,
        item: Type,
    },
}

impl Method {
    /// The names it is registered under.
    fn registered(&self) -> Vec<String> {
        match &self.kind {
            Kind::Subscription { unsubscribe, .. } => vec![self.name.clone(), unsubscribe.clone()],
            Kind::Call { .. } | Kind::Notification => vec![self.name.clone()],
        }
    }
}

/// Collects errors so that one expansion reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn at(&mut self, span: Span, message: &str) {
        self.push(syn::Error::new(span, message));
    }
}

impl Service {
    /// Reads `item` with `options`.
    ///
    /// # Errors
    ///
    /// Every shape the attribute does not take, each at its place.
    pub(crate) fn read(item: ItemTrait, options: &ServiceOptions) -> syn::Result<Self> {
        let mut errors = Errors::default();
        if let Some(unsafety) = item.unsafety {
            errors.at(unsafety.span, "a service trait cannot be `unsafe`");
        }
        if let Some(auto) = item.auto_token {
            errors.at(auto.span, "a service trait cannot be `auto`");
        }
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            errors.at(
                item.generics.span(),
                "a service trait cannot be generic: the context type comes from the methods' `&Cx<C>` argument",
            );
        }
        let mut methods = Vec::new();
        let mut context: Option<Type> = None;
        let mut names: HashMap<String, Span> = HashMap::new();
        for trait_item in item.items {
            let TraitItem::Fn(function) = trait_item else {
                errors.at(
                    trait_item.span(),
                    "a service trait holds only `async fn`s: each is a method served by name",
                );
                continue;
            };
            let (method, cx_type) = match read_method(function, options) {
                Ok(read) => read,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Some(ty) = cx_type {
                match &context {
                    Some(first) if !same_type(first, &ty) => errors.at(
                        ty.span(),
                        "every method's `Cx` has the same context type: this one differs from the first",
                    ),
                    Some(_) => {}
                    None => context = Some(ty),
                }
            }
            if method.ident == "into_methods" {
                errors.at(
                    method.ident.span(),
                    "`into_methods` is the name of the method that the attribute adds",
                );
            }
            if method.ident == "new" || method.ident == "peer" {
                errors.at(
                    method.ident.span(),
                    "the client has a method of this name: name the Rust method otherwise and keep the wire name with `#[rpc(name = \"..\")]`",
                );
            }
            for name in method.registered() {
                if names
                    .insert(name.clone(), method.sig.ident.span())
                    .is_some()
                {
                    errors.at(
                        method.sig.ident.span(),
                        &format!("two methods are served as {name:?}"),
                    );
                }
            }
            methods.push(method);
        }
        if let Some(e) = errors.0 {
            return Err(e);
        }
        Ok(Self {
            attrs: item.attrs,
            vis: item.vis,
            ident: item.ident,
            supertraits: item.supertraits.into_iter().collect(),
            methods,
            context,
        })
    }
}

/// Reads one method, with its context type when it takes a `&Cx<C>`.
///
/// # Errors
///
/// Every shape of the method's that is not taken.
fn read_method(
    mut function: TraitItemFn,
    options: &ServiceOptions,
) -> syn::Result<(Method, Option<Type>)> {
    let mut errors = Errors::default();
    let errors = &mut errors;
    let method_options = match MethodOptions::take(&mut function.attrs) {
        Ok(o) => o,
        Err(e) => {
            errors.push(e);
            MethodOptions::default()
        }
    };
    let renames = take_param_options(&mut function.sig, errors);
    let sig = &function.sig;
    check_signature(sig, errors);
    let (cx, mut params) = read_inputs(sig, renames, errors);
    let output: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let kind = read_kind(sig, &output, &method_options, options, &mut params, errors);
    for param in &params {
        if is_pending(&param.ty) {
            errors.at(
                param.ty.span(),
                "a `PendingSubscription` is taken by a `#[rpc(subscription = ..)]` method, first after `&self` and the `&Cx<C>`",
            );
        }
    }

    let local = method_options
        .name
        .as_ref()
        .map_or_else(|| unraw(&sig.ident), syn::LitStr::value);
    let name = options.full_name(&local);
    reserved(
        &name,
        method_options
            .name
            .as_ref()
            .map_or(sig.ident.span(), LitStr::span),
        errors,
    );

    if let Some(e) = errors.0.take() {
        return Err(e);
    }
    Ok((
        Method {
            attrs: function.attrs,
            ident: function.sig.ident.clone(),
            name,
            takes_cx: cx.is_some(),
            params,
            kind,
            output,
            named: method_options.named,
            body: function.default,
            sig: function.sig,
        },
        cx,
    ))
}

/// The `&self`, then the optional `cx: &Cx<C>` (its `C`), then the
/// params.
fn read_inputs(
    sig: &Signature,
    renames: Vec<Option<LitStr>>,
    errors: &mut Errors,
) -> (Option<Type>, Vec<Param>) {
    let mut renames = renames.into_iter();
    let mut inputs = sig.inputs.iter();
    renames.next();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) => {
            if receiver.reference.is_none() || receiver.colon_token.is_some() {
                errors.at(
                    receiver.span(),
                    "a service method takes `&self`: the served value is shared by every call",
                );
            } else if receiver.mutability.is_some() {
                errors.at(
                    receiver.span(),
                    "a service method takes `&self`, not `&mut self`: calls run concurrently; keep state behind a lock",
                );
            }
        }
        _ => errors.at(
            sig.paren_token.span.join(),
            "a service method takes `&self` first",
        ),
    }

    let mut cx = None;
    let mut params = Vec::new();
    let mut wire_names: HashMap<String, Span> = HashMap::new();
    for (index, input) in inputs.enumerate() {
        let rename = renames.next().flatten();
        let FnArg::Typed(typed) = input else {
            continue;
        };
        if let Some(context) = cx_argument(&typed.ty) {
            if let Some(rename) = &rename {
                errors.at(
                    rename.span(),
                    "the `&Cx<C>` argument is not sent: it has no name",
                );
            }
            if index == 0 {
                cx = Some(context.clone());
            } else {
                errors.at(
                    typed.ty.span(),
                    "the `&Cx<C>` argument comes first, right after `&self`",
                );
            }
            continue;
        }
        let ident = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                errors.at(
                    other.span(),
                    "a param is a plain name (it is the param's name on the wire)",
                );
                continue;
            }
        };
        if let Some(span) = borrowed(&typed.ty) {
            errors.at(
                span,
                "params are deserialized into owned values: take `String`, `Vec<T>` and so on, not references",
            );
            continue;
        }
        let wire = rename.as_ref().map_or_else(|| unraw(&ident), LitStr::value);
        let span = rename.as_ref().map_or(ident.span(), LitStr::span);
        if wire_names.insert(wire.clone(), span).is_some() {
            errors.at(span, &format!("two params are named {wire:?}"));
        }
        params.push(Param {
            ident,
            ty: (*typed.ty).clone(),
            rename,
        });
    }

    (cx, params)
}

/// Takes the `#[rpc(..)]` attributes out of the params: the renames, one
/// place for each input (the receiver's included).
fn take_param_options(sig: &mut Signature, errors: &mut Errors) -> Vec<Option<LitStr>> {
    sig.inputs
        .iter_mut()
        .map(|input| {
            let FnArg::Typed(typed) = input else {
                return None;
            };
            match ParamOptions::take(&mut typed.attrs) {
                Ok(options) => options.rename,
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        })
        .collect()
}

/// What the method is, by its options and return type; a
/// subscription's `PendingSubscription` is taken out of `params`.
fn read_kind(
    sig: &Signature,
    output: &Type,
    method: &MethodOptions,
    service: &ServiceOptions,
    params: &mut Vec<Param>,
    errors: &mut Errors,
) -> Kind {
    if let Some(subscription) = &method.subscription {
        return read_subscription(sig, output, subscription, method, service, params, errors);
    }
    if let Some(name) = &method.unsubscribe {
        errors.at(
            name.span(),
            "`unsubscribe` goes with `subscription = \"..\"`",
        );
    }
    if let Some(item) = &method.item {
        errors.at(item.span(), "`item` goes with `subscription = \"..\"`");
    }
    if method.notification {
        if !is_unit(output) {
            errors.at(
                output.span(),
                "a notification gets no answer: it returns nothing",
            );
        }
        return Kind::Notification;
    }
    if let Some(ok) = result_ok(output) {
        return Kind::Call { ok: ok.clone() };
    }
    errors.at(
        match &sig.output {
            ReturnType::Default => sig.ident.span(),
            ReturnType::Type(_, ty) => ty.span(),
        },
        "a method returns `Result<T, E>` (`T` is the result, `E` converts into `ErrorObject`); one without an answer is marked `#[rpc(notification)]`",
    );
    Kind::Notification
}

/// A subscription: its names, its item type, and its
/// `PendingSubscription` param taken out of `params`.
fn read_subscription(
    sig: &Signature,
    output: &Type,
    subscription: &LitStr,
    method: &MethodOptions,
    service: &ServiceOptions,
    params: &mut Vec<Param>,
    errors: &mut Errors,
) -> Kind {
    if method.notification {
        errors.at(
            subscription.span(),
            "a method is a notification or a subscription, not both",
        );
    }
    if !is_unit(output) {
        errors.at(
            output.span(),
            "a subscription's method returns nothing: it accepts or rejects the `PendingSubscription`, then sends the items into its sink",
        );
    }
    if params.first().is_some_and(|p| is_pending(&p.ty)) {
        params.remove(0);
    } else {
        errors.at(
            sig.ident.span(),
            "a subscription's method takes a `PendingSubscription` first after `&self` and the `&Cx<C>`",
        );
    }
    let unsubscribe = if let Some(name) = &method.unsubscribe {
        let full = service.full_name(&name.value());
        reserved(&full, name.span(), errors);
        full
    } else {
        errors.at(
            sig.ident.span(),
            "a subscription names its unsubscribe method: `unsubscribe = \"..\"`",
        );
        String::new()
    };
    let item = method.item.clone().unwrap_or_else(|| {
        errors.at(
            sig.ident.span(),
            "a subscription names the type of its items: `item = T`",
        );
        syn::parse_quote!(())
    });
    let notification = service.full_name(&subscription.value());
    reserved(&notification, subscription.span(), errors);
    Kind::Subscription {
        notification,
        unsubscribe,
        item,
    }
}

/// Refuses a name JSON-RPC 2.0 reserves.
fn reserved(name: &str, span: Span, errors: &mut Errors) {
    if name.starts_with("rpc.") {
        errors.at(
            span,
            "method names that start with `rpc.` are reserved by JSON-RPC 2.0",
        );
    }
}

/// Whether `ty` is written as a `PendingSubscription`.
fn is_pending(ty: &Type) -> bool {
    matches!(ty, Type::Path(path)
        if path.path.segments.last().is_some_and(|last| last.ident == "PendingSubscription"))
}

/// The shapes of signature no service method has.
fn check_signature(sig: &Signature, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "a service method is an `async fn` (the attribute makes its future `Send`)",
        );
    }
    if let Some(constness) = sig.constness {
        errors.at(constness.span, "a service method cannot be `const`");
    }
    if let Some(unsafety) = sig.unsafety {
        errors.at(unsafety.span, "a service method cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi.span(), "a service method cannot have an ABI");
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic.span(), "a service method cannot be variadic");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            sig.generics.span(),
            "a service method cannot be generic: its params and result have the types the wire gets",
        );
    }
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input {
            if let Some(span) = impl_trait(&typed.ty) {
                errors.at(
                    span,
                    "a service method cannot take `impl Trait`: its params have the types the wire gets",
                );
            }
        }
    }
}

/// `C` when `ty` is `&Cx<C>`.
fn cx_argument(ty: &Type) -> Option<&Type> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    if reference.mutability.is_some() {
        return None;
    }
    let Type::Path(path) = &*reference.elem else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Cx" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(context)] => Some(context),
        _ => None,
    }
}

/// `T` when `ty` is a `Result<T, ..>` (any path that ends in `Result`
/// with a type first among its arguments, aliases such as
/// `Result<T>` included).
fn result_ok(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(ok) => Some(ok),
        _ => None,
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// Where `ty` borrows (a reference or a lifetime anywhere in it).
fn borrowed(ty: &Type) -> Option<Span> {
    let mut found = None;
    visit_types(ty, &mut |t| {
        if found.is_none() {
            match t {
                Type::Reference(r) => found = Some(r.span()),
                Type::Path(p) => {
                    for segment in &p.path.segments {
                        if let PathArguments::AngleBracketed(args) = &segment.arguments {
                            if let Some(GenericArgument::Lifetime(l)) = args
                                .args
                                .iter()
                                .find(|a| matches!(a, GenericArgument::Lifetime(_)))
                            {
                                found = Some(l.span());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    });
    found
}

/// Where `ty` has an `impl Trait`.
fn impl_trait(ty: &Type) -> Option<Span> {
    let mut found = None;
    visit_types(ty, &mut |t| {
        if let (None, Type::ImplTrait(i)) = (&found, t) {
            found = Some(i.span());
        }
    });
    found
}

/// Calls `f` on `ty` and every type inside it.
fn visit_types(ty: &Type, f: &mut dyn FnMut(&Type)) {
    f(ty);
    match ty {
        Type::Array(a) => visit_types(&a.elem, f),
        Type::Slice(s) => visit_types(&s.elem, f),
        Type::Group(g) => visit_types(&g.elem, f),
        Type::Paren(p) => visit_types(&p.elem, f),
        Type::Ptr(p) => visit_types(&p.elem, f),
        Type::Reference(r) => visit_types(&r.elem, f),
        Type::Tuple(t) => t.elems.iter().for_each(|e| visit_types(e, f)),
        Type::Path(p) => {
            if let Some(q) = &p.qself {
                visit_types(&q.ty, f);
            }
            for segment in &p.path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(t) = arg {
                            visit_types(t, f);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Whether two types are written alike.
fn same_type(a: &Type, b: &Type) -> bool {
    quote::quote!(#a).to_string() == quote::quote!(#b).to_string()
}

/// An identifier as a name on the wire: `r#type` is `type`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let text = ident.to_string();
    match text.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}
