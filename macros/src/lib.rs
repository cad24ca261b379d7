//! The attributes of nursery: `#[nursery::main]` and `#[nursery::test]`, which turn an
//! `async fn` into a plain one that runs its body on a fresh [`Runtime`].
//!
//! This crate owns only the rewriting of the function and the compile errors for what cannot be
//! rewritten; it knows nothing of tasks or scheduling, and names the runtime only through the
//! public builder API of the `nursery` crate (`Runtime::builder()`, `Builder::worker_threads`,
//! `Builder::thread_name`, `Builder::build`, `Runtime::block_on`). Use it through the re-exports
//! `nursery::main` and `nursery::test`.
//!
//! ```
//! #[nursery::main(worker_threads = 1)]
//! async fn main() {
//!     let answer = nursery::spawn(async { 6 * 7 });
//!     assert_eq!(answer.await.unwrap(), 42);
//! }
//! ```
//!
//! [`Runtime`]: https://docs.rs/nursery/latest/nursery/struct.Runtime.html

#![forbid(unsafe_code)]

mod expand;
mod item;
mod options;

use proc_macro::TokenStream;

use crate::item::Kind;

/// Runs `async fn main` on a fresh nursery runtime.
///
/// `main` returns only after its body and every task spawned inside it are done (the body is the
/// root of the task tree, and [`block_on`] waits for the whole tree), then drops the runtime,
/// which joins its worker threads. `main` may return `()` or anything `main` may return, such as
/// `Result<(), E>`; `?` and `return` work in the body as in any function.
///
/// ```
/// #[nursery::main]
/// async fn main() {
///     let child = nursery::spawn(async { 40 + 2 });
///     assert_eq!(child.await.unwrap(), 42);
/// }
/// ```
///
/// ```
/// use std::num::ParseIntError;
///
/// #[nursery::main(worker_threads = 2, thread_name = "app-worker")]
/// async fn main() -> Result<(), ParseIntError> {
///     let n: u32 = "7".parse()?;
///     assert_eq!(n, 7);
///     Ok(())
/// }
/// ```
///
/// # Options
///
/// Written `#[nursery::main(name = value, ...)]`, each at most once:
///
/// | option | value | default |
/// |---|---|---|
/// | `worker_threads` | an integer literal, 1 or more: how many worker threads | one per CPU core |
/// | `thread_name` | a string literal: what the worker threads are called | `"nursery-worker"` |
/// | `crate` | the path of the nursery crate, in a string (or bare), for code that re-exports it | `"::nursery"` |
///
/// There is no `flavor` (nursery has one multi-thread runtime; `worker_threads = 1` runs every
/// task on one worker), no `start_paused` and no `unhandled_panic` (a panic is never dropped: it
/// cancels the panicking task's siblings and is re-raised where its parent waits).
///
/// # Expansion
///
/// ```text
/// #[nursery::main(worker_threads = 4)]
/// async fn main() -> Result<(), Error> {
///     body
/// }
/// ```
///
/// becomes, as `cargo expand` shows it:
///
/// ```text
/// fn main() -> Result<(), Error> {
///     #[allow(clippy::expect_used)]
///     let runtime = ::nursery::Runtime::builder()
///         .worker_threads(4)
///         .build()
///         .expect("#[nursery::main]: failed to build the nursery runtime");
///     let body = async move {
///         #[allow(clippy::let_unit_value)]
///         let output: Result<(), Error> = {
///             body
///         };
///         #[allow(unreachable_code, clippy::needless_return)]
///         return output;
///     };
///     runtime.block_on(body)
/// }
/// ```
///
/// The function keeps its attributes (doc comments, `#[allow]`s; inner `#![...]` attributes of
/// the body are moved onto it), its visibility and its name, so the attribute also works on a
/// function that is not `main` (it then runs a runtime each time it is called). `runtime`, `body`
/// and `output` are hygienic names that the body can neither see nor shadow.
///
/// `let output: Result<(), Error>` gives the body the function's return type up front, so that
/// `?` and `Ok(())` infer against it and a body of the wrong type is reported on the body's own
/// tokens. (A return type written with `impl Trait` cannot be named there and goes without it.)
/// The runtime is declared first so that it is dropped last, after the body's future; dropping
/// it joins its worker threads.
///
/// # Errors
///
/// The attribute refuses, with an error on the offending tokens that says what to write instead:
/// a function without `async`, a `main` with arguments or generic parameters, an unknown option
/// (the message lists the valid ones), an option without a value or with one of the wrong kind,
/// `worker_threads = 0`, and an option given twice.
///
/// [`block_on`]: https://docs.rs/nursery/latest/nursery/struct.Runtime.html#method.block_on
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh nursery runtime of its own.
///
/// Each test builds its runtime, blocks on its body until the body and every task spawned inside
/// it are done, and drops the runtime before it returns, so tests never share workers or tasks.
/// The test may return `()` or `Result<(), E>`, and composes with `#[should_panic]` and
/// `#[ignore]` written next to it. Do not add `#[test]` as well: the attribute already marks the
/// function as a test.
///
/// ```test_harness
/// #[nursery::test]
/// async fn children_finish_before_the_test_returns() {
///     let child = nursery::spawn(async { 1 + 1 });
///     assert_eq!(child.await.unwrap(), 2);
/// }
///
/// #[nursery::test(worker_threads = 1)]
/// async fn parses() -> Result<(), std::num::ParseIntError> {
///     assert_eq!("3".parse::<u8>()?, 3);
///     Ok(())
/// }
///
/// #[nursery::test]
/// #[should_panic(expected = "boom")]
/// async fn a_panic_fails_the_test() {
///     panic!("boom");
/// }
/// ```
///
/// # Options
///
/// The same as [`macro@main`]: `worker_threads = N` (at least 1; default one per CPU core),
/// `thread_name = "..."`, `crate = "path::to::nursery"`. A test that should see the scheduling of
/// a single worker says `worker_threads = 1`.
///
/// # Expansion
///
/// ```text
/// #[nursery::test]
/// #[should_panic]
/// async fn fails() {
///     body
/// }
/// ```
///
/// becomes
///
/// ```text
/// #[::core::prelude::v1::test]
/// #[should_panic]
/// fn fails() {
///     #[allow(clippy::expect_used)]
///     let runtime = ::nursery::Runtime::builder()
///         .build()
///         .expect("#[nursery::test]: failed to build the nursery runtime");
///     let body = async move {
///         #[allow(clippy::let_unit_value)]
///         let output: () = {
///             body
///         };
///         #[allow(unreachable_code, clippy::needless_return)]
///         return output;
///     };
///     let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>> =
///         ::core::pin::pin!(body);
///     runtime.block_on(body)
/// }
/// ```
///
/// As for [`macro@main`], plus one step: pinning the body behind `dyn Future` means one
/// `block_on` instance for the whole test suite instead of one per test.
///
/// # Errors
///
/// As for [`macro@main`], and also on a test function with arguments or generic parameters, and
/// on a second test attribute (`#[test]`) next to this one.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Kind::Test, args.into(), item.into()).into()
}
