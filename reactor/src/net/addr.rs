//! Address resolution for the `impl ToSocketAddrs` arguments.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::error;

/// Every address `addr` resolves to, in order.
///
/// This is `std`'s resolution: literal addresses and `(ip, port)` pairs are
/// parsed without blocking, but a host name asks the system resolver and may
/// block the calling thread. Pass a `SocketAddr` (or resolve elsewhere) where
/// that matters.
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(error::no_addresses());
    }
    Ok(addrs)
}

/// The first address `addr` resolves to (what `std`'s `send_to` uses).
pub(crate) fn resolve_first(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(error::no_addresses)
}
