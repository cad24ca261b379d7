//! The options inside `#[nursery::main(...)]` / `#[nursery::test(...)]`: parsing, validation and
//! the error a user sees for each mistake.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitInt, LitStr, Path, Token};

/// What the attribute asked for. Every field is `None` when the option was not given, and the
/// expansion then leaves the [`Builder`](https://docs.rs/nursery) default in place.
#[derive(Default)]
pub(crate) struct Options {
    /// `worker_threads = N`: the literal, kept for its span; its value is at least 1.
    pub(crate) worker_threads: Option<LitInt>,
    /// `thread_name = "..."`.
    pub(crate) thread_name: Option<LitStr>,
    /// `crate = "path"`: where the nursery crate is; `::nursery` when absent.
    pub(crate) crate_path: Option<Path>,
    /// `start_paused = true`: the value, and the option's name for errors (tests only).
    pub(crate) start_paused: Option<(Span, bool)>,
}

impl Options {
    /// The path the expansion names the runtime through.
    pub(crate) fn crate_path(&self) -> TokenStream {
        match &self.crate_path {
            Some(path) => quote!(#path),
            None => quote!(::nursery),
        }
    }
}

/// The options we know, so that a typo gets the list and a value of the wrong kind gets an
/// example of the right one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    WorkerThreads,
    ThreadName,
    Crate,
    StartPaused,
}

impl Key {
    const ALL: [Key; 4] = [
        Key::WorkerThreads,
        Key::ThreadName,
        Key::Crate,
        Key::StartPaused,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Key::WorkerThreads => "worker_threads",
            Key::ThreadName => "thread_name",
            Key::Crate => "crate",
            Key::StartPaused => "start_paused",
        }
    }

    /// How a correct use reads, quoted in error messages.
    fn example(self) -> &'static str {
        match self {
            Key::WorkerThreads => "worker_threads = 4",
            Key::ThreadName => "thread_name = \"my-worker\"",
            Key::Crate => "crate = \"my_crate::nursery\"",
            Key::StartPaused => "start_paused = true",
        }
    }

    fn from_ident(ident: &Ident) -> Option<Key> {
        Key::ALL.into_iter().find(|name| ident == name.as_str())
    }
}

/// One `name` or `name = value` as written, before validation.
struct RawOption {
    name: Ident,
    value: Option<Expr>,
}

impl Parse for RawOption {
    fn parse(input: ParseStream) -> syn::Result<RawOption> {
        if !input.peek(Ident::peek_any) {
            let examples = Key::ALL
                .iter()
                .map(|name| format!("`{}`", name.example()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(input.error(format!("expected an option such as {examples}")));
        }
        // `parse_any` accepts keywords, so that `crate = ...` parses as a name.
        let name = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse::<Expr>()?)
        } else if input.is_empty() || input.peek(Token![,]) {
            None
        } else {
            let hint = Key::from_ident(&name).map_or_else(
                || format!("`{name} = value`"),
                |n| format!("`{}`", n.example()),
            );
            // Point at the whole stray token, `(4)` rather than its `(`.
            let stray: TokenTree = input.parse()?;
            return Err(syn::Error::new(
                stray.span(),
                format!("expected `=` after `{name}`: options are written {hint}"),
            ));
        };
        Ok(RawOption { name, value })
    }
}

/// Parses the attribute's arguments. All the mistakes found are reported together, next to the
/// options that were fine (so that a good `crate = ".."` still applies while another option is
/// being fixed, and the expansion does not add errors of its own).
pub(crate) fn parse(args: TokenStream) -> (Options, Option<syn::Error>) {
    let raw = match Punctuated::<RawOption, Token![,]>::parse_terminated.parse2(args) {
        Ok(raw) => raw,
        Err(error) => return (Options::default(), Some(error)),
    };

    let mut options = Options::default();
    let mut seen: Vec<Key> = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut report = |error: syn::Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };

    for RawOption { name: ident, value } in raw {
        let Some(name) = Key::from_ident(&ident) else {
            report(unknown_option(&ident));
            continue;
        };
        if seen.contains(&name) {
            report(syn::Error::new(
                ident.span(),
                format!("`{}` is given twice: keep only one", name.as_str()),
            ));
            continue;
        }
        seen.push(name);
        let Some(value) = value else {
            report(syn::Error::new(
                ident.span(),
                format!(
                    "`{}` needs a value: write `{}`",
                    name.as_str(),
                    name.example()
                ),
            ));
            continue;
        };
        let result = match name {
            Key::WorkerThreads => worker_threads(&value).map(|n| options.worker_threads = Some(n)),
            Key::ThreadName => thread_name(&value).map(|s| options.thread_name = Some(s)),
            Key::Crate => crate_path(&value).map(|p| options.crate_path = Some(p)),
            Key::StartPaused => {
                start_paused(&value).map(|b| options.start_paused = Some((ident.span(), b)))
            }
        };
        if let Err(error) = result {
            report(error);
        }
    }

    (options, errors)
}

fn unknown_option(ident: &Ident) -> syn::Error {
    let valid = Key::ALL
        .iter()
        .map(|name| format!("`{}`", name.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    // The options a `#[tokio::main]` user brings along get a word on why they have no
    // counterpart here, instead of a bare "unknown".
    let why = match ident.to_string().as_str() {
        "flavor" => {
            " (nursery has one multi-thread runtime, so there is no `flavor` to pick: \
             remove it, and use `worker_threads = 1` to run every task on one worker)"
        }
        "unhandled_panic" => {
            " (nursery never drops a panic: a panicking task cancels its siblings and the \
             panic is re-raised where its parent waits, so remove it)"
        }
        _ => "",
    };
    syn::Error::new(
        ident.span(),
        format!("unknown option `{ident}`{why}; the options are {valid}"),
    )
}

/// The literal inside `value` if it is one, looking through `(...)` and invisible groups.
fn literal(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(lit) => Some(&lit.lit),
        Expr::Paren(paren) => literal(&paren.expr),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

fn worker_threads(value: &Expr) -> syn::Result<LitInt> {
    const AT_LEAST_ONE: &str =
        "a runtime needs at least one worker thread: set `worker_threads` to 1 or more";
    let lit = match literal(value) {
        Some(Lit::Int(lit)) => lit,
        // A number in quotes: say exactly what to write.
        Some(Lit::Str(s)) if s.value().trim().parse::<usize>().is_ok() => {
            return Err(syn::Error::new(
                s.span(),
                format!(
                    "`worker_threads` takes an integer, not a string: write \
                     `worker_threads = {}`",
                    s.value().trim()
                ),
            ));
        }
        Some(_) => {
            return Err(syn::Error::new(
                value.span(),
                "`worker_threads` takes an integer: write `worker_threads = 4`",
            ));
        }
        None if is_negative_number(value) => {
            return Err(syn::Error::new_spanned(value, AT_LEAST_ONE));
        }
        None => {
            return Err(syn::Error::new_spanned(
                value,
                "`worker_threads` takes an integer literal: write `worker_threads = 4` \
                 (to choose the number at run time, build the runtime with \
                 `Runtime::builder().worker_threads(n)` instead)",
            ));
        }
    };
    let n: usize = lit.base10_parse()?;
    if n == 0 {
        return Err(syn::Error::new(lit.span(), AT_LEAST_ONE));
    }
    // Re-emit the value without its suffix, so that `4u8` cannot change the type the builder
    // receives.
    Ok(LitInt::new(&n.to_string(), lit.span()))
}

/// `-1`, `-(2)`: a number, just not one a runtime can have.
fn is_negative_number(value: &Expr) -> bool {
    match value {
        Expr::Unary(unary) => {
            matches!(unary.op, syn::UnOp::Neg(_))
                && matches!(literal(&unary.expr), Some(Lit::Int(_) | Lit::Float(_)))
        }
        Expr::Paren(paren) => is_negative_number(&paren.expr),
        Expr::Group(group) => is_negative_number(&group.expr),
        _ => false,
    }
}

fn thread_name(value: &Expr) -> syn::Result<LitStr> {
    match literal(value) {
        Some(Lit::Str(s)) => Ok(s.clone()),
        _ => Err(syn::Error::new(
            value.span(),
            "`thread_name` takes a string literal: write `thread_name = \"my-worker\"`",
        )),
    }
}

fn start_paused(value: &Expr) -> syn::Result<bool> {
    match literal(value) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(syn::Error::new(
            value.span(),
            "`start_paused` takes `true` or `false`: write `start_paused = true`",
        )),
    }
}

fn crate_path(value: &Expr) -> syn::Result<Path> {
    let message = "`crate` takes the path to the nursery crate as a string: write \
                   `crate = \"my_crate::nursery\"`";
    match (literal(value), value) {
        (Some(Lit::Str(s)), _) => s.parse_with(Path::parse_mod_style).map_err(|_| {
            syn::Error::new(
                s.span(),
                format!("{message}; `{}` is not a path", s.value()),
            )
        }),
        // `crate = my_crate::nursery` without quotes reads just as clearly; take it too.
        (None, Expr::Path(path)) if path.qself.is_none() && path.attrs.is_empty() => {
            Ok(path.path.clone())
        }
        _ => Err(syn::Error::new(value.span(), message)),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::parse;

    fn error_of(args: proc_macro2::TokenStream) -> String {
        match parse(args).1 {
            Some(error) => error.to_string(),
            None => panic!("the options were accepted"),
        }
    }

    #[test]
    fn no_options_leave_every_default_in_place() {
        let (options, error) = parse(quote!());
        assert!(error.is_none());
        assert!(options.worker_threads.is_none());
        assert!(options.thread_name.is_none());
        assert_eq!(
            options.crate_path().to_string(),
            quote!(::nursery).to_string()
        );
    }

    #[test]
    fn every_option_is_read_with_a_trailing_comma() {
        let (options, error) = parse(quote!(
            worker_threads = 4u8,
            thread_name = "w",
            crate = "a::b",
            start_paused = true,
        ));
        assert!(error.is_none());
        assert_eq!(options.start_paused.map(|(_, b)| b), Some(true));
        assert_eq!(options.worker_threads.as_ref().unwrap().to_string(), "4");
        assert_eq!(options.thread_name.as_ref().unwrap().value(), "w");
        assert_eq!(options.crate_path().to_string(), quote!(a::b).to_string());
    }

    #[test]
    fn a_bare_crate_path_is_read_like_a_quoted_one() {
        let (options, error) = parse(quote!(crate = ::my::nursery));
        assert!(error.is_none());
        assert_eq!(
            options.crate_path().to_string(),
            quote!(::my::nursery).to_string()
        );
    }

    #[test]
    fn a_good_option_still_applies_next_to_a_bad_one() {
        let (options, error) = parse(quote!(crate = "a::b", worker_threads = 0));
        assert!(error.is_some());
        assert_eq!(options.crate_path().to_string(), quote!(a::b).to_string());
    }

    #[test]
    fn mistakes_are_named_with_what_to_write_instead() {
        assert!(error_of(quote!(workers = 4)).contains("the options are `worker_threads`"));
        assert!(error_of(quote!(flavor = "current_thread")).contains("one multi-thread runtime"));
        assert!(error_of(quote!(worker_threads = "4")).contains("write `worker_threads = 4`"));
        assert!(error_of(quote!(worker_threads)).contains("needs a value"));
        assert!(error_of(quote!(worker_threads = 0)).contains("at least one worker thread"));
        assert!(error_of(quote!(worker_threads = -3)).contains("at least one worker thread"));
        assert!(error_of(quote!(worker_threads = 1, worker_threads = 2)).contains("twice"));
        assert!(error_of(quote!(thread_name = 5)).contains("takes a string literal"));
        assert!(error_of(quote!(start_paused = 1)).contains("write `start_paused = true`"));
        assert!(error_of(quote!(crate = "no way")).contains("is not a path"));
        assert!(error_of(quote!(worker_threads(4))).contains("expected `=`"));
    }
}
