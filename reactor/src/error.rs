//! The errors the reactor itself produces (every other error comes from the OS).

use std::io;

/// The message of the error every I/O operation returns once the reactor has shut down.
pub(crate) const SHUT_DOWN: &str = "the nursery runtime has shut down";

/// The message of the panic when an I/O type is used with no reactor entered.
pub(crate) const NO_REACTOR: &str = "there is no nursery reactor on this thread: I/O types must be used inside a nursery runtime (a task, or Runtime::block_on)";

/// The error every I/O operation returns once the reactor has shut down.
pub(crate) fn shut_down() -> io::Error {
    io::Error::other(SHUT_DOWN)
}

/// The error a registration returns once its source has been deregistered.
pub(crate) fn deregistered() -> io::Error {
    io::Error::other("this I/O source is no longer registered with the nursery reactor")
}

/// The reactor has no room for another registration.
pub(crate) fn too_many_registrations() -> io::Error {
    io::Error::other("the nursery reactor is at its maximum number of registrations")
}

/// An address argument resolved to no address at all.
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}
