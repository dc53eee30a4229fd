//! The options: `#[service(namespace = "..", namespace_separator = "..")]`
//! on the trait and `#[rpc(name = "..", named, notification)]` or
//! `#[rpc(subscription = "..", unsubscribe = "..", item = T)]` on a
//! method.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Type};

/// The options of `#[service(..)]`.
#[derive(Default)]
pub(crate) struct ServiceOptions {
    /// Put before every method's name, with the separator between.
    pub(crate) namespace: Option<LitStr>,
    /// Between the namespace and a name; `_` unless given, as in
    /// jsonrpsee (`state_getKeys`).
    pub(crate) separator: Option<LitStr>,
}

impl ServiceOptions {
    /// Reads one `key = value` of the attribute's arguments.
    pub(crate) fn parse(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("namespace") {
            let value: LitStr = meta.value()?.parse()?;
            if value.value().is_empty() {
                return Err(syn::Error::new(value.span(), "the namespace is empty"));
            }
            set(&mut self.namespace, value, meta)
        } else if meta.path.is_ident("namespace_separator") {
            let value: LitStr = meta.value()?.parse()?;
            set(&mut self.separator, value, meta)
        } else {
            Err(meta.error(
                "unknown option: `#[service]` takes `namespace = \"..\"` and `namespace_separator = \"..\"`",
            ))
        }
    }

    /// The name a method is served and called by.
    pub(crate) fn full_name(&self, name: &str) -> String {
        match &self.namespace {
            Some(namespace) => {
                let separator = self.separator.as_ref().map_or("_".into(), LitStr::value);
                format!("{}{separator}{name}", namespace.value())
            }
            None => name.to_owned(),
        }
    }
}

/// The options of one method's `#[rpc(..)]`.
#[derive(Default)]
pub(crate) struct MethodOptions {
    /// The name on the wire, instead of the Rust one.
    pub(crate) name: Option<LitStr>,
    /// The client sends params by name (an object), not by position.
    pub(crate) named: bool,
    /// A notification: no answer, and the method returns nothing.
    pub(crate) notification: bool,
    /// A subscription: the name of the notifications its items come in.
    pub(crate) subscription: Option<LitStr>,
    /// A subscription's unsubscribe method.
    pub(crate) unsubscribe: Option<LitStr>,
    /// A subscription's item type.
    pub(crate) item: Option<Type>,
}

impl MethodOptions {
    /// The options of the `#[rpc(..)]` attributes among `attrs`, which
    /// are taken out (the compiler knows no `rpc` attribute).
    pub(crate) fn take(attrs: &mut Vec<Attribute>) -> syn::Result<Self> {
        let mut options = Self::default();
        take_rpc(attrs, |meta| options.parse(meta))?;
        Ok(options)
    }

    fn parse(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("name") {
            let value: LitStr = meta.value()?.parse()?;
            if value.value().is_empty() {
                return Err(syn::Error::new(value.span(), "the method name is empty"));
            }
            set(&mut self.name, value, meta)
        } else if meta.path.is_ident("named") {
            flag(&mut self.named, meta)
        } else if meta.path.is_ident("notification") {
            flag(&mut self.notification, meta)
        } else if meta.path.is_ident("subscription") || meta.path.is_ident("unsubscribe") {
            let value: LitStr = meta.value()?.parse()?;
            if value.value().is_empty() {
                return Err(syn::Error::new(value.span(), "the name is empty"));
            }
            if meta.path.is_ident("subscription") {
                set(&mut self.subscription, value, meta)
            } else {
                set(&mut self.unsubscribe, value, meta)
            }
        } else if meta.path.is_ident("item") {
            let value: Type = meta.value()?.parse()?;
            if self.item.is_some() {
                return Err(meta.error("this option is given twice"));
            }
            self.item = Some(value);
            Ok(())
        } else {
            Err(meta.error(
                "unknown option: `#[rpc]` takes `name = \"..\"`, `named`, `notification`, and `subscription = \"..\"`, `unsubscribe = \"..\"`, `item = T`",
            ))
        }
    }
}

fn set(slot: &mut Option<LitStr>, value: LitStr, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error("this option is given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn flag(slot: &mut bool, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if *slot {
        return Err(meta.error("this option is given twice"));
    }
    *slot = true;
    Ok(())
}

/// The options of a param's `#[rpc(..)]`.
#[derive(Default)]
pub(crate) struct ParamOptions {
    /// The param's name on the wire, instead of the Rust one.
    pub(crate) rename: Option<LitStr>,
}

impl ParamOptions {
    /// The options of the `#[rpc(..)]` attributes among `attrs`, which
    /// are taken out.
    pub(crate) fn take(attrs: &mut Vec<Attribute>) -> syn::Result<Self> {
        let mut options = Self::default();
        take_rpc(attrs, |meta| {
            if meta.path.is_ident("rename") {
                let value: LitStr = meta.value()?.parse()?;
                set(&mut options.rename, value, meta)
            } else {
                Err(meta.error("unknown option: a param's `#[rpc]` takes `rename = \"..\"`"))
            }
        })?;
        Ok(options)
    }
}

/// Takes the `#[rpc(..)]` attributes out of `attrs`, giving each of
/// their options to `parse`.
fn take_rpc(
    attrs: &mut Vec<Attribute>,
    mut parse: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    attrs.retain(|attr| {
        if !attr.path().is_ident("rpc") {
            return true;
        }
        if let Err(e) = attr.parse_nested_meta(|meta| parse(&meta)) {
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
        }
        false
    });
    errors.map_or(Ok(()), Err)
}
