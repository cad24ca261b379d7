fn main() {
    let rt = nursery::Runtime::builder().worker_threads(2).build().unwrap();
    let n = rt.block_on(async {
        let mut hs = Vec::new();
        for i in 0..1000u64 {
            hs.push(nursery::spawn(async move {
                nursery::task::yield_now().await;
                i
            }));
        }
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    println!("sum {n}");
    let r = rt.block_on(async {
        nursery::scope(|s| async move {
            let h = s.spawn(async { nursery::spawn(async { 5 }).await.unwrap() * 2 });
            h.await.unwrap()
        })
        .await
    });
    println!("scope {r}");
    drop(rt);
    println!("dropped");
}
