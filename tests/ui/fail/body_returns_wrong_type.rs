// A body whose value does not match the return type is reported in the body, not in the
// expansion.
#[nursery::main]
async fn main() -> Result<(), std::io::Error> {
    42
}
