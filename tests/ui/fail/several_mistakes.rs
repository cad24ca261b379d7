// Every mistake is reported at once, each at its own place.
#[nursery::main(worker_threads = 0, flavour = "multi_thread")]
fn main() {}
