//! Parsing and validation: each macro's input becomes a model the
//! generator (`gen.rs`) can trust: an [`Interface`] for
//! `declare_com_interface!`, an [`Implementation`] for `implement_com!`, an
//! [`AsyncImpl`] for `#[kcom::async_impl]`. Every rule is checked here, each
//! broken one with a spanned error; nothing here emits code.

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Ident, ItemImpl, ItemTrait, Pat, Path, PathArguments,
    ReturnType, Token, TraitItem, Type, TypeParamBound, Visibility,
};

/// How a method's declared return type crosses the ABI.
pub(crate) enum RetKind {
    /// `NTSTATUS`, `Result<(), NTSTATUS>` or `()`: mapped with `IntoNtStatus`.
    Status(Box<Type>),
    /// `Result<X, NTSTATUS>` with `X != ()`: an extra `*mut X` out parameter.
    Retval { ok: Box<Type>, full: Box<Type> },
}

/// One validated interface method.
pub(crate) struct Method {
    /// Its attributes (doc comments), copied to what is generated.
    pub(crate) attrs: Vec<Attribute>,
    /// Its name.
    pub(crate) name: Ident,
    /// Declared `async fn`.
    pub(crate) is_async: bool,
    /// The arguments after `&self`.
    pub(crate) args: Vec<(Ident, Type)>,
    /// How its result crosses the ABI.
    pub(crate) ret: RetKind,
}

/// A validated `declare_com_interface!` input.
pub(crate) struct Interface {
    /// The trait's attributes (doc comments).
    pub(crate) attrs: Vec<Attribute>,
    /// The trait's visibility, given to everything generated.
    pub(crate) vis: Visibility,
    /// The trait's name (`IFoo`).
    pub(crate) name: Ident,
    /// The one parent interface (`IUnknown` or a declared one).
    pub(crate) parent: Path,
    /// Declared `Send + Sync`.
    pub(crate) thread_safe: bool,
    /// The type of `IID` as written (`GUID` or a path to it).
    pub(crate) iid_ty: Type,
    /// The value of `IID`.
    pub(crate) iid_expr: Expr,
    /// The methods, in declaration order (the vtable's order).
    pub(crate) methods: Vec<Method>,
}

impl Interface {
    /// Checks a trait declared in `declare_com_interface!`: not generic or
    /// `unsafe`, exactly one parent interface plus optionally both `Send`
    /// and `Sync`, an `IID` with a value, and methods the ABI can carry.
    pub(crate) fn parse(item: ItemTrait) -> syn::Result<Self> {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            return Err(syn::Error::new(
                item.generics.span(),
                "COM interfaces cannot be generic",
            ));
        }
        if let Some(u) = &item.unsafety {
            return Err(syn::Error::new(
                u.span(),
                "COM interfaces are declared without `unsafe`",
            ));
        }
        // Supertraits: exactly one interface (the parent), plus optional Send + Sync.
        let mut parent: Option<Path> = None;
        let mut send = false;
        let mut sync = false;
        for b in &item.supertraits {
            let TypeParamBound::Trait(tb) = b else {
                return Err(syn::Error::new(
                    b.span(),
                    "only a parent interface and `Send + Sync` are allowed here",
                ));
            };
            let p = &tb.path;
            if p.is_ident("Send") {
                send = true;
            } else if p.is_ident("Sync") {
                sync = true;
            } else if parent.is_none() {
                parent = Some(p.clone());
            } else {
                return Err(syn::Error::new(
                    p.span(),
                    "a COM interface has exactly one parent interface (COM has single inheritance)",
                ));
            }
        }
        let Some(parent) = parent else {
            return Err(syn::Error::new(
                item.ident.span(),
                "a COM interface must name its parent interface: `trait IFoo: IUnknown { … }`",
            ));
        };
        if send != sync {
            return Err(syn::Error::new(
                item.supertraits.span(),
                "declare a thread-safe interface with both `Send + Sync`, or neither",
            ));
        }
        let thread_safe = send && sync;

        let mut iid: Option<(Type, Expr)> = None;
        let mut methods = Vec::new();
        for ti in &item.items {
            match ti {
                TraitItem::Const(c) if c.ident == "IID" => {
                    let Some((_, e)) = &c.default else {
                        return Err(syn::Error::new(
                            c.span(),
                            "the IID needs a value: `const IID: GUID = kcom::guid!(\"…\");`",
                        ));
                    };
                    iid = Some((c.ty.clone(), e.clone()));
                }
                TraitItem::Fn(f) => methods.push(parse_method(f)?),
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "a COM interface holds `const IID: GUID = …;` and methods only",
                    ));
                }
            }
        }
        let Some((iid_ty, iid_expr)) = iid else {
            return Err(syn::Error::new(
                item.ident.span(),
                "a COM interface needs an interface id: `const IID: GUID = kcom::guid!(\"…\");`",
            ));
        };
        Ok(Interface {
            attrs: item.attrs,
            vis: item.vis,
            name: item.ident,
            parent,
            thread_safe,
            iid_ty,
            iid_expr,
            methods,
        })
    }
}

/// `()`.
fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// How a declared return type crosses the ABI.
fn classify_return(ret: &ReturnType) -> syn::Result<RetKind> {
    let ty = match ret {
        ReturnType::Default => {
            return Err(syn::Error::new(
                ret.span(),
                "a COM method must return NTSTATUS, Result<(), NTSTATUS> or Result<T, NTSTATUS>",
            ));
        }
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Type::Path(tp) = &ty
        && let Some(last) = tp.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(ab) = &last.arguments
    {
        let tys: Vec<&Type> = ab
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect();
        if tys.len() == 2 && !is_unit(tys[0]) {
            return Ok(RetKind::Retval {
                ok: Box::new(tys[0].clone()),
                full: Box::new(ty.clone()),
            });
        }
    }
    Ok(RetKind::Status(Box::new(ty)))
}

/// Validates one trait method.
fn parse_method(f: &syn::TraitItemFn) -> syn::Result<Method> {
    let sig = &f.sig;
    if let Some(body) = &f.default {
        return Err(syn::Error::new(
            body.span(),
            "COM interface methods cannot have a default body: implement them in the type",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "COM interface methods cannot be generic: a vtable entry has one signature",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            "do not give an ABI: the macro generates the `extern \"system\"` shims",
        ));
    }
    if let Some(u) = &sig.unsafety {
        return Err(syn::Error::new(
            u.span(),
            "COM interface methods are declared safe; the generated shims carry the unsafety",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "variadic COM methods are not supported",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(other) => {
            return Err(syn::Error::new(
                other.span(),
                "a COM method takes `&self`: the object is shared by every interface pointer",
            ));
        }
        None => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                "a COM method takes `&self`",
            ));
        }
    }
    let mut args = Vec::new();
    for arg in inputs {
        let FnArg::Typed(pt) = arg else {
            return Err(syn::Error::new(arg.span(), "unexpected receiver"));
        };
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(syn::Error::new(
                pt.pat.span(),
                "COM method arguments must be plain names (`value: u32`)",
            ));
        };
        if pi.by_ref.is_some() || pi.subpat.is_some() {
            return Err(syn::Error::new(
                pt.pat.span(),
                "COM method arguments must be plain names (`value: u32`)",
            ));
        }
        if let Type::Reference(r) = &*pt.ty {
            return Err(syn::Error::new(
                r.span(),
                "COM method arguments cross an `extern \"system\"` ABI: use a Copy FFI-safe type (a raw pointer instead of a reference)",
            ));
        }
        args.push((pi.ident.clone(), (*pt.ty).clone()));
    }
    Ok(Method {
        attrs: f.attrs.clone(),
        name: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        args,
        ret: classify_return(&sig.output)?,
    })
}

/// A validated `implement_com!` input: `[impl<G…>] Type: IFoo, IBar, …`,
/// at least one interface, none listed twice, `IUnknown` not listed.
pub(crate) struct Implementation {
    /// `impl<G…>`, if given.
    pub(crate) generics: syn::Generics,
    /// The implementing type.
    pub(crate) ty: Type,
    /// The interfaces, the primary one first.
    pub(crate) ifaces: Vec<Path>,
}

impl Parse for Implementation {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let generics = if input.peek(Token![impl]) {
            input.parse::<Token![impl]>()?;
            let g: syn::Generics = input.parse()?;
            if g.params.is_empty() {
                return Err(syn::Error::new(
                    g.span(),
                    "expected generic parameters after `impl`: `implement_com!(impl<T: Bound> Type<T>: IFoo)`",
                ));
            }
            g
        } else {
            syn::Generics::default()
        };
        let ty: Type = input.parse()?;
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `Type: IFirst, ISecond, …` (the type, a colon, then its interfaces)",
            )
        })?;
        let list: Punctuated<Path, Token![,]> = Punctuated::parse_terminated(input)?;
        if list.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "name at least one interface: `implement_com!(Type: IFoo)`",
            ));
        }
        let ifaces: Vec<Path> = list.into_iter().collect();
        for (i, a) in ifaces.iter().enumerate() {
            if a.is_ident("IUnknown") {
                return Err(syn::Error::new(
                    a.span(),
                    "IUnknown is implemented for every object: list only the interfaces you declared",
                ));
            }
            for b in &ifaces[..i] {
                if quote!(#a).to_string() == quote!(#b).to_string() {
                    return Err(syn::Error::new(a.span(), "interface listed twice"));
                }
            }
        }
        Ok(Implementation {
            generics,
            ty,
            ifaces,
        })
    }
}

/// A validated `#[kcom::async_impl]` input: an `impl` block whose `async fn`
/// arguments are plain names or `_` (they are moved into the future).
pub(crate) struct AsyncImpl {
    /// The block as written.
    pub(crate) item: ItemImpl,
}

impl AsyncImpl {
    /// Checks the attribute's arguments (there are none) and the block.
    pub(crate) fn parse(attr: TokenStream2, item: TokenStream2) -> syn::Result<Self> {
        if !attr.is_empty() {
            return Err(syn::Error::new(
                attr.span(),
                "`async_impl` takes no arguments",
            ));
        }
        let item: ItemImpl = syn::parse2(item)?;
        for ii in &item.items {
            let syn::ImplItem::Fn(f) = ii else { continue };
            if f.sig.asyncness.is_none() {
                continue;
            }
            for arg in &f.sig.inputs {
                let FnArg::Typed(pt) = arg else { continue };
                match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {}
                    Pat::Wild(_) => {}
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "async COM method arguments must be plain names",
                        ));
                    }
                }
            }
        }
        Ok(AsyncImpl { item })
    }
}
