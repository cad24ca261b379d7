//! The code an attribute turns into: a plain `fn` that builds a fresh runtime and blocks on the
//! body, or, when the function or the options are wrong, the errors and as little else as keeps
//! the compiler from piling errors of its own on top.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::{Ident, ReturnType};

use crate::item::{AsyncFn, Kind};
use crate::options::{self, Options};

/// Expands `#[nursery::main(args)]` or `#[nursery::test(args)]` on `item`.
pub(crate) fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<AsyncFn>(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            // Not a function: say what the attribute goes on, and leave the item as written so
            // that the rest of the crate still sees it.
            let error = syn::Error::new(
                error.span(),
                format!("`{}` goes on an `async fn`: {error}", kind.attribute()),
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };

    let (mut options, mut options_error) = options::parse(args);
    if kind == Kind::Main {
        if let Some((span, _)) = options.start_paused.take() {
            let error = syn::Error::new(
                span,
                "`start_paused` is only for `#[nursery::test]`: a program's clock must be the \
                 real one (to pause time in a test, write `#[nursery::test(start_paused = true)]`, \
                 or call `nursery::time::pause()`)",
            );
            match &mut options_error {
                Some(errors) => errors.combine(error),
                None => options_error = Some(error),
            }
        }
    }
    let options_error = options_error.map(|error| error.to_compile_error());

    if let Some(error) = function.check(kind) {
        let error = error.to_compile_error();
        let stand_in = match kind {
            Kind::Main => main_stand_in(&function, item),
            // A test that cannot run is simply not emitted: nothing refers to it.
            Kind::Test => TokenStream::new(),
        };
        return quote!(#options_error #error #stand_in);
    }

    let function = runtime_fn(kind, function, &options);
    quote!(#options_error #function)
}

/// What stands in for a `main` the attribute refused, so that the user reads our error and not
/// also "`main` function not found": the function as written where it is a valid plain `fn`
/// (only `async` was forgotten), else an empty `fn` of the same name.
fn main_stand_in(function: &AsyncFn, item: TokenStream) -> TokenStream {
    let sig = &function.sig;
    let plain = sig.inputs.is_empty()
        && sig.generics.params.is_empty()
        && sig.generics.where_clause.is_none();
    if sig.asyncness.is_none() && plain {
        return item;
    }
    let vis = &function.vis;
    let ident = &sig.ident;
    quote!(#vis fn #ident() {})
}

/// The function with `async` removed and its body run on a fresh runtime (the crate docs show
/// it in full, and `main_expands_as_documented` below keeps the two in step):
///
/// ```text
/// #[attrs]
/// vis fn name() -> Output {
///     let runtime = ::nursery::Runtime::builder()
///         .worker_threads(4)         // one call per option given
///         .build()
///         .expect("...");
///     let body = async move {
///         let output: Output = { body };
///         return output;                  // with `allow(unreachable_code)`
///     };
///     let body: Pin<&mut dyn Future<Output = Output>> = pin!(body);   // tests only
///     runtime.block_on(body)
/// }
/// ```
///
/// The runtime is declared first so that it is dropped last: the body's future, finished or
/// abandoned by a panic, is dropped while the runtime it used still stands. `block_on` returns
/// only after every task spawned inside is done, and dropping the runtime joins its workers, so
/// the function returns with nothing of the runtime left.
///
/// `let output: Output` gives the `async` block the function's return type up front: `?` and
/// `Ok(())` in the body infer against it, and a body of the wrong type is reported at the body's
/// own tokens rather than at the attribute. Tests also pin the body behind `dyn Future`, so that
/// the whole suite shares one `block_on` instance instead of compiling one per test. A return
/// type written with `impl Trait` can be named in neither place and goes without both.
fn runtime_fn(kind: Kind, function: AsyncFn, options: &Options) -> TokenStream {
    let AsyncFn {
        attrs,
        vis,
        mut sig,
        body,
        body_span,
    } = function;
    sig.asyncness = None;

    let krate = options.crate_path();
    let mut builder = TokenStream::new();
    if let Some(n) = &options.worker_threads {
        builder.extend(quote!(.worker_threads(#n)));
    }
    if let Some(name) = &options.thread_name {
        builder.extend(quote!(.thread_name(#name)));
    }
    if let Some((_, paused)) = options.start_paused {
        builder.extend(quote!(.start_paused(#paused)));
    }
    let expect = format!("{}: failed to build the nursery runtime", kind.attribute());

    // Hygienic names: the user's body can neither see nor shadow them.
    let runtime = Ident::new("runtime", Span::mixed_site());
    let fut = Ident::new("body", Span::mixed_site());
    let output_value = Ident::new("output", Span::mixed_site());

    let output = match &sig.output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) if mentions_impl(quote!(#ty)) => None,
        ReturnType::Type(_, ty) => Some(quote!(#ty)),
    };
    // The body keeps its own braces' span, so that errors about it as a whole (`()` where a
    // `Result` was due) point at the user's code.
    let braced_body = quote_spanned!(body_span=> { #body });
    let async_body = match &output {
        Some(output) => quote! {
            async move {
                #[allow(clippy::let_unit_value)]
                let #output_value: #output = #braced_body;
                // A statement, not a tail, so that the `allow` can sit on it: after a body that
                // ends in `panic!()` this line is unreachable, and says so to no one.
                #[allow(unreachable_code, clippy::needless_return)]
                return #output_value;
            }
        },
        None => quote!(async move #braced_body),
    };
    let pin_for_test = match (&output, kind) {
        (Some(output), Kind::Test) => Some(quote! {
            let #fut: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = #output>> =
                ::core::pin::pin!(#fut);
        }),
        _ => None,
    };
    let test_attr = match kind {
        Kind::Main => None,
        Kind::Test => Some(quote!(#[::core::prelude::v1::test])),
    };

    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #[allow(clippy::expect_used)]
            let #runtime = #krate::Runtime::builder() #builder .build().expect(#expect);
            let #fut = #async_body;
            #pin_for_test
            #runtime.block_on(#fut)
        }
    }
}

/// Whether `tokens` contain the keyword `impl`, at any depth.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::entry;
    use crate::item::Kind;

    /// The expansion shown in the crate's documentation, token for token.
    #[test]
    fn main_expands_as_documented() {
        let expanded = entry(
            Kind::Main,
            quote!(worker_threads = 4),
            quote! {
                async fn main() -> Result<(), Error> {
                    body
                }
            },
        );
        let documented = quote! {
            fn main() -> Result<(), Error> {
                #[allow(clippy::expect_used)]
                let runtime = ::nursery::Runtime::builder()
                    .worker_threads(4)
                    .build()
                    .expect("#[nursery::main]: failed to build the nursery runtime");
                let body = async move {
                    #[allow(clippy::let_unit_value)]
                    let output: Result<(), Error> = {
                        body
                    };
                    #[allow(unreachable_code, clippy::needless_return)]
                    return output;
                };
                runtime.block_on(body)
            }
        };
        assert_eq!(expanded.to_string(), documented.to_string());
    }

    #[test]
    fn a_test_is_marked_and_pinned_behind_dyn_future() {
        let expanded = entry(
            Kind::Test,
            quote!(),
            quote! {
                #[should_panic]
                async fn fails() {
                    body
                }
            },
        )
        .to_string();
        let marked = quote!(#[::core::prelude::v1::test] #[should_panic] fn fails()).to_string();
        assert!(expanded.starts_with(&marked), "{expanded}");
        let pinned = quote!(::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>>);
        assert!(expanded.contains(&pinned.to_string()), "{expanded}");
    }

    #[test]
    fn an_impl_trait_return_type_goes_without_annotation() {
        let expanded = entry(
            Kind::Main,
            quote!(),
            quote!(
                async fn main() -> impl Termination {
                    body
                }
            ),
        )
        .to_string();
        assert!(!expanded.contains("output"), "{expanded}");
    }

    #[test]
    fn a_refused_main_leaves_a_stand_in_so_main_is_still_found() {
        let expanded = entry(
            Kind::Main,
            quote!(),
            quote!(
                async fn main(n: u32) {}
            ),
        )
        .to_string();
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert!(
            expanded.ends_with(
                &quote!(
                    fn main() {}
                )
                .to_string()
            ),
            "{expanded}"
        );
    }
}
