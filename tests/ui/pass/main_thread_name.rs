// `thread_name` names the worker threads; spawned tasks run on them.
#[nursery::main(worker_threads = 2, thread_name = "ui-worker")]
async fn main() {
    let name = nursery::spawn(async { std::thread::current().name().map(str::to_owned) })
        .await
        .unwrap()
        .unwrap();
    assert!(
        name.starts_with("ui-worker-"),
        "worker thread named {name:?}"
    );
}
