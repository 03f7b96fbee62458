//! Procedural macros behind `kcom::declare_com_interface!`,
//! `kcom::implement_com!` and `#[kcom::async_impl]`. Use them through
//! `kcom`: the `kcom` macros pass their own `$crate` path in, so the
//! generated code names `kcom` items correctly however the dependency is
//! renamed, and depends on no feature of the calling crate.
//!
//! Each macro is two steps, in two files: `parse.rs` turns the input into a
//! validated model (every misuse is a spanned compile error there), and
//! `gen.rs` turns the model into code. `tests.rs` holds snapshot tests of the
//! generated code (`tests/expand/*.expanded.rs`); `tests-host`'s trybuild
//! cases cover the errors.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::quote;

mod r#gen;
mod parse;
#[cfg(test)]
mod tests;

use crate::parse::{AsyncImpl, Implementation, Interface};

/// Splits `[<krate path>] rest…` into the crate path and the rest.
fn split_krate(input: TokenStream) -> syn::Result<(TokenStream2, TokenStream2)> {
    let mut iter = TokenStream2::from(input).into_iter();
    match iter.next() {
        Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Bracket => {
            Ok((g.stream(), iter.collect()))
        }
        _ => Err(syn::Error::new(
            Span::call_site(),
            "internal kcom macro: call it through `kcom::declare_com_interface!` or `kcom::implement_com!`",
        )),
    }
}

/// The macro's output, or its error as a compile error.
fn output(result: syn::Result<TokenStream2>) -> TokenStream {
    match result {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implementation of `kcom::declare_com_interface!`. Not for direct use.
#[doc(hidden)]
#[proc_macro]
pub fn __declare_com_interface(input: TokenStream) -> TokenStream {
    output(split_krate(input).and_then(|(krate, rest)| {
        let interface = Interface::parse(syn::parse2(rest)?)?;
        Ok(r#gen::declare(&krate, &interface))
    }))
}

/// Implementation of `kcom::implement_com!`. Not for direct use.
#[doc(hidden)]
#[proc_macro]
pub fn __implement_com(input: TokenStream) -> TokenStream {
    output(split_krate(input).and_then(|(krate, rest)| {
        let implementation: Implementation = syn::parse2(rest)?;
        Ok(r#gen::implement(&krate, &implementation))
    }))
}

/// `#[kcom::async_impl]` on an `impl IFoo for T` block: every `async fn`
/// becomes the boxed form the interface declares,
/// `fn m(&self, …) -> Pin<Box<dyn Future<Output = R> + Send + '_>>`, with
/// the body moved into `kcom::async_com::box_future(async move { … })`
/// (which reports a failed allocation as `STATUS_INSUFFICIENT_RESOURCES`).
#[doc(hidden)]
#[proc_macro_attribute]
pub fn __async_impl(attr: TokenStream, item: TokenStream) -> TokenStream {
    // Re-exported as `kcom::async_impl`, so it is named through `::kcom`.
    output(
        AsyncImpl::parse(attr.into(), item.into())
            .map(|input| r#gen::async_impl(&quote!(::kcom), input)),
    )
}
