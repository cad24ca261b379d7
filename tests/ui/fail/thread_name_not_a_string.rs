#[nursery::main(thread_name = worker)]
async fn main() {}
