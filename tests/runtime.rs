//! R8 (nothing is global), misuse with clear errors, parallelism and fairness, and a wake that
//! races the runtime's drop (R10).

mod support;

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use support::{panic_message, runtime};

#[test]
fn two_runtimes_live_side_by_side_and_dropping_one_leaves_the_other_working() {
    let a = runtime(1);
    let b = runtime(1);
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let waiting_in_b = b.handle().spawn(async move { rx.await.unwrap() + 1 });
    assert_eq!(
        a.block_on(async { nursery::spawn(async { 1 }).await.unwrap() }),
        1
    );
    drop(a);
    tx.send(41).unwrap();
    assert_eq!(b.block_on(waiting_in_b).unwrap(), 42);
    assert_eq!(
        b.block_on(async { nursery::spawn(async { 2 }).await.unwrap() }),
        2
    );
}

#[test]
fn spawn_outside_a_runtime_panics_with_a_message_naming_the_problem() {
    let payload = catch_unwind(|| {
        nursery::spawn(async {});
    })
    .unwrap_err();
    let message = panic_message(&*payload);
    assert!(message.contains("no nursery runtime"), "{message}");
    assert!(
        message.contains("block_on"),
        "the message says what to do: {message}"
    );
}

#[test]
fn a_scope_polled_outside_a_runtime_panics_with_a_message_naming_the_problem() {
    // Creating the scope future is fine anywhere (it opens at its first poll, under the task
    // that polls it); polling it outside a runtime is the mistake.
    let scope = nursery::scope(|_s| async {});
    let payload = catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(scope);
    }))
    .unwrap_err();
    assert!(panic_message(&*payload).contains("no nursery runtime"));
}

#[test]
fn zero_worker_threads_is_rejected_with_a_clear_message() {
    let payload = catch_unwind(|| {
        let _ = nursery::Runtime::builder().worker_threads(0).build();
    })
    .unwrap_err();
    let message = panic_message(&*payload);
    assert!(message.contains("at least one worker"), "{message}");
}

#[test]
fn block_on_inside_a_worker_panics_with_a_clear_message() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(async move {
            let inner = handle.clone();
            handle.spawn(async move { inner.block_on(async {}) }).await
        })
        .unwrap_err();
    assert!(err.is_panic());
    let message = err.panic_message().unwrap().to_owned();
    assert!(message.contains("worker thread"), "{message}");
    assert!(
        message.contains(".await"),
        "the message says what to do: {message}"
    );
}

#[test]
fn block_on_inside_block_on_panics_with_a_clear_message() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let payload = catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async move { handle.block_on(async {}) })
    }))
    .unwrap_err();
    assert!(panic_message(&*payload).contains("inside another block_on"));
}

#[test]
fn two_busy_tasks_run_on_two_workers_at_once() {
    let rt = runtime(2);
    let arrived = Arc::new(AtomicUsize::new(0));
    let busy = |arrived: Arc<AtomicUsize>| async move {
        arrived.fetch_add(1, SeqCst);
        // Spin (never yielding) until the other task has started too: possible only if both
        // occupy a worker at the same time. Bounded, so a serial runtime fails instead of hanging.
        let deadline = Instant::now() + Duration::from_secs(10);
        while arrived.load(SeqCst) < 2 {
            assert!(
                Instant::now() < deadline,
                "the other task never ran in parallel"
            );
            std::hint::spin_loop();
        }
    };
    let a = rt.handle().spawn(busy(arrived.clone()));
    let b = rt.handle().spawn(busy(arrived.clone()));
    rt.block_on(async {
        a.await.unwrap();
        b.await.unwrap();
    });
}

/// Wakes `count` idle tasks from one task, all in one poll. Each woken task, when it runs,
/// occupies its worker until another woken task has started too: possible only if a second
/// worker picks some of them up. Bounded, so a runtime that never shares them fails.
fn wake_many_from_one_task(rt: &nursery::Runtime, count: usize) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let parked = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..count {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        senders.push(tx);
        let (arrived, parked) = (arrived.clone(), parked.clone());
        handles.push(rt.handle().spawn(async move {
            parked.fetch_add(1, SeqCst);
            rx.await.unwrap();
            arrived.fetch_add(1, SeqCst);
            let deadline = Instant::now() + Duration::from_secs(10);
            while arrived.load(SeqCst) < 2 {
                assert!(
                    Instant::now() < deadline,
                    "the other woken tasks were never picked up by another worker"
                );
                std::hint::spin_loop();
            }
        }));
    }
    support::wait_for_count(&parked, count);
    let waker = rt.handle().spawn(async move {
        // Resumed by its timer: the worker that runs it was not woken to search (a searcher
        // that finds work wakes a peer on its own, which would make this test pass anyway).
        nursery::time::sleep(Duration::from_millis(20)).await;
        for tx in senders {
            tx.send(()).unwrap();
        }
    });
    rt.block_on(async move {
        waker.await.unwrap();
        for handle in handles {
            handle.await.unwrap();
        }
    });
}

#[test]
fn tasks_queued_behind_a_poll_that_blocks_its_worker_are_rescued_by_the_monitor() {
    // Three woken tasks, and the first one blocks its worker (spinning). Liveness: the others
    // must still run. Besides the scheduler's own wake of a peer, two safety nets see to it: the
    // stall monitor sees the worker stuck and wakes a peer (`Scheduler::share_backlog_of`),
    // and a parked worker wakes to fire another worker's overdue timers (the waker's sleep
    // here). scheduler/tests/wake_policy.rs tests the wake rules one by one.
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .stall_threshold(Some(Duration::from_millis(50)))
        .on_stall(|_| {})
        .build()
        .unwrap();
    wake_many_from_one_task(&rt, 3);
}

#[test]
fn a_task_that_never_yields_on_its_own_cannot_starve_others_on_one_worker() {
    let rt = runtime(1);
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let spinner = rt.handle().spawn(async move {
        // Always-ready work: only the cooperative budget makes this task give way. Bounded by
        // time, not by a count: under valgrind, which runs one thread at a time, the thread
        // spawning the setter below may not get to run for a long while (10,000,000 rounds
        // were once not enough there).
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            for _ in 0..1_000 {
                if f.load(SeqCst) {
                    return true;
                }
                nursery::task::consume_budget().await;
            }
        }
        false
    });
    let setter = rt.handle().spawn(async move { flag.store(true, SeqCst) });
    assert!(rt.block_on(spinner).unwrap(), "the other task never ran");
    rt.block_on(setter).unwrap();
}

#[test]
fn an_idle_runtime_wakes_for_a_spawn_from_a_plain_thread() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    for i in 0..200 {
        let h = handle.clone();
        let out = std::thread::spawn(move || {
            let task = h.spawn(async move { i * 2 });
            // Wait from the plain thread without block_on: a parked worker must wake.
            futures::executor::block_on(task).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(out, i * 2);
    }
}

/// CPU time (user + system, in clock ticks) of this process's threads whose name starts with
/// `prefix`, from /proc.
#[cfg(target_os = "linux")]
fn cpu_ticks_of_threads(prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // Fields after the parenthesised name: state is field 3, utime 14 and stime 15.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

#[cfg(target_os = "linux")]
#[test]
fn after_a_burst_of_spawns_from_a_plain_thread_the_workers_use_no_cpu() {
    // Workers fed from outside watch the injector for a few microseconds before they park:
    // that must end. Measured over 300 ms of idleness (the quantity itself, not a wait for an
    // event); a worker that kept spinning would use all of it.
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .thread_name("idlecpu")
        .stall_threshold(None)
        .build()
        .unwrap();
    let handles: Vec<_> = (0..2_000)
        .map(|i| rt.handle().spawn(async move { i }))
        .collect();
    rt.block_on(async move {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let before = cpu_ticks_of_threads("idlecpu");
    std::thread::sleep(Duration::from_millis(300));
    let used = cpu_ticks_of_threads("idlecpu") - before;
    // One tick is 10 ms with the usual USER_HZ of 100; allow one for rounding.
    assert!(used <= 1, "idle workers used {used} ticks of CPU in 300 ms");
}

/// The calling thread's timer slack in nanoseconds (how late the kernel may end its timed
/// waits), from /proc.
#[cfg(target_os = "linux")]
fn own_timer_slack_ns() -> u64 {
    // The first field of a thread's stat is its kernel id; /proc/<tid> shows that thread.
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let tid = stat.split(' ').next().unwrap();
    let slack = std::fs::read_to_string(format!("/proc/{tid}/timerslack_ns")).unwrap();
    slack.trim().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn worker_threads_wait_with_a_microsecond_of_timer_slack() {
    // With the kernel's default 50 µs, a searcher's 50 µs doze lasted about 130 µs, and a task
    // held up behind its worker's long poll waited that long for the dozer.
    assert!(
        own_timer_slack_ns() > 1_000,
        "the test thread starts with a wider slack than the workers get"
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .on_thread_start(move || record.lock().unwrap().push(own_timer_slack_ns()))
        .build()
        .unwrap();
    drop(rt); // joins the workers: both start hooks have run
    assert_eq!(*seen.lock().unwrap(), [1_000, 1_000]);
}

/// Tasks spawned from plain threads get recycled cells (`scheduler/src/task/recycle.rs`), which
/// workers free and hand back in batches while other threads keep spawning: a cell given out
/// twice, or reused while its task lives, would show as a task seeing or returning another's
/// data. Four threads spawn futures of three sizes (three size classes) in rounds; half the
/// handles are awaited from the spawning thread (the last reference then often dies there),
/// half dropped at once (it dies on a worker). Every task checks its own data and counts itself.
#[test]
fn tasks_spawned_from_many_plain_threads_at_once_each_keep_their_own_cell() {
    const THREADS: u64 = 4;
    const TASKS: u64 = 3_000;
    const ROUNDS: u64 = 10;

    fn words<const N: usize>(seed: u64) -> [u64; N] {
        std::array::from_fn(|i| seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64)
    }

    fn digest(words: &[u64]) -> u64 {
        words.iter().fold(0, |a, w| a.rotate_left(5) ^ w)
    }

    async fn check<const N: usize>(seed: u64, checked: Arc<AtomicUsize>) -> u64 {
        let data = words::<N>(seed);
        nursery::task::yield_now().await; // other tasks run, and cells are freed, meanwhile
        assert_eq!(data, words::<N>(seed), "task {seed} found its data changed");
        checked.fetch_add(1, SeqCst);
        digest(&data)
    }

    let rt = runtime(2);
    let checked = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|threads| {
        for t in 0..THREADS {
            let handle = rt.handle().clone();
            let checked = checked.clone();
            threads.spawn(move || {
                // Rounds, so that later rounds spawn into cells the earlier ones freed.
                for round in 0..ROUNDS {
                    let mut kept = Vec::new();
                    for i in 0..TASKS / ROUNDS {
                        let seed = (t * ROUNDS + round) * TASKS + i;
                        let checked = checked.clone();
                        let (task, expected) = match i % 3 {
                            0 => (
                                handle.spawn(check::<4>(seed, checked)),
                                digest(&words::<4>(seed)),
                            ),
                            1 => (
                                handle.spawn(check::<16>(seed, checked)),
                                digest(&words::<16>(seed)),
                            ),
                            _ => (
                                handle.spawn(check::<64>(seed, checked)),
                                digest(&words::<64>(seed)),
                            ),
                        };
                        if i % 2 == 0 {
                            kept.push((task, expected));
                        }
                    }
                    for (task, expected) in kept {
                        let got = futures::executor::block_on(task).expect("a task cannot fail");
                        assert_eq!(got, expected, "a task returned another task's result");
                    }
                }
            });
        }
    });
    let all = (THREADS * TASKS) as usize;
    support::eventually(Duration::from_secs(10), || match checked.load(SeqCst) {
        n if n == all => Ok(()),
        n => Err(format!(
            "only {n} of {all} tasks found their own data intact"
        )),
    });
}

/// R10: nothing touches the scheduler after it is freed, whatever thread a wake comes from. A
/// wake from a plain thread pushes its task into the injector and then notifies a worker; in
/// between, a worker may run the task to completion and the runtime may be dropped. Each round
/// races exactly that: a task hands its waker to a plain thread and completes once woken, and
/// the main thread drops the runtime as soon as it has. The window is a few instructions wide,
/// so a plain build rarely sees it; under AddressSanitizer (`RUSTC_BOOTSTRAP=1
/// RUSTFLAGS=-Zsanitizer=address cargo test --target x86_64-unknown-linux-gnu -p nursery --test
/// runtime a_wake_from`) a wake that reads the freed scheduler or driver is reported as a
/// heap-use-after-free: in about one run in five before the wake counted the scheduler.
#[test]
fn a_wake_from_a_plain_thread_racing_the_runtimes_drop_touches_nothing_freed() {
    const ROUNDS: usize = 2_000;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut round = 0;
    while round < ROUNDS && Instant::now() < deadline {
        let rt = runtime(1 + round % 2);
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let handed = slot.clone();
        let mut first = true;
        let task = rt.handle().spawn(std::future::poll_fn(move |cx| {
            if !std::mem::replace(&mut first, false) {
                return Poll::Ready(());
            }
            *handed.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }));
        // The plain thread spins rather than blocks, so that it wakes the task while the worker
        // is still awake: then the worker can run the task without the wake's notify.
        let plain = std::thread::spawn(move || {
            let started = Instant::now();
            let waker = loop {
                if let Some(waker) = slot.lock().unwrap().take() {
                    break waker;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "the task never handed over its waker"
                );
                std::thread::yield_now();
            };
            waker.wake();
        });
        rt.block_on(task).expect("the task completes once woken");
        drop(rt);
        plain.join().expect("the waking thread panicked");
        round += 1;
    }
}
