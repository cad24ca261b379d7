//! `SO_PEERCRED` (Linux, Android): the process at the other end of a Unix stream, for telling
//! whether its peer is one of this process's own sockets (see `local_peer.rs`).
//!
//! One `getsockopt` that std does not offer on stable.

use std::os::fd::AsRawFd;

/// Whether the peer of the connected Unix stream `socket` is this process: the kernel records
/// the peer's pid when the connection is made (`connect`, `socketpair`). `false` when the
/// peer is another process, or when that cannot be told (an error).
pub(crate) fn peer_is_this_process(socket: &impl AsRawFd) -> bool {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a writable `ucred`, the structure this option fills, and `len` says
    // its size; the kernel writes at most `len` bytes and updates `len`.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    result == 0
        && len as usize == std::mem::size_of::<libc::ucred>()
        && u32::try_from(cred.pid).is_ok_and(|pid| pid == std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socketpair_is_this_process_at_both_ends() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(peer_is_this_process(&a));
        assert!(peer_is_this_process(&b));
    }
}
