//! `Config`: what a reactor does after a write to one of its own sockets (see `local_peer.rs`).

use std::fmt;

/// How a [`Reactor`](crate::Reactor) treats a write whose peer is another socket of this
/// process: whether the writer wakes the peer's reader at once ("the look after a write",
/// [`ReactorHandle::wake_one_ready`](crate::ReactorHandle::wake_one_ready)), and how those wakes are made.
///
/// # Examples
///
/// ```
/// use nursery_reactor::{Config, Reactor};
///
/// // Writes to our own sockets wake their readers at once (off by default).
/// let reactor = Reactor::with_config(Config::new().wake_local_peers(true))?;
/// # drop(reactor);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Config {
    pub(crate) wake_local_peers: bool,
}

impl Config {
    /// The default: writes never look for their peer's reader (it waits for the reactor's turn).
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::with_config(nursery_reactor::Config::new())?;
    /// # drop(reactor);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Config {
        Config {
            wake_local_peers: false,
        }
    }

    /// Whether a write to a stream whose peer is a socket of this process (a loopback TCP
    /// connection between two of our streams, a Unix stream whose peer process is this one)
    /// wakes the peer's reader from inside the write (default `false`). Writes to any other
    /// peer never do.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = nursery_reactor::Config::new().wake_local_peers(true);
    /// let reactor = nursery_reactor::Reactor::with_config(config)?;
    /// # drop(reactor);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wake_local_peers(mut self, on: bool) -> Config {
        self.wake_local_peers = on;
        self
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("wake_local_peers", &self.wake_local_peers)
            .finish_non_exhaustive()
    }
}
