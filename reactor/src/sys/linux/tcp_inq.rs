//! TCP's `TCP_INQ` (Linux 4.18+): with it on, each `recvmsg(2)` returns, in a
//! control message, how many bytes are still queued after the read. A read of
//! exactly the requested length then tells whether the socket is empty,
//! without the `read(2)` that would otherwise find out by failing with
//! `EAGAIN` (in a request/response exchange, every other read).
//!
//! Two system calls std and mio do not offer (`setsockopt` of this option, `recvmsg` with a
//! control buffer) and the walk over the control messages the kernel wrote.

use std::io;

/// Turns `TCP_INQ` on for `socket`. Failure (a kernel older than 4.18)
/// is ignored: reads then simply do not know when the socket is empty.
pub(crate) fn enable(socket: &mio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, and `on` is the `int` this option takes.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INQ,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// `recvmsg(2)` into `buf`, reading the `TCP_CM_INQ` control message: the
/// socket is drained when it says zero bytes remain (after a FIN the kernel
/// reports one, so the end of the stream is still read).
pub(crate) fn read(socket: &mio::net::TcpStream, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    use std::os::fd::AsRawFd;

    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one `int` control message, aligned for `cmsghdr`.
    let mut control = [0u64; 4];
    // SAFETY: all-zero is a valid `msghdr` (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points to one iovec over `buf` and to `control`, all
    // alive and writable for the call; the socket is non-blocking.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut drained = false;
    // SAFETY: `msg` was filled in by the kernel; the CMSG_* helpers walk
    // the control messages it wrote within `msg_controllen`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_TCP && (*cmsg).cmsg_type == libc::TCP_CM_INQ {
                let inq = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                drained = inq == 0;
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, drained))
}

/// Elsewhere: a plain read.
#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn a_read_says_drained_exactly_when_it_took_everything_queued() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let server = mio::net::TcpStream::from_std(server);
        super::enable(&server);

        // Loopback queues the bytes at the receiver before `write_all` returns.
        client.write_all(b"0123456789").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(super::read(&server, &mut buf).unwrap(), (4, false));
        let mut buf = [0u8; 6];
        assert_eq!(super::read(&server, &mut buf).unwrap(), (6, true));
        assert_eq!(&buf, b"456789");

        // After the peer's FIN, one byte is reported left: the end of the stream.
        client.write_all(b"ab").unwrap();
        drop(client);
        let mut buf = [0u8; 2];
        assert_eq!(super::read(&server, &mut buf).unwrap(), (2, false));
        assert_eq!(super::read(&server, &mut buf).unwrap(), (0, false));
    }
}
