const WORKERS: usize = 4;

#[nursery::main(worker_threads = WORKERS)]
async fn main() {}
