//! Virtual time: a retry loop with a 30-second timeout per attempt, against a server that
//! answers after 75 seconds, runs in milliseconds on a runtime whose clock starts paused.
//!
//! `cargo run --example virtual_time`

use std::time::Duration;

use nursery::time::{sleep, timeout, Instant};

fn main() {
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .start_paused(true)
        .build()
        .expect("failed to build the runtime");
    let real = std::time::Instant::now();
    rt.block_on(async {
        let start = Instant::now();
        let (answer, mut reply) = futures::channel::oneshot::channel();
        nursery::spawn(async move {
            sleep(Duration::from_secs(75)).await; // a slow server
            let _ = answer.send("pong");
        });
        for attempt in 1.. {
            match timeout(Duration::from_secs(30), &mut reply).await {
                Ok(answer) => {
                    println!("attempt {attempt}: {answer:?} at {:?}", start.elapsed());
                    break;
                }
                Err(_) => println!("attempt {attempt}: timed out at {:?}", start.elapsed()),
            }
        }
    });
    println!(
        "75 s of virtual time took {:?} of real time",
        real.elapsed()
    );
}
