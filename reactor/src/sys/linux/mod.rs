//! Linux and Android: `epoll_wait` for one event, `SO_PEERCRED`.

mod epoll;
mod peer_cred;

pub(crate) use epoll::oldest_ready;
pub(crate) use peer_cred::peer_is_this_process;
