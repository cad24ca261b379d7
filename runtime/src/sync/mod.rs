//! Small synchronisation helpers the runtime needs internally.

pub(crate) mod oneshot;
