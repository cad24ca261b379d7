//! A printable snapshot of the live task tree.

use std::fmt::{self, Write as _};

use nursery_scheduler::{NodeInfo, Wait};

use crate::handle::Handle;

/// A snapshot of every live node of a runtime's task tree, from [`Handle::task_tree`].
/// `Display` prints it as an indented tree, each waiting node with what it waits on (see
/// [`NodeInfo::waiting_on`]): where a hung service is stuck, in one dump.
///
/// ```text
/// root #1 [root, idle, 1 children], age 1.2s
///   scope#2 [scope, idle, 3 children] at src/main.rs:10:5, age 1.2s — waiting on task #4
///     'server' #3 [task, idle] at src/main.rs:12:9, age 1.2s — waiting on accept 127.0.0.1:8080
///     'conn' #4 [task, idle] at src/main.rs:20:13, age 0.8s — waiting on read from 127.0.0.1:51234 (local 127.0.0.1:8080)
///     'tick' #5 [task, idle] at src/main.rs:30:5, age 1.2s — waiting on timer (deadline in 3.5s)
///     'legacy' #6 [task, idle] at src/main.rs:40:5, age 1.2s — waiting on something outside nursery (for 1.1s)
/// ```
///
/// Or look at the nodes themselves:
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let server = nursery_runtime::task::Builder::new()
///         .name("server")
///         .spawn(std::future::pending::<()>());
///     let tree = nursery_runtime::Handle::current().task_tree();
///     let (depth, node) = tree
///         .nodes
///         .iter()
///         .find(|(_, node)| node.name.as_deref() == Some("server"))
///         .unwrap();
///     assert_eq!(*depth, 2); // root > block_on > server
///     assert_eq!(node.kind, "task");
///     server.cancel();
/// });
/// ```
#[derive(Debug, Clone)]
pub struct TaskTree {
    /// Every node, depth-first, with its depth.
    pub nodes: Vec<(usize, NodeInfo)>,
}

impl Handle {
    /// A snapshot of the live task tree: every task and scope with its name, parent, state, age
    /// and spawn location. Walks the tree without stopping it (each node is locked briefly).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// rt.block_on(async move {
    ///     let _child = nursery_runtime::task::Builder::new()
    ///         .name("sleeper")
    ///         .spawn(nursery_runtime::time::sleep(std::time::Duration::from_millis(50)));
    ///     let tree = handle.task_tree().to_string();
    ///     assert!(tree.contains("'sleeper'"), "{tree}");
    /// });
    /// ```
    pub fn task_tree(&self) -> TaskTree {
        let mut nodes = Vec::new();
        self.root().walk(|depth, info| {
            let mut info = info.clone();
            if let Some(Wait::Io { fd, write }) = info.waiting_on {
                let probe = nursery_reactor::probe_socket(fd, write);
                info.socket = Some(nursery_scheduler::SocketWait {
                    op: probe.op,
                    local: probe.local,
                    peer: probe.peer,
                });
            }
            nodes.push((depth, info));
        });
        TaskTree { nodes }
    }
}

/// Lets the reactor tell the current task which socket it waits on (see `nursery_reactor::probe_socket`).
pub(crate) fn install_wait_hook() {
    nursery_reactor::set_wait_hook(|fd, interest| {
        nursery_scheduler::current_node::record_wait(Wait::Io {
            fd,
            write: interest.is_writable(),
        });
    });
}

impl TaskTree {
    /// Live tasks (not scopes) in the snapshot: those listed, and those counted as starting
    /// (an unnamed task joins the tree's lists when it first waits; see
    /// [`NodeInfo::starting_children`](crate::task::NodeInfo::starting_children)).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let a = s.spawn(std::future::pending::<()>());
    ///     let b = s.spawn(std::future::pending::<()>());
    ///     // Two tasks; the root, block_on's body and the scope are not tasks.
    ///     assert_eq!(nursery_runtime::Handle::current().task_tree().task_count(), 2);
    ///     a.cancel();
    ///     b.cancel();
    /// }));
    /// ```
    pub fn task_count(&self) -> usize {
        let listed = self.nodes.iter().filter(|(_, n)| n.kind == "task").count();
        let starting: usize = self.nodes.iter().map(|(_, n)| n.starting_children).sum();
        listed + starting
    }
}

/// Levels of indentation before the dump switches to printing the depth.
const MAX_INDENT: usize = 32;

impl TaskTree {
    /// What `node` waits on, in words.
    fn write_wait(&self, line: &mut String, node: &NodeInfo, wait: Wait) -> fmt::Result {
        match wait {
            Wait::Timer { deadline } => {
                let now = std::time::Instant::now();
                match deadline.checked_duration_since(now) {
                    Some(left) => write!(line, "timer (deadline in {left:.1?})"),
                    None => write!(line, "timer (deadline passed {:.1?} ago)", now - deadline),
                }
            }
            Wait::Io { fd, write } => match node.socket {
                Some(socket) => {
                    line.push_str(socket.op);
                    match (socket.op, socket.local, socket.peer) {
                        ("accept", Some(local), _) => write!(line, " {local}"),
                        ("connect", _, _) => write!(line, " (socket fd {fd})"),
                        (_, local, Some(peer)) => {
                            write!(line, " {} {peer}", if write { "to" } else { "from" })?;
                            match local {
                                Some(local) => write!(line, " (local {local})"),
                                None => Ok(()),
                            }
                        }
                        (_, Some(local), None) => write!(line, " on {local}"),
                        (_, None, None) => write!(line, " (fd {fd})"),
                    }
                }
                None => write!(line, "{} (fd {fd})", if write { "write" } else { "read" }),
            },
            Wait::Join { task } => write!(line, "task #{task}"),
            Wait::Scope { scope } => {
                write!(line, "scope #{scope}")?;
                match self.nodes.iter().find(|(_, n)| n.id == scope) {
                    Some((_, s)) => write!(line, " ({} live children)", s.live_children),
                    None => Ok(()),
                }
            }
            Wait::Channel { kind } => write!(line, "a {kind} channel"),
            Wait::Blocking => write!(line, "a spawn_blocking job"),
            Wait::Other { what } => write!(line, "{what}"),
            Wait::Foreign { since } => write!(line, "something outside nursery (for {since:.1?})"),
            other => write!(line, "{other:?}"),
        }
    }
}

impl fmt::Display for TaskTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (depth, node) in &self.nodes {
            let mut line = String::new();
            // Indentation stops growing at MAX_INDENT levels (a chain 100,000 deep would
            // otherwise print gigabytes of spaces); deeper lines say their depth instead.
            for _ in 0..(*depth).min(MAX_INDENT) {
                line.push_str("  ");
            }
            if *depth > MAX_INDENT {
                write!(line, "[depth {depth}] ")?;
            }
            match &node.name {
                Some(name) => write!(line, "'{name}' #{}", node.id)?,
                None if node.kind == "root" => write!(line, "root #{}", node.id)?,
                None => write!(line, "{}#{}", node.kind, node.id)?,
            }
            write!(line, " [{}, {}", node.kind, node.state)?;
            if node.live_children > 0 {
                write!(line, ", {} children", node.live_children)?;
            }
            if node.starting_children > 0 {
                write!(line, ", {} starting", node.starting_children)?;
            }
            line.push(']');
            if let Some(at) = node.location {
                write!(line, " at {at}")?;
            }
            write!(line, ", age {:.1?}", node.age)?;
            if let Some(wait) = node.waiting_on {
                line.push_str(" — waiting on ");
                self.write_wait(&mut line, node, wait)?;
            }
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
