//! The owned halves of a `UnixStream`, for moving reads and writes to different tasks
//! (the shared code is in `net/split.rs`).

use std::os::unix::net::SocketAddr;

use crate::net::unix::UnixStream;

crate::net::split::owned_halves!(UnixStream, SocketAddr);
