//! Every other Unix: none of the Linux extras. Each function gives the answer that makes its
//! caller take the portable path.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::ready::Ready;

/// Not available: the turn collects every event.
pub(crate) fn oldest_ready(_epfd: RawFd) -> io::Result<Option<(usize, Ready)>> {
    Ok(None)
}

/// No per-thread timer slack to lower: timed waits keep the OS's precision.
pub fn tighten_timer_slack() {}

/// Cannot be told: a peer is treated as another process's.
pub(crate) fn peer_is_this_process(_socket: &impl AsRawFd) -> bool {
    false
}
