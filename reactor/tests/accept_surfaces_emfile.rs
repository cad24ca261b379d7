//! `accept` when the process is out of file descriptors.
//!
//! This lowers `RLIMIT_NOFILE` for the whole process, so it lives alone in its
//! own test binary (tests of one binary share the process).

mod support;

use std::fs::File;
use std::io;

use nursery_reactor::net::TcpListener;
use support::Driver;

fn nofile_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call's duration.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    limit
}

fn set_nofile_limit(limit: &libc::rlimit) {
    // SAFETY: `limit` points to a valid `rlimit`; lowering the soft limit only
    // affects descriptors opened from now on.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

#[test]
fn accept_returns_emfile_and_then_accepts_the_waiting_connection_once_descriptors_free_up() {
    let driver = Driver::start();
    driver.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();

        // Fill every descriptor below a low soft limit.
        let original = nofile_limit();
        let probe = File::open("/dev/null").unwrap();
        let lowest_free = std::os::fd::AsRawFd::as_raw_fd(&probe) as libc::rlim_t;
        drop(probe);
        set_nofile_limit(&libc::rlimit {
            rlim_cur: lowest_free + 16,
            rlim_max: original.rlim_max,
        });
        let mut fillers = Vec::new();
        let exhausted = loop {
            match File::open("/dev/null") {
                Ok(file) => fillers.push(file),
                Err(e) => break e,
            }
            assert!(fillers.len() < 1024, "the lowered limit did not take");
        };
        assert_eq!(exhausted.raw_os_error(), Some(libc::EMFILE));

        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "got {err:?}");

        drop(fillers);
        set_nofile_limit(&original);
        let (stream, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(stream.peer_addr().unwrap(), peer);
    });
}
