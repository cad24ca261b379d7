//! What a socket is, asked of the kernel by descriptor (`getsockname`, `getpeername`,
//! `SO_TYPE`, `SO_ACCEPTCONN`): the task-tree dump's description of a socket wait.

use std::mem::{size_of, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// What a wait on a socket is, as far as the kernel can tell: see [`probe_socket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketProbe {
    /// `read`, `write`, `accept` (a listener), `connect` (a stream not yet connected), `recv`
    /// or `send` (a datagram socket).
    pub op: &'static str,
    /// The socket's own address, if it has an IP one.
    pub local: Option<SocketAddr>,
    /// The connected peer's address, if any.
    pub peer: Option<SocketAddr>,
}

/// What a wait on `fd` (to write if `write`) is, as far as the kernel can tell now: for the
/// task-tree dump, which gets the descriptor from the wait hook (`set_wait_hook`). A snapshot:
/// if the socket was closed and its number reused meanwhile, it describes the new one, or none
/// (`read`/`write` with no addresses for a descriptor that is not a socket).
pub fn probe_socket(fd: RawFd, write: bool) -> SocketProbe {
    let local = address(fd, libc::getsockname);
    let peer = address(fd, libc::getpeername);
    let op = match (sock_opt(fd, libc::SO_TYPE), write) {
        (Some(libc::SOCK_DGRAM), false) => "recv",
        (Some(libc::SOCK_DGRAM), true) => "send",
        (Some(_), false) if sock_opt(fd, libc::SO_ACCEPTCONN) == Some(1) => "accept",
        (Some(_), true) if peer.is_none() => "connect",
        (_, false) => "read",
        (_, true) => "write",
    };
    SocketProbe {
        op,
        local: local.flatten(),
        peer: peer.flatten(),
    }
}

type GetName =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// `None`: the call failed (not a socket, not connected); `Some(None)`: not an IP address.
fn address(fd: RawFd, get: GetName) -> Option<Option<SocketAddr>> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is writable for `len` bytes, and `len` is a valid in-out length; on a
    // bad descriptor the call fails without writing.
    let rc = unsafe { get(fd, storage.as_mut_ptr().cast(), &mut len) };
    if rc != 0 {
        return None;
    }
    // SAFETY: zeroed, then (partly) written by the kernel: every bit pattern is a valid
    // `sockaddr_storage`.
    let storage = unsafe { storage.assume_init() };
    Some(match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`, which it is large and
            // aligned enough for.
            let sin = unsafe {
                &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for a `sockaddr_in6`.
            let sin6 = unsafe {
                &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    })
}

fn sock_opt(fd: RawFd, option: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is a writable `c_int` and `len` its size; on a bad descriptor or a
    // non-socket the call fails without writing.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::probe_socket as probe;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_listener_waits_to_accept_and_a_stream_to_read_from_its_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let wait = probe(listener.as_raw_fd(), false);
        assert_eq!(
            (wait.op, wait.local),
            ("accept", Some(listener.local_addr().unwrap()))
        );
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let wait = probe(stream.as_raw_fd(), false);
        assert_eq!(
            (wait.op, wait.peer),
            ("read", Some(listener.local_addr().unwrap()))
        );
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(probe(udp.as_raw_fd(), true).op, "send");
        assert_eq!(probe(-1, true).op, "write");
    }
}
