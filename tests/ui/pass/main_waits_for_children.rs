// The function returns only after every task spawned inside it is done, even children whose
// handles were dropped without being awaited.
use std::sync::atomic::{AtomicUsize, Ordering};

static FINISHED: AtomicUsize = AtomicUsize::new(0);

#[nursery::main(worker_threads = 2)]
async fn run() {
    for _ in 0..10 {
        drop(nursery::spawn(async {
            for _ in 0..50 {
                nursery::task::yield_now().await;
            }
            nursery::spawn(async {
                nursery::task::yield_now().await;
                FINISHED.fetch_add(1, Ordering::SeqCst);
            });
            FINISHED.fetch_add(1, Ordering::SeqCst);
        }));
    }
}

fn main() {
    run();
    assert_eq!(FINISHED.load(Ordering::SeqCst), 20);
}
