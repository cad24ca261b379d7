#[nursery::main]
fn main() {}
