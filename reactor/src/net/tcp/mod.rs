//! TCP: a listener, a stream, and the stream's owned halves.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use nursery::net::tcp::{TcpListener, TcpStream};
//!
//! let rt = nursery::Runtime::builder().worker_threads(1).build()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     let (mut read, mut write) = server.into_split();
//!
//!     client.write_all(b"hello").await?;
//!     let mut buf = [0; 5];
//!     read.read_exact(&mut buf).await?;
//!     write.write_all(&buf).await?; // an echo
//!     client.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod listener;
mod socket;
mod split;
mod stream;

pub use listener::{Incoming, TcpListener};
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::TcpStream;
