// `worker_threads = N` sizes the runtime the body runs on.
#[nursery::main(worker_threads = 3)]
async fn main() {
    assert_eq!(nursery::Handle::current().worker_threads(), 3);
}
