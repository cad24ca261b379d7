// `crate = "path"` makes the expansion name the runtime through that path, as a framework that
// re-exports nursery needs. The shim below stands in for nursery and records that it was used.
mod shim {
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub static BLOCK_ONS: AtomicUsize = AtomicUsize::new(0);

    pub struct Runtime(nursery::Runtime);
    pub struct Builder(nursery::Builder);

    impl Runtime {
        pub fn builder() -> Builder {
            Builder(nursery::Runtime::builder())
        }

        pub fn block_on<F: Future>(&self, future: F) -> F::Output {
            BLOCK_ONS.fetch_add(1, Ordering::SeqCst);
            self.0.block_on(future)
        }
    }

    impl Builder {
        pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
            self.0.worker_threads(n);
            self
        }

        pub fn build(&mut self) -> std::io::Result<Runtime> {
            self.0.build().map(Runtime)
        }
    }
}

mod framework {
    pub use nursery as rt;
}

#[nursery::main(crate = "shim", worker_threads = 1)]
async fn quoted() -> u32 {
    nursery::spawn(async { 1 }).await.unwrap()
}

#[nursery::main(crate = self::shim)]
async fn unquoted() -> u32 {
    2
}

#[framework::rt::main(crate = "framework::rt")]
async fn through_a_reexport() -> u32 {
    framework::rt::spawn(async { 3 }).await.unwrap()
}

fn main() {
    assert_eq!(quoted() + unquoted(), 3);
    assert_eq!(shim::BLOCK_ONS.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(through_a_reexport(), 3);
}
