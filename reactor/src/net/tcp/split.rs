//! The owned halves of a `TcpStream`, for moving reads and writes to different tasks
//! (the shared code is in `net/split.rs`).

use std::net::SocketAddr;

use crate::net::tcp::TcpStream;

crate::net::split::owned_halves!(TcpStream, SocketAddr);
