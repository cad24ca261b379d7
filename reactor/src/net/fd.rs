//! Access to the file descriptors of the net types (for `setsockopt` and friends).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

macro_rules! impl_fd {
    ($($ty:ty),*) => {$(
        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.source_ref().as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.source_ref().as_fd()
            }
        }
    )*};
}

impl_fd!(TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream);
