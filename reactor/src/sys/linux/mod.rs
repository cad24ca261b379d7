//! Linux and Android: `epoll_wait` for one event, `SO_PEERCRED`, `PR_SET_TIMERSLACK`.

mod epoll;
mod peer_cred;
mod timer_slack;

pub(crate) use epoll::oldest_ready;
pub(crate) use peer_cred::peer_is_this_process;
pub use timer_slack::tighten_timer_slack;
