//! Every other Unix: none of the Linux extras. Each function gives the answer that makes its
//! caller take the portable path.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::ready::Ready;

/// Not available: the turn collects every event.
pub(crate) fn oldest_ready(_epfd: RawFd) -> io::Result<Option<(usize, Ready)>> {
    Ok(None)
}

/// Cannot be told: a peer is treated as another process's.
pub(crate) fn peer_is_this_process(_socket: &impl AsRawFd) -> bool {
    false
}

pub(crate) mod tcp_inq {
    use std::io;

    /// No `TCP_INQ`: nothing to turn on.
    pub(crate) fn enable(_socket: &mio::net::TcpStream) {}

    /// A plain read: whether it emptied the socket is not known.
    pub(crate) fn read(socket: &mio::net::TcpStream, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        crate::net::stream_socket::read_not_knowing_drained(socket, buf)
    }
}
