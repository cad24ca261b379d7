// The function keeps its attributes (doc comments, lints, inner attributes of the body), its
// visibility and its name, and `return` in the body returns from it.
#![deny(unused_variables, missing_docs)]
//! A crate whose every public item must be documented.

/// The app.
pub mod app {
    /// Runs the app and says how it went.
    #[must_use]
    #[nursery::main(worker_threads = 1)]
    pub async fn run() -> Result<u32, String> {
        #![allow(unused_variables)]
        let unused = 1;
        if std::env::var_os("NURSERY_UI_NEVER_SET").is_none() {
            return Ok(7);
        }
        Err("unreachable".to_owned())
    }
}

fn main() {
    assert_eq!(app::run(), Ok(7));
}
