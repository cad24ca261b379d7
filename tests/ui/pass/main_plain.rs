// The plainest use: an `async fn main` that awaits something.
#[nursery::main]
async fn main() {
    let answer = nursery::spawn(async { 6 * 7 }).await.unwrap();
    assert_eq!(answer, 42);
}
