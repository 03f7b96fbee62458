//! Code generation: the validated model ([`crate::parse`]) becomes the
//! trait, vtable, interface type, shims and checks of
//! `declare_com_interface!` ([`declare`]), the `ComClass` impl of
//! `implement_com!` ([`implement`]) and the boxed-future methods of
//! `#[kcom::async_impl]` ([`async_impl`]). Nothing here rejects input: every
//! rule was checked by the parser; what cannot be checked there (another
//! crate's IIDs, trait bounds) is emitted as `const` assertions and
//! bounds the compiler checks.
//!
//! `krate` is the path of the `kcom` crate as the caller's `$crate` spells
//! it. The snapshot tests in `tests.rs` show what each produces.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, Path, PathArguments, ReturnType, Type};

use crate::parse::{AsyncImpl, Implementation, Interface, RetKind};

/// The last path segment's identifier with `suffix` appended, same prefix.
fn with_suffix(path: &Path, suffix: &str) -> Path {
    let mut p = path.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!("{}{}", last.ident, suffix);
        last.arguments = PathArguments::None;
    }
    p
}

/// `a::b::C` as written, without the spaces `quote!` puts around `::`.
fn path_string(path: &Path) -> String {
    quote!(#path)
        .to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
}

/// A type as written, for messages.
fn path_string_of_type(ty: &Type) -> String {
    match ty {
        Type::Path(tp) if tp.qself.is_none() => path_string(&tp.path),
        other => quote!(#other).to_string(),
    }
}

/// `declare_com_interface!`: the trait, its vtable, the interface type
/// with safe client calls, the `extern "system"` shims and the const checks.
pub(crate) fn declare(krate: &TokenStream2, iface: &Interface) -> TokenStream2 {
    let Interface {
        attrs: trait_attrs,
        vis,
        name,
        parent,
        thread_safe,
        iid_ty,
        iid_expr,
        methods,
    } = iface;
    let vtbl = format_ident!("{}Vtbl", name);
    let iface = format_ident!("{}Interface", name);
    let is_unknown_parent = parent.is_ident("IUnknown")
        || parent
            .segments
            .last()
            .is_some_and(|s| s.ident == "IUnknown" && parent.segments.len() > 1);
    // kcom's README examples name `IUnknown` (and `GUID`) without importing
    // them, with only the macro and the status types in scope. A glob import
    // of just the name the declaration writes bare makes it resolve: an
    // explicit import of the caller's, if there is one, takes precedence over
    // a glob (so it still counts as used), and without one the glob supplies
    // kcom's item.
    let mut implicit = Vec::new();
    if parent.is_ident("IUnknown") {
        implicit.push(quote! {
            #[allow(unused_imports)]
            use #krate::com::__private::implicit::iunknown::*;
        });
    }
    if matches!(iid_ty, Type::Path(tp) if tp.qself.is_none() && tp.path.is_ident("GUID")) {
        implicit.push(quote! {
            #[allow(unused_imports)]
            use #krate::com::__private::implicit::guid::*;
        });
    }
    let key_name = quote! {
        ::core::concat!(
            ::core::module_path!(), "::", ::core::stringify!(#name),
            " (", ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
        )
    };
    let ancestor_msg = format!(
        "the IID of `{name}` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
    );
    let reserved_msg = format!(
        "the IID of `{name}` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
    );
    let (parent_vtbl, parent_iface): (TokenStream2, TokenStream2) = if is_unknown_parent {
        (
            quote!(#krate::IUnknownVtbl),
            quote!(#krate::IUnknownInterface),
        )
    } else {
        let v = with_suffix(parent, "Vtbl");
        let i = with_suffix(parent, "Interface");
        (quote!(#v), quote!(#i))
    };
    let send_sync = if *thread_safe {
        quote!(+ ::core::marker::Send + ::core::marker::Sync)
    } else {
        quote!()
    };

    let mut trait_fns = Vec::new();
    let mut vtbl_fields = Vec::new();
    let mut vtbl_inits = Vec::new();
    let mut shims = Vec::new();
    // Client methods are safe even with raw-pointer arguments: they pass the
    // arguments to the object's implementation of the same *safe* trait
    // method, which may not dereference an arbitrary pointer on its own
    // either (anyone can call it directly with any pointer), so the wrapper
    // adds no capability safe code did not have.
    let mut client_fns = Vec::new();
    let mut checks = Vec::new();
    let mut any_async = false;

    for m in methods {
        let mname = &m.name;
        let attrs = &m.attrs;
        let arg_names: Vec<&Ident> = m.args.iter().map(|(n, _)| n).collect();
        let arg_tys: Vec<&Type> = m.args.iter().map(|(_, t)| t).collect();
        for t in &arg_tys {
            checks.push(quote_spanned! {t.span()=>
                #krate::com::__private::assert_copy::<#t>();
            });
        }
        let decl_ret: Type = match &m.ret {
            RetKind::Status(t) => (**t).clone(),
            RetKind::Retval { full, .. } => (**full).clone(),
        };
        // The trait method as the implementer writes it.
        if m.is_async {
            any_async = true;
            trait_fns.push(quote! {
                #(#attrs)*
                fn #mname(&self #(, #arg_names: #arg_tys)*)
                    -> ::core::pin::Pin<#krate::com::__private::Box<
                        dyn ::core::future::Future<Output = #decl_ret> + ::core::marker::Send + '_>>;
            });
        } else {
            trait_fns.push(quote! {
                #(#attrs)*
                fn #mname(&self #(, #arg_names: #arg_tys)*) -> #decl_ret;
            });
        }
        let shim = format_ident!("shim_{}_{}", name, mname);
        let shim_at = format_ident!("__kcom_shim_{}_{}", name, mname);
        let call = if m.is_async {
            quote!(#krate::async_com::__block_on_com(__kcom_obj.#mname(#(#arg_names),*)))
        } else {
            quote!(__kcom_obj.#mname(#(#arg_names),*))
        };
        let shim_doc = format!(
            "`extern \"system\"` shim of `{name}::{mname}` for objects of its type argument (primary interface slot)."
        );
        match &m.ret {
            RetKind::Status(_) => {
                vtbl_fields.push(quote! {
                    #[doc = ::core::concat!("`", ::core::stringify!(#name), "::", ::core::stringify!(#mname), "`")]
                    pub #mname: unsafe extern "system" fn(
                        this: *mut ::core::ffi::c_void #(, #arg_names: #arg_tys)*
                    ) -> #krate::NTSTATUS
                });
                shims.push(quote! {
                    #[doc = #shim_doc]
                    ///
                    /// # Safety
                    ///
                    /// The first argument must be an interface pointer of a live kcom
                    /// object whose value has the type argument's type, in its primary
                    /// slot.
                    #[allow(non_snake_case, dead_code)]
                    #vis unsafe extern "system" fn #shim<__KcomT: #name>(
                        __kcom_this: *mut ::core::ffi::c_void #(, #arg_names: #arg_tys)*
                    ) -> #krate::NTSTATUS {
                        // SAFETY: forwarded contract (slot 0 is the primary slot).
                        unsafe { #shim_at::<__KcomT, 0>(__kcom_this #(, #arg_names)*) }
                    }
                    #[doc(hidden)]
                    #[allow(non_snake_case, dead_code)]
                    #vis unsafe extern "system" fn #shim_at<__KcomT: #name, const __KCOM_SLOT: usize>(
                        __kcom_this: *mut ::core::ffi::c_void #(, #arg_names: #arg_tys)*
                    ) -> #krate::NTSTATUS {
                        let __kcom_guard = #krate::com::__private::ShimGuard::enter(__kcom_this);
                        // SAFETY: the vtable holding this shim was built for a kcom object
                        // with value type `__KcomT` and `this` in slot `__KCOM_SLOT`, and the caller holds
                        // a reference, so the object is alive.
                        let __kcom_obj: &__KcomT = unsafe { #krate::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this) };
                        let __kcom_status = #krate::IntoNtStatus::into_ntstatus(#call);
                        __kcom_guard.leave();
                        __kcom_status
                    }
                });
                let client_call = quote! {
                    let __kcom_vtbl = <Self as #krate::com::ComInterface>::vtable(self);
                    let __kcom_this = <Self as #krate::com::ComInterface>::as_raw(self);
                    // SAFETY: `self` wraps a live interface pointer whose vtable starts
                    // with `#vtbl` (the `ComInterface` contract); the callee gets `this`
                    // and the arguments by value.
                    let __kcom_status = unsafe { (__kcom_vtbl.#mname)(__kcom_this #(, #arg_names)*) };
                    <#decl_ret as #krate::FromNtStatus>::from_ntstatus(__kcom_status)
                };
                // `#[inline]`: the client call is a few instructions around
                // the indirect call; out of line it would add a call and, for
                // a `Result`, a return through memory.
                client_fns.push(quote! {
                    #(#attrs)*
                    #[inline]
                    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
                    pub fn #mname(&self #(, #arg_names: #arg_tys)*) -> #decl_ret { #client_call }
                });
            }
            RetKind::Retval { ok, full } => {
                checks.push(quote_spanned! {ok.span()=>
                    #krate::com::__private::assert_retval::<#ok>();
                });
                vtbl_fields.push(quote! {
                    #[doc = ::core::concat!("`", ::core::stringify!(#name), "::", ::core::stringify!(#mname), "`; the value is written to `out` on success")]
                    pub #mname: unsafe extern "system" fn(
                        this: *mut ::core::ffi::c_void #(, #arg_names: #arg_tys)*, out: *mut #ok
                    ) -> #krate::NTSTATUS
                });
                shims.push(quote! {
                    #[doc = #shim_doc]
                    ///
                    /// # Safety
                    ///
                    /// The first argument must be an interface pointer of a live kcom
                    /// object whose value has the type argument's type, in its primary
                    /// slot; the last (the out pointer) must be null or valid for a
                    /// write of the result.
                    #[allow(non_snake_case, dead_code)]
                    #vis unsafe extern "system" fn #shim<__KcomT: #name>(
                        __kcom_this: *mut ::core::ffi::c_void #(, #arg_names: #arg_tys)*, __kcom_out: *mut #ok
                    ) -> #krate::NTSTATUS {
                        // SAFETY: forwarded contract (slot 0 is the primary slot).
                        unsafe { #shim_at::<__KcomT, 0>(__kcom_this #(, #arg_names)*, __kcom_out) }
                    }
                    #[doc(hidden)]
                    #[allow(non_snake_case, dead_code)]
                    #vis unsafe extern "system" fn #shim_at<__KcomT: #name, const __KCOM_SLOT: usize>(
                        __kcom_this: *mut ::core::ffi::c_void #(, #arg_names: #arg_tys)*, __kcom_out: *mut #ok
                    ) -> #krate::NTSTATUS {
                        if __kcom_out.is_null() {
                            return #krate::STATUS_INVALID_PARAMETER;
                        }
                        let __kcom_guard = #krate::com::__private::ShimGuard::enter(__kcom_this);
                        // SAFETY: as for every shim: `this` is slot `__KCOM_SLOT` of a live object
                        // whose value has type `__KcomT`.
                        let __kcom_obj: &__KcomT = unsafe { #krate::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this) };
                        let __kcom_result: #full = #call;
                        let __kcom_status = match __kcom_result {
                            ::core::result::Result::Ok(__kcom_v) => {
                                // SAFETY: `out` is non-null and, by the caller's contract,
                                // valid for a write of the result.
                                unsafe { __kcom_out.write(__kcom_v) };
                                #krate::STATUS_SUCCESS
                            }
                            ::core::result::Result::Err(__kcom_e) => #krate::IntoNtStatus::into_ntstatus(
                                ::core::result::Result::<(), _>::Err(__kcom_e),
                            ),
                        };
                        __kcom_guard.leave();
                        __kcom_status
                    }
                });
                client_fns.push(quote! {
                    #(#attrs)*
                    #[inline]
                    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
                    pub fn #mname(&self #(, #arg_names: #arg_tys)*) -> #full {
                        let __kcom_vtbl = <Self as #krate::com::ComInterface>::vtable(self);
                        let __kcom_this = <Self as #krate::com::ComInterface>::as_raw(self);
                        // Initialised up front so a misbehaving callee that reports
                        // success without writing cannot make us read garbage.
                        let mut __kcom_out: #ok = ::core::default::Default::default();
                        // SAFETY: `self` wraps a live interface pointer whose vtable starts
                        // with the interface's vtable; `out` is a valid, writable local.
                        let __kcom_status = unsafe { (__kcom_vtbl.#mname)(__kcom_this #(, #arg_names)*, &mut __kcom_out) };
                        if #krate::nt_success(__kcom_status) {
                            ::core::result::Result::Ok(__kcom_out)
                        } else {
                            ::core::result::Result::Err(__kcom_status)
                        }
                    }
                });
            }
        }
        vtbl_inits.push(quote!(#mname: #shim_at::<__KcomT, __KCOM_SLOT>));
    }

    let async_check = if any_async {
        quote!(#krate::__kcom_require_async_com!();)
    } else {
        quote!()
    };
    let thread_safe_impl = if *thread_safe {
        quote! {
            // SAFETY: the trait requires `Send + Sync` of every implementer, so the
            // object behind any pointer to this interface may be shared and released
            // from any thread.
            unsafe impl #krate::com::ThreadSafeInterface for #iface {}
        }
    } else {
        quote!()
    };
    let vtbl_doc =
        format!("The vtable of `{name}`: the parent's vtable first, then one entry per method.");
    let iface_doc = format!(
        "`{name}` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<{iface}>`)."
    );
    let for_slot_doc =
        "Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.";

    quote! {
        #async_check
        #(#implicit)*

        #(#trait_attrs)*
        #vis trait #name: #parent #send_sync {
            #(#trait_fns)*
        }

        #[doc = #vtbl_doc]
        #[repr(C)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #[allow(non_snake_case, dead_code)]
        #vis struct #vtbl {
            /// The parent interface's vtable.
            pub parent: #parent_vtbl,
            #(#vtbl_fields,)*
        }

        #[allow(dead_code)]
        impl #vtbl {
            #[doc = #for_slot_doc]
            #[doc(hidden)]
            pub const fn __for_slot<__KcomT: #name, const __KCOM_SLOT: usize>() -> Self {
                #vtbl {
                    parent: #parent_vtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
                    #(#vtbl_inits,)*
                }
            }
        }

        #[doc = #iface_doc]
        #[repr(transparent)]
        #[allow(dead_code)]
        #vis struct #iface {
            raw: #krate::com::__private::RawInterface,
        }

        impl #krate::ComInterfaceInfo for #iface {
            const IID: #iid_ty = #iid_expr;
            type Vtbl = #vtbl;
            type Parent = #parent_iface;
            fn matches(iid: &#krate::GUID) -> bool {
                *iid == <Self as #krate::ComInterfaceInfo>::IID
                    || <#parent_iface as #krate::ComInterfaceInfo>::matches(iid)
            }
        }

        // SAFETY: the interface's own IID and declaration-unique name, then its
        // parent's chain (which lists the parent and its ancestors).
        unsafe impl #krate::com::__private::InterfaceChain for #iface {
            const CHAIN: &'static [#krate::com::__private::InterfaceKey] = {
                const PARENT: &[#krate::com::__private::InterfaceKey] =
                    <#parent_iface as #krate::com::__private::InterfaceChain>::CHAIN;
                const LEN: usize = PARENT.len() + 1;
                const CHAIN: [#krate::com::__private::InterfaceKey; LEN] =
                    #krate::com::__private::InterfaceKey::new(
                        <#iface as #krate::ComInterfaceInfo>::IID,
                        #key_name,
                        ::core::any::TypeId::of::<#iface>,
                    )
                    .prepend_to::<LEN>(PARENT);
                &CHAIN
            };
        }

        const _: () = ::core::assert!(
            #krate::com::__private::iid_is_not_reserved(<#iface as #krate::ComInterfaceInfo>::IID),
            #reserved_msg
        );

        const _: () = ::core::assert!(
            #krate::com::__private::own_iid_is_unique(
                <#iface as #krate::com::__private::InterfaceChain>::CHAIN
            ),
            #ancestor_msg
        );

        // SAFETY: `#iface` is `repr(transparent)` over `RawInterface` (itself
        // transparent over a non-null pointer), and `#vtbl` is `repr(C)` with the
        // parent's vtable first (`<#parent_iface as ComInterfaceInfo>::Vtbl`,
        // checked below), so it starts with `IUnknownVtbl`.
        unsafe impl #krate::com::ComInterface for #iface {}

        #thread_safe_impl

        #[allow(dead_code)]
        impl #iface {
            #(#client_fns)*
        }

        impl ::core::ops::Deref for #iface {
            type Target = #parent_iface;
            fn deref(&self) -> &#parent_iface {
                // SAFETY: `#parent_iface` is the declared parent: `#vtbl` is
                // `repr(C)` and its first field `parent` is `#parent_vtbl`, so
                // every vtable behind `self` starts with the parent's.
                unsafe { #krate::com::__private::upcast::<Self, #parent_iface>(self) }
            }
        }

        impl ::core::fmt::Debug for #iface {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(::core::stringify!(#iface))
                    .field(&<Self as #krate::com::ComInterface>::as_raw(self))
                    .finish()
            }
        }

        #(#shims)*

        const _: () = {
            #[allow(dead_code)]
            fn __kcom_checks() {
                #(#checks)*
            }
            // The `parent` field is the parent interface's own vtable type:
            // `Deref` and the `ComInterface` impl rely on it.
            #[allow(dead_code)]
            fn __kcom_parent_vtbl(
                v: <#parent_iface as #krate::ComInterfaceInfo>::Vtbl,
            ) -> #parent_vtbl {
                v
            }
        };
    }
}

/// `implement_com!`: the `ComClass` impl (vtables per slot and
/// `QueryInterface`), the IID collision checks and the trait bounds.
pub(crate) fn implement(krate: &TokenStream2, implementation: &Implementation) -> TokenStream2 {
    let ty = &implementation.ty;
    // No two interfaces of the object, nor any of their ancestors, may share
    // an IID unless they are the same interface: `query` answers an IID with
    // the first slot whose interface matches it, and `ComRc::query_interface`
    // trusts that slot to have the requested interface's vtable. Checked by
    // const evaluation (each interface's chain of IIDs is a constant).
    let ty_name = path_string_of_type(ty);
    let mut iid_checks = Vec::new();
    for (i, a) in implementation.ifaces.iter().enumerate() {
        for b in &implementation.ifaces[i + 1..] {
            let ia = with_suffix(a, "Interface");
            let ib = with_suffix(b, "Interface");
            let msg = format!(
                "implement_com!({ty_name}: …): `{}` and `{}` share an IID (their own, or one of their ancestors'), but are different interfaces: QueryInterface could not tell them apart; give every interface its own IID",
                path_string(a),
                path_string(b),
            );
            iid_checks.push(quote_spanned! {b.span()=>
                const _: () = ::core::assert!(
                    !#krate::com::__private::chains_collide(
                        <#ia as #krate::com::__private::InterfaceChain>::CHAIN,
                        <#ib as #krate::com::__private::InterfaceChain>::CHAIN,
                    ),
                    #msg
                );
            });
        }
    }
    let (impl_generics, _, _) = implementation.generics.split_for_impl();
    let n_secondary = implementation.ifaces.len() - 1;
    let primary_iface = with_suffix(&implementation.ifaces[0], "Interface");
    let primary_vtbl = with_suffix(&implementation.ifaces[0], "Vtbl");
    let mut secondaries = Vec::new();
    let mut qi_arms = Vec::new();
    let mut type_arms = Vec::new();
    let mut bounds = Vec::new();
    for (slot, p) in implementation.ifaces.iter().enumerate() {
        let iface = with_suffix(p, "Interface");
        let vtbl = with_suffix(p, "Vtbl");
        bounds.push(quote_spanned! {p.span()=> #ty: #p, });
        if slot > 0 {
            // The vtable is named by path (`IBarVtbl` next to `IBar`), so it
            // is checked to be the interface's own `Vtbl` before its type is
            // erased: `query` answers for `IBarInterface` with this slot.
            secondaries.push(quote_spanned! {p.span()=>
                #krate::com::__private::secondary_vtable::<#iface>(
                    &#vtbl::__for_slot::<#ty, #slot>()
                )
            });
        }
        type_arms.push(quote! {
            if #krate::com::__private::chain_has_type(
                <#iface as #krate::com::__private::InterfaceChain>::CHAIN,
                iface,
            ) {
                // SAFETY: as for `query`: slot `#slot` holds the vtable of `#iface`,
                // whose chain lists it and its ancestors.
                return ::core::option::Option::Some(unsafe {
                    #krate::com::__private::slot_ptr::<#ty>(base, #slot)
                });
            }
        });
        qi_arms.push(quote! {
            if <#iface as #krate::ComInterfaceInfo>::matches(riid) {
                // SAFETY: `base` is the base of a live object of this class, whose
                // slot `#slot` holds this interface's vtable pointer.
                return ::core::option::Option::Some(unsafe {
                    #krate::com::__private::slot_ptr::<#ty>(base, #slot)
                });
            }
        });
    }
    quote! {
        // SAFETY: the slots are built from the declared interfaces' `__for_slot`
        // vtables with matching slot numbers (each checked to be its interface's
        // `Vtbl`), and `query` returns only the object's own base or slot
        // pointers: for an IID, the slot whose interface is, or derives from, the
        // interface with that IID (its vtable starts with that interface's), which
        // the const checks above make the only one. `query_type` returns the base
        // for `IUnknown` and otherwise a slot whose interface's chain (itself and
        // its ancestors) has the requested type.
        unsafe impl #impl_generics #krate::com::ComClass for #ty where Self: 'static {
            type Primary = #primary_iface;
            type Secondaries = [*const ::core::ffi::c_void; #n_secondary];
            const PRIMARY_VTABLE: &'static #primary_vtbl = &#primary_vtbl::__for_slot::<#ty, 0>();
            const SECONDARIES: Self::Secondaries = [#(#secondaries),*];
            unsafe fn query(
                base: *mut ::core::ffi::c_void,
                riid: &#krate::GUID,
            ) -> ::core::option::Option<*mut ::core::ffi::c_void> {
                if *riid == <#krate::IUnknownInterface as #krate::ComInterfaceInfo>::IID {
                    return ::core::option::Option::Some(base);
                }
                #(#qi_arms)*
                ::core::option::Option::None
            }
            unsafe fn query_type(
                base: *mut ::core::ffi::c_void,
                iface: ::core::any::TypeId,
            ) -> ::core::option::Option<*mut ::core::ffi::c_void> {
                if iface == ::core::any::TypeId::of::<#krate::IUnknownInterface>() {
                    return ::core::option::Option::Some(base);
                }
                #(#type_arms)*
                ::core::option::Option::None
            }
        }
        #(#iid_checks)*
        const _: () = {
            // A readable error when the type does not implement a listed interface.
            #[allow(dead_code)]
            fn __kcom_implements #impl_generics () where #(#bounds)* {}
        };
    }
}

/// `#[kcom::async_impl]`: every `async fn` becomes
/// `fn m(&self, …) -> Pin<Box<dyn Future<Output = R> + Send + '_>>`, its
/// body moved into `kcom::async_com::box_future(async move { … })`, which
/// reports a failed allocation as `STATUS_INSUFFICIENT_RESOURCES`. `_`
/// arguments get names so they can be moved into the future.
pub(crate) fn async_impl(krate: &TokenStream2, input: AsyncImpl) -> TokenStream2 {
    let mut item = input.item;
    for ii in &mut item.items {
        let syn::ImplItem::Fn(f) = ii else { continue };
        if f.sig.asyncness.is_none() {
            continue;
        }
        f.sig.asyncness = None;
        let out = match &f.sig.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, t) => quote!(#t),
        };
        for (i, arg) in f.sig.inputs.iter_mut().enumerate() {
            if let FnArg::Typed(pt) = arg
                && let Pat::Wild(_) = &*pt.pat
            {
                let name = format_ident!("__kcom_arg{}", i);
                *pt.pat = syn::parse_quote!(#name);
            }
        }
        f.sig.output = syn::parse_quote! {
            -> ::core::pin::Pin<#krate::com::__private::Box<
                dyn ::core::future::Future<Output = #out> + ::core::marker::Send + '_>>
        };
        let body = &f.block;
        f.block = syn::parse_quote! {{
            #krate::async_com::box_future(async move #body)
        }};
    }
    quote!(#item)
}
