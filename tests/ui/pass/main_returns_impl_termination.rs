// A return type written with `impl Trait` still compiles (it goes without the output annotation).
use std::process::{ExitCode, Termination};

#[nursery::main]
async fn main() -> impl Termination {
    nursery::task::yield_now().await;
    ExitCode::SUCCESS
}
