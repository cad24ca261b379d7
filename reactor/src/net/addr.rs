//! Address arguments: the [`ToSocketAddrs`] trait the net types take, and [`lookup_host`].
//!
//! An argument is either already an address (a `SocketAddr`, an `(ip, port)` pair, a string
//! that parses as `ip:port`) or a host name. Addresses are used as they are, with no thread
//! hop and no allocation beyond the list. A host name goes to the system resolver
//! (`getaddrinfo`), which blocks: the reactor hands that call to the [offload](crate::ReactorHandle::set_offload)
//! its owner installed (the nursery runtime installs its blocking pool), so no thread that polls
//! tasks ever waits for DNS. The lookup runs outside the task tree: dropping the waiting future
//! abandons it, and nobody waits for the call to return (its result is dropped). A reactor with
//! no offload resolves on the calling thread, as `std` does.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::error;
use crate::reactor::ReactorHandle;

/// What the net types accept as an address: the types `std::net::ToSocketAddrs` is implemented
/// for (`SocketAddr`, `(IpAddr, u16)`, `"host:port"`, `(&str, u16)`, `String`,
/// `&[SocketAddr]`, and `&` of any of them).
///
/// Unlike `std`'s trait, resolving a host name never blocks the thread that polls the task:
/// see [`lookup_host`]. The trait is sealed; to pass something else, resolve it first and pass
/// the `SocketAddr`s.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use nursery::net::TcpListener;
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let a = TcpListener::bind("127.0.0.1:0").await?; // a literal: parsed, never looked up
///     let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
///     let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
///     let d = TcpListener::bind(("localhost", 0)).await?; // a name: looked up off the workers
///     assert!(d.local_addr()?.ip().is_loopback());
///     # drop((a, b, c));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use std::io;
    use std::net::SocketAddr;

    /// How an argument is resolved (the sealed part of [`ToSocketAddrs`](super::ToSocketAddrs)).
    pub trait ToSocketAddrsPriv {
        /// The addresses, if the argument is one or more; otherwise the name to look up.
        fn to_query(&self) -> Query;
    }

    /// An argument, classified without blocking.
    #[derive(Debug)]
    pub enum Query {
        /// One literal address (no allocation: `send_to` in a loop stays cheap).
        One(SocketAddr),
        /// Literal addresses.
        Many(Vec<SocketAddr>),
        /// A host name to look up, with the port to put in every address.
        Name(String, u16),
        /// Why the argument is malformed.
        Invalid(io::Error),
    }
}

use sealed::{Query, ToSocketAddrsPriv};

macro_rules! literal_addrs {
    ($($ty:ty),* $(,)?) => {$(
        impl ToSocketAddrs for $ty {}
        impl ToSocketAddrsPriv for $ty {
            fn to_query(&self) -> Query {
                Query::One(SocketAddr::from(*self))
            }
        }
    )*};
}

literal_addrs!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
);

/// `(host, port)`: an IP literal is used as is, anything else is a name.
fn host_port(host: &str, port: u16) -> Query {
    match host.parse::<IpAddr>() {
        Ok(ip) => Query::One(SocketAddr::new(ip, port)),
        Err(_) => Query::Name(host.to_owned(), port),
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_query(&self) -> Query {
        host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_query(&self) -> Query {
        host_port(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    /// `ip:port` is parsed; `host:port` is a name; anything else is an `InvalidInput` error
    /// (as with `std`).
    fn to_query(&self) -> Query {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Query::One(addr);
        }
        let invalid = |why: &str| {
            Query::Invalid(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid socket address {self:?}: {why}"),
            ))
        };
        let Some((host, port)) = self.rsplit_once(':') else {
            return invalid("expected host:port");
        };
        match port.parse::<u16>() {
            Ok(port) => host_port(host, port),
            Err(_) => invalid("invalid port value"),
        }
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_query(&self) -> Query {
        self.as_str().to_query()
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl ToSocketAddrsPriv for [SocketAddr] {
    fn to_query(&self) -> Query {
        Query::Many(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrsPriv for &T {
    fn to_query(&self) -> Query {
        (**self).to_query()
    }
}

/// Looks up every address `host` stands for, without blocking the calling thread: a literal
/// address is parsed on the spot; a host name is resolved by the system resolver on the
/// runtime's blocking pool.
///
/// The lookup runs outside the task tree, so dropping this future (a timeout, a cancelled
/// task) abandons it at once: the caller, and its scope, are not held up by a resolver that is
/// slow to answer; the call finishes in the background and its result is dropped. (Runtime
/// shutdown still joins a pool thread that is inside such a call.)
///
/// # Panics
///
/// When a name must be looked up and no nursery reactor is entered on this thread (outside a
/// nursery runtime).
///
/// # Errors
///
/// A malformed argument (`InvalidInput`), or a name the resolver cannot resolve: the error
/// names the host.
///
/// # Examples
///
/// ```
/// use nursery::net::lookup_host;
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let addrs: Vec<_> = lookup_host("localhost:80").await?.collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
///
///     let err = lookup_host("no-such-host.invalid:80").await.unwrap_err();
///     assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn lookup_host(
    host: impl ToSocketAddrs,
) -> io::Result<impl Iterator<Item = SocketAddr> + fmt::Debug> {
    resolve(host).await.map(Vec::into_iter)
}

/// Every address `addr` stands for, in order; never empty.
pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    addrs_of(addr.to_query()).await
}

/// The first address `addr` stands for (what `std`'s `send_to` uses).
pub(crate) async fn resolve_first(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    match addr.to_query() {
        Query::One(addr) => Ok(addr),
        query => Ok(addrs_of(query).await?[0]),
    }
}

/// The addresses of a query, looking a name up if need be; never empty.
async fn addrs_of(query: Query) -> io::Result<Vec<SocketAddr>> {
    let addrs = match query {
        Query::One(addr) => vec![addr],
        Query::Many(addrs) => addrs,
        Query::Name(host, port) => lookup_name(host, port).await?,
        Query::Invalid(e) => return Err(e),
    };
    if addrs.is_empty() {
        return Err(error::no_addresses());
    }
    Ok(addrs)
}

/// Resolves a name through the current reactor's offload (inline without one).
async fn lookup_name(host: String, port: u16) -> io::Result<Vec<SocketAddr>> {
    let handle = ReactorHandle::current();
    let Some(offload) = handle.offload() else {
        return blocking_lookup(&host, port);
    };
    let shared = Arc::new(Mutex::new(Shared::default()));
    let waiting = Lookup {
        shared: shared.clone(),
        host: host.clone(),
    };
    let job = Job { shared };
    offload(Box::new(move || job.run(&host, port)));
    waiting.await
}

/// `getaddrinfo` through `std`, with errors that name the host.
fn blocking_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    match std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("could not resolve host {host:?} to any address"),
                ))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("could not resolve host {host:?}: {e}"),
        )),
    }
}

/// What the waiting future and the offloaded job share.
#[derive(Default)]
struct Shared {
    result: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
    /// The future was dropped: a job that has not started skips the lookup.
    abandoned: bool,
    /// The job is gone, run or not (an offload may drop a job it cannot run).
    job_gone: bool,
}

/// The offloaded half: runs the lookup unless abandoned; dropped unrun, it tells the waiter.
struct Job {
    shared: Arc<Mutex<Shared>>,
}

impl Job {
    fn run(self, host: &str, port: u16) {
        if self.shared.lock().abandoned {
            return;
        }
        let result = blocking_lookup(host, port);
        let waker = {
            let mut shared = self.shared.lock();
            if shared.abandoned {
                return; // nobody waits: the result is dropped
            }
            shared.result = Some(result);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.shared.lock();
            shared.job_gone = true;
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The waiting half.
struct Lookup {
    shared: Arc<Mutex<Shared>>,
    host: String,
}

impl Future for Lookup {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut shared = self.shared.lock();
        if let Some(result) = shared.result.take() {
            return Poll::Ready(result);
        }
        if shared.job_gone {
            return Poll::Ready(Err(io::Error::other(format!(
                "the lookup of host {:?} did not run: the runtime is shutting down or could not \
                 start a thread for it",
                self.host
            ))));
        }
        match &mut shared.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        let mut shared = self.shared.lock();
        shared.abandoned = true;
        // The job must not wake a task that may be gone by then.
        let waker = shared.waker.take();
        drop(shared);
        drop(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::sealed::{Query, ToSocketAddrsPriv};
    use std::net::SocketAddr;

    fn addrs(query: Query) -> Vec<SocketAddr> {
        match query {
            Query::One(addr) => vec![addr],
            Query::Many(addrs) => addrs,
            other => panic!("expected addresses, got {other:?}"),
        }
    }

    #[test]
    fn literals_are_parsed_without_a_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(addrs("127.0.0.1:80".to_query()), [v4]);
        assert_eq!(addrs("[::1]:80".to_query()), [v6]);
        assert_eq!(addrs(("127.0.0.1", 80).to_query()), [v4]);
        assert_eq!(addrs(("::1".to_owned(), 80).to_query()), [v6]);
        assert_eq!(addrs(v4.to_query()), [v4]);
        assert_eq!(addrs([v4, v6][..].to_query()), [v4, v6]);
    }

    #[test]
    fn names_are_looked_up() {
        for query in [
            "localhost:80".to_query(),
            ("localhost", 80).to_query(),
            String::from("localhost:80").to_query(),
        ] {
            match query {
                Query::Name(host, 80) => assert_eq!(host, "localhost"),
                other => panic!("expected a name, got {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_strings_fail_at_once_naming_the_input() {
        for bad in ["localhost", "localhost:http", "127.0.0.1:99999"] {
            match bad.to_query() {
                Query::Invalid(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
                    assert!(e.to_string().contains(bad), "{e}");
                }
                other => panic!("{bad}: expected an error, got {other:?}"),
            }
        }
    }
}
