//! Unix domain stream sockets: a listener, a stream, and the stream's owned halves.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use nursery::net::unix::{UnixListener, UnixStream};
//!
//! let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! let rt = nursery::Runtime::builder().worker_threads(1).build()?;
//! rt.block_on(async {
//!     let listener = UnixListener::bind(&path)?;
//!     let mut client = UnixStream::connect(&path).await?;
//!     std::fs::remove_file(&path)?; // only new clients need the file
//!     let (mut server, _) = listener.accept().await?;
//!
//!     client.write_all(b"hello").await?;
//!     let mut buf = [0; 5];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::UnixStream;
