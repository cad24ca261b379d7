// `main` may return `Result`; `?` converts the error into `main`'s error type.
use std::error::Error;

#[nursery::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = "12".parse()?;
    let doubled = nursery::spawn(async move { n * 2 }).await?;
    if doubled != 24 {
        return Err("doubling went wrong".into());
    }
    Ok(())
}
