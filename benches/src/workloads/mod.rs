//! One module per workload; [`WORKLOADS`] lists them in the order of the brief's table, then
//! the two borrowed from smol's `async-executor` benches.

pub mod cancel_group;
pub mod chained_spawn;
pub mod group_fanout;
pub mod ping_pong;
pub mod ring;
pub mod sleep_many;
pub mod spawn_many_local;
pub mod spawn_many_remote_idle;
pub mod spawn_recursively;
pub mod tcp_echo;
pub mod timer_churn;
pub mod yield_many;

/// A workload: its name, what it does, the ratio it must reach, and its two implementations.
#[derive(Clone, Copy)]
pub struct Workload {
    /// The name used in tables, criterion groups and `--filter`.
    pub name: &'static str,
    /// One line: what it does.
    pub what: &'static str,
    /// The highest acceptable `nursery / tokio` ratio of medians at 2 workers.
    pub target: f64,
    /// Whether the brief's table names it (the others come from smol's benches).
    pub in_brief: bool,
    /// One run on nursery.
    pub nursery: fn(&nursery::Runtime),
    /// One run on tokio.
    pub tokio: fn(&tokio::runtime::Runtime),
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The brief's target for every workload but `timer_churn`.
pub const TARGET: f64 = 0.8;
/// The brief's target for `timer_churn` (tokio guards its whole wheel with one mutex).
pub const TIMER_TARGET: f64 = 0.5;

macro_rules! workload {
    ($module:ident, $what:expr, $target:expr, $in_brief:expr) => {
        Workload {
            name: stringify!($module),
            what: $what,
            target: $target,
            in_brief: $in_brief,
            nursery: $module::nursery,
            tokio: $module::tokio,
        }
    };
}

/// Every workload.
pub const WORKLOADS: &[Workload] = &[
    workload!(
        spawn_many_local,
        "inside block_on: 10,000 spawns of a countdown task; the last signals a std channel",
        TARGET,
        true
    ),
    workload!(
        spawn_many_remote_idle,
        "10,000 Handle::spawn(async {}) from a plain thread, then await all",
        TARGET,
        true
    ),
    workload!(yield_many, "200 tasks x 1,000 yield_now", TARGET, true),
    workload!(
        ping_pong,
        "1,000 x (spawn a pair that exchanges two oneshots)",
        TARGET,
        true
    ),
    workload!(
        chained_spawn,
        "a chain of 1,000 tasks, each spawning the next",
        TARGET,
        true
    ),
    workload!(
        timer_churn,
        "4 tasks x 25,000 timeout(10 s, yield_now())",
        TIMER_TARGET,
        true
    ),
    workload!(
        sleep_many,
        "10,000 tasks each sleeping 0.5-1.5 ms",
        TARGET,
        true
    ),
    workload!(
        tcp_echo,
        "20 loopback connections x 1,000 round trips of 64 bytes",
        TARGET,
        true
    ),
    workload!(
        cancel_group,
        "10,000 pending children in one scope (tokio: JoinSet), cancel, wait until all are gone",
        TARGET,
        true
    ),
    workload!(
        group_fanout,
        "100 concurrent scopes x 100 short children (tokio: a JoinSet per group)",
        TARGET,
        true
    ),
    workload!(
        spawn_recursively,
        "300 tasks, each the head of a chain of 300 nested spawn-and-await (async-executor)",
        TARGET,
        false
    ),
    workload!(
        ring,
        "a ring of 300 tasks over bounded(1) futures channels, a token sent 300 laps",
        TARGET,
        false
    ),
];

/// The workloads whose name contains `filter` (all of them for an empty filter).
pub fn matching(filter: &str) -> Vec<Workload> {
    WORKLOADS
        .iter()
        .filter(|w| w.name.contains(filter))
        .copied()
        .collect()
}
