//! `PR_SET_TIMERSLACK` (Linux, Android): how late the kernel may end this thread's timed waits.
//!
//! One `prctl` that std does not offer.

/// The timer slack a worker thread gets, in nanoseconds.
const WORKER_SLACK_NS: libc::c_ulong = 1_000;

/// Lowers the calling thread's timer slack to 1 µs, or leaves it if it is lower already.
///
/// The kernel lets a timed wait of a normal thread end up to its slack late (50 µs by default)
/// to batch wake-ups. A worker's waits are short: a searcher's doze of 50 µs took 127–133 µs at
/// the median with the default slack, 72–74 µs with 1 µs (a condvar `wait_timeout`, 2,000 waits,
/// on the 2-vCPU VM of docs/benchmarks.md).
pub fn tighten_timer_slack() {
    // SAFETY: `PR_GET_TIMERSLACK` takes no further argument and reads nothing from memory; it
    // returns the calling thread's slack in nanoseconds, or -1.
    let current = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) };
    if current < 0 || current as libc::c_ulong > WORKER_SLACK_NS {
        // SAFETY: `PR_SET_TIMERSLACK` takes the slack as a plain integer and reads nothing from
        // memory; it changes only the calling thread. A failure leaves the slack as it was.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, WORKER_SLACK_NS) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack() -> libc::c_int {
        // SAFETY: as in `tighten_timer_slack`.
        unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) }
    }

    #[test]
    fn a_default_slack_is_lowered_to_a_microsecond() {
        std::thread::spawn(|| {
            assert!(slack() > 1_000, "the test thread starts with a wider slack");
            tighten_timer_slack();
            assert_eq!(slack(), 1_000);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_slack_already_below_a_microsecond_is_left_alone() {
        std::thread::spawn(|| {
            // SAFETY: as in `tighten_timer_slack`.
            let set = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 200 as libc::c_ulong) };
            assert_eq!(set, 0);
            tighten_timer_slack();
            assert_eq!(slack(), 200);
        })
        .join()
        .unwrap();
    }
}
