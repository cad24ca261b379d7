//! Unix domain stream sockets: a listener, a stream, and the stream's owned halves.

mod listener;
mod split;
mod stream;

pub use listener::{Incoming, UnixListener};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::UnixStream;
