//! Non-blocking sockets driven by the reactor: TCP, UDP and Unix domain sockets.
//!
//! Every type registers with the reactor that [`Handle::current`](crate::Handle::current)
//! names when it is created (so create them inside a nursery runtime) and keeps
//! that handle for its whole life.
//!
//! Each socket has one reader and one writer waker: operations of the same
//! direction polled by two tasks at once wake only the last one polled. Give
//! the read side and the write side to one task each (split halves do exactly
//! that).

// `tcp` and `unix` are written once where their logic is the same: the
// connected socket in `stream_socket`, the read/write impls in `stream_io`, the
// owned halves in `split`, and the accept path and `Incoming` in `accept`.
mod accept;
mod addr;
mod split;
mod stream_io;
mod stream_socket;
pub mod tcp;
mod udp;
pub mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

mod fd;
