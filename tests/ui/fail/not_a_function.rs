#[nursery::main]
struct Main;

fn main() {}
