#[nursery::test(worker_threads = -1)]
async fn negative_workers() {}

fn main() {}
