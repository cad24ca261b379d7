//! The events an idle worker waits for: I/O readiness (the reactor) and timers.
//!
//! Placeholder until the reactor and timer crates land: no I/O, no timers.

use std::time::Duration;

pub(crate) struct Driver {}

pub(crate) struct IoGuard<'a> {
    _driver: &'a Driver,
}

impl IoGuard<'_> {
    pub(crate) fn turn(&mut self, _timeout: Option<Duration>) {}
}

impl Driver {
    pub(crate) fn new(_workers: usize) -> std::io::Result<Driver> {
        Ok(Driver {})
    }

    pub(crate) fn try_lock_io(&self) -> Option<IoGuard<'_>> {
        None
    }

    pub(crate) fn wake_io(&self) {}

    pub(crate) fn next_timeout(&self, _index: usize) -> Option<Duration> {
        None
    }

    pub(crate) fn fire_timers(&self, _index: usize) {}

    pub(crate) fn shutdown(&self) {}
}
