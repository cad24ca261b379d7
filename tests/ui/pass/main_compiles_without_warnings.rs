// The expansion adds no warning of its own, whatever the body's shape: a lone expression, an
// empty body, a body that never returns.
#![deny(warnings)]

#[nursery::main]
async fn single_expression() -> u32 {
    7
}

#[nursery::main(worker_threads = 1)]
async fn empty() {}

#[nursery::main(worker_threads = 1)]
async fn diverges() -> Result<(), String> {
    nursery::task::yield_now().await;
    std::process::exit(0)
}

fn main() {
    assert_eq!(single_expression(), 7);
    empty();
    diverges().unwrap();
    unreachable!("`diverges` exits the process");
}
