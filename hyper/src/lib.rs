//! **nursery-hyper**: run [hyper] 1.x on the nursery runtime.
//!
//! hyper is runtime-agnostic: it asks its user for three things, and this crate supplies them
//! from nursery. It owns no task, thread or socket of its own and knows nothing of HTTP.
//!
//! | hyper needs | nursery-hyper gives | built on |
//! |---|---|---|
//! | [`hyper::rt::Read`] + [`hyper::rt::Write`] | [`NurseryIo`] (and the reverse, for upgrades) | any `futures_io::AsyncRead + AsyncWrite`, e.g. [`nursery::net::TcpStream`] |
//! | [`hyper::rt::Timer`] + [`hyper::rt::Sleep`] | [`NurseryTimer`], [`NurserySleep`] | [`nursery::time::sleep_until`] |
//! | [`hyper::rt::Executor`] (HTTP/2, pooled clients) | [`NurseryExecutor`] | [`nursery::Handle`], [`nursery::Scope::spawn`] or [`nursery::spawn`] |
//!
//! hyper's own background tasks stay in the task tree, under a parent fixed when the executor
//! is made: by default the runtime's root (so a pooled client's connection, opened by one
//! request, holds up no request's task; runtime shutdown cancels it), or a scope you choose
//! (cancelled with it, waited for by it), or, for an HTTP/2 server, the task that hands them
//! over: the connection's, so its streams cannot outlive it. A panic in one of them is never
//! lost.
//!
//! # A server and a client
//!
//! Connections are children of a [supervised](nursery::supervised) scope: one failing
//! connection does not take the others down, and none outlives the server.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use hyper::{server::conn::http1, service::service_fn, Request, Response};
//! use nursery::net::{TcpListener, TcpStream};
//! use nursery_hyper::{NurseryIo, NurseryTimer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! nursery::Runtime::new()?.block_on(nursery::scope(|app| async move {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!
//!     // The server: accepts until the app scope is cancelled.
//!     app.spawn(nursery::supervised(|connections| async move {
//!         loop {
//!             let (stream, _) = listener.accept().await?;
//!             let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
//!                 let body = format!("hello from {}", req.uri().path());
//!                 Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(body))))
//!             });
//!             connections.spawn(
//!                 http1::Builder::new()
//!                     .timer(NurseryTimer::new())
//!                     .serve_connection(NurseryIo::new(stream), service),
//!             );
//!         }
//!         #[allow(unreachable_code)]
//!         Ok::<(), std::io::Error>(())
//!     }));
//!
//!     // The client: one connection, its driver a child of this task.
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake(NurseryIo::new(stream)).await?;
//!     nursery::spawn(connection);
//!     let request = Request::get("/nursery").body(Full::new(Bytes::new()))?;
//!     let response = sender.send_request(request).await?;
//!     let body = response.into_body().collect().await?.to_bytes();
//!     assert_eq!(body, "hello from /nursery");
//!
//!     drop(sender); // closes the client connection, whose task then ends
//!     app.cancel(); // stops the server and every connection
//!     Ok(())
//! }))
//! # }
//! ```
//!
//! `docs/http.md` in the repository has a fuller server (graceful shutdown, a request count)
//! and how it compares with the same server on tokio.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod executor;
mod io;
mod timer;

pub use executor::NurseryExecutor;
pub use io::NurseryIo;
pub use timer::{NurserySleep, NurseryTimer};
