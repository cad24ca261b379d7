//! The reactor (work in progress).
