//! The benchmark workloads of the design brief (§5), each written once for nursery and once
//! for tokio, so that the criterion benches and the `compare` binary time the very same code.
//!
//! Every workload module has two functions, `nursery(&nursery::Runtime)` and
//! `tokio(&tokio::runtime::Runtime)`, doing the same amount of work with the same channel type
//! (std's `mpsc` for signalling a plain thread, `futures::channel` between tasks). Runtimes are
//! built by [`runtimes`] with the same worker count on both sides.
//!
//! This crate measures; it does not know how the runtime works inside.
#![warn(missing_docs)]

pub mod idle;
pub mod memory;
pub mod real;
pub mod runtimes;
pub mod stats;
pub mod support;
pub mod wake_latency;
pub mod workloads;

pub use workloads::{Workload, WORKLOADS};
