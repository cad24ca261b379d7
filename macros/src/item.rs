//! The function an attribute is put on: parsed just enough to rewrite its signature, and checked
//! for what `#[nursery::main]` or `#[nursery::test]` cannot run.
//!
//! The body is kept as the tokens the user wrote, never parsed into a syntax tree: it costs less,
//! and a body using syntax newer than our parser still goes through untouched.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Visibility};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// The attribute as a user writes it, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[nursery::main]",
            Kind::Test => "#[nursery::test]",
        }
    }
}

/// `#[attrs] vis async fn name() -> Output { body }`.
pub(crate) struct AsyncFn {
    /// The outer attributes, followed by any inner ones (`#![allow(..)]`) lifted out of the body
    /// so that they still apply once the body sits inside an `async` block.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The statements of the body, without their braces and without inner attributes.
    pub(crate) body: TokenStream,
    /// The span of the body's braces, for tokens standing in for the body.
    pub(crate) body_span: proc_macro2::Span,
}

impl Parse for AsyncFn {
    fn parse(input: ParseStream) -> syn::Result<AsyncFn> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let group = match input.parse::<TokenTree>() {
            Ok(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => group,
            Ok(other) => {
                return Err(syn::Error::new(
                    other.span(),
                    "expected the function's body",
                ));
            }
            Err(error) => return Err(error),
        };
        let (inner, body) = syn::parse::Parser::parse2(
            |content: ParseStream| {
                let inner = content.call(Attribute::parse_inner)?;
                Ok((inner, content.parse::<TokenStream>()?))
            },
            group.stream(),
        )?;
        for mut attr in inner {
            attr.style = syn::AttrStyle::Outer;
            attrs.push(attr);
        }
        Ok(AsyncFn {
            attrs,
            vis,
            sig,
            body,
            body_span: group.span(),
        })
    }
}

impl AsyncFn {
    /// Everything about the signature that the attribute cannot run, each with its own span.
    pub(crate) fn check(&self, kind: Kind) -> Option<syn::Error> {
        let mut errors: Vec<syn::Error> = Vec::new();
        let sig = &self.sig;
        let what = match kind {
            Kind::Main => "the main function",
            Kind::Test => "a test function",
        };

        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span,
                format!(
                    "the `async` keyword is missing from the function declaration: \
                     `{}` runs an `async fn`, so write `async fn {}`",
                    kind.attribute(),
                    sig.ident,
                ),
            ));
        }
        if !sig.inputs.is_empty() {
            let hint = match kind {
                Kind::Main => "read command-line arguments with `std::env::args()` instead",
                Kind::Test => {
                    "the test harness calls it without any; create what it needs in its body"
                }
            };
            errors.push(syn::Error::new_spanned(
                &sig.inputs,
                format!("{what} cannot accept arguments: {hint}"),
            ));
        }
        if !sig.generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                &sig.generics,
                format!("{what} cannot have generic parameters: remove them"),
            ));
        } else if let Some(where_clause) = &sig.generics.where_clause {
            errors.push(syn::Error::new_spanned(
                where_clause,
                format!("{what} cannot have a `where` clause: remove it"),
            ));
        }
        if kind == Kind::Test {
            if let Some(attr) = self.attrs.iter().find(|attr| is_test_attribute(attr)) {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "a second test attribute is on this function: remove it, \
                     `#[nursery::test]` already makes the function a test",
                ));
            }
        }

        errors.into_iter().reduce(|mut all, error| {
            all.combine(error);
            all
        })
    }
}

/// `#[test]`, `#[core::prelude::v1::test]`, `#[tokio::test]` and the like: any attribute whose
/// path ends in `test`.
fn is_test_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "test")
}
