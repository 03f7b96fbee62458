//! Snapshot tests of the generated code, in the style of pin-init's
//! `tests/ui/expand`: each `tests/expand/<case>.rs` is written as a user
//! would write it; its `declare_com_interface!`, `implement_com!` and
//! `#[kcom::async_impl]` items are expanded here by this crate's parser and
//! generator (with `::kcom` as the crate path), and the whole file,
//! pretty-printed, must equal `tests/expand/<case>.expanded.rs`.
//!
//! The snapshots are what a reviewer reads to see what the macros emit. After
//! an intended change to the generated code, regenerate them with
//! `UPDATE_EXPECT=1 cargo test -p kcom-macros` and review the diff. The
//! errors the parser reports are covered by `tests-host`'s trybuild cases;
//! that the generated code compiles and behaves, by every test that uses
//! the macros.

use expect_test::{ExpectFile, expect_file};
use proc_macro2::TokenStream as TokenStream2;
use quote::{ToTokens, quote};
use syn::{Item, ItemImpl, ItemMacro};

use crate::r#gen;
use crate::parse::{AsyncImpl, Implementation, Interface};

/// Whether `path`'s last segment is `name` (`kcom::implement_com` or a
/// bare `implement_com`).
fn names(path: &syn::Path, name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == name)
}

/// The items `tokens` (generated code) consists of.
fn items(tokens: TokenStream2) -> Vec<Item> {
    syn::parse2::<syn::File>(tokens)
        .expect("the generated code parses as items")
        .items
}

/// `item` with this crate's macros expanded.
fn expand_item(item: Item) -> Vec<Item> {
    let krate = quote!(::kcom);
    match item {
        Item::Macro(ItemMacro { mac, .. }) if names(&mac.path, "declare_com_interface") => {
            let trait_item = syn::parse2(mac.tokens).expect("a trait");
            let interface = Interface::parse(trait_item).expect("a valid interface");
            items(r#gen::declare(&krate, &interface))
        }
        Item::Macro(ItemMacro { mac, .. }) if names(&mac.path, "implement_com") => {
            let implementation: Implementation =
                syn::parse2(mac.tokens).expect("a valid implement_com! input");
            items(r#gen::implement(&krate, &implementation))
        }
        Item::Impl(mut block) if block.attrs.iter().any(|a| names(a.path(), "async_impl")) => {
            block.attrs.retain(|a| !names(a.path(), "async_impl"));
            let input = AsyncImpl::parse(TokenStream2::new(), ItemImpl::to_token_stream(&block))
                .expect("a valid async_impl block");
            items(r#gen::async_impl(&krate, input))
        }
        other => vec![other],
    }
}

/// Expands `source` (a case file) and checks it against `expected`.
fn check(source: &str, expected: ExpectFile) {
    let mut file = syn::parse_file(source).expect("the case parses");
    file.items = file.items.into_iter().flat_map(expand_item).collect();
    expected.assert_eq(&prettyplease::unparse(&file));
}

#[test]
fn thread_safe_interface_with_a_returned_value() {
    check(
        include_str!("../tests/expand/counter.rs"),
        expect_file!["../tests/expand/counter.expanded.rs"],
    );
}

#[test]
fn interface_names_used_without_imports() {
    check(
        include_str!("../tests/expand/implicit_names.rs"),
        expect_file!["../tests/expand/implicit_names.expanded.rs"],
    );
}

#[test]
fn inheritance_and_several_interfaces_per_object() {
    check(
        include_str!("../tests/expand/inheritance.rs"),
        expect_file!["../tests/expand/inheritance.expanded.rs"],
    );
}

#[test]
fn async_methods() {
    check(
        include_str!("../tests/expand/async_method.rs"),
        expect_file!["../tests/expand/async_method.expanded.rs"],
    );
}

#[test]
fn invalid_input_is_refused_by_the_parser_not_the_generator() {
    let generic: syn::ItemTrait = syn::parse_quote! {
        pub trait IBad<T>: IUnknown {
            const IID: GUID = kcom::guid!("00000000-0000-0000-0000-000000000001");
        }
    };
    let e = Interface::parse(generic)
        .err()
        .expect("a generic interface is refused");
    assert_eq!(e.to_string(), "COM interfaces cannot be generic");
    let twice: syn::Result<Implementation> = syn::parse2(quote!(Widget: IFoo, IFoo));
    assert_eq!(twice.err().unwrap().to_string(), "interface listed twice");
    let with_args = AsyncImpl::parse(quote!(boxed), quote!(impl IFoo for Foo {}));
    assert_eq!(
        with_args.err().unwrap().to_string(),
        "`async_impl` takes no arguments"
    );
}
