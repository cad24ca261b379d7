//! Processes, files and stdin on nursery, with crates from the ecosystem (the patterns are
//! tested one by one in `tests/ecosystem.rs`; `docs/guide.md` has the table).
//!
//! ```text
//! echo "some input" | cargo run --example ecosystem
//! ```
//!
//! It runs `uname -a` (async-process), gives a `sleep 30` one second and kills it
//! (`kill_on_drop`), counts the lines arriving on stdin (blocking::Unblock), writes a report into
//! a temporary directory and reads it back (async-fs), all as children of one scope.

use std::io;
use std::time::Duration;

use async_process::{Command, Stdio};
use futures::io::{AsyncBufReadExt, BufReader};
use futures::StreamExt;

#[nursery::main]
async fn main() -> io::Result<()> {
    let (uname, slow, stdin_lines) = nursery::scope(|s| async move {
        let uname = s.spawn(async {
            let out = Command::new("uname").arg("-a").output().await?;
            Ok::<_, io::Error>(String::from_utf8_lossy(&out.stdout).trim().to_string())
        });
        let slow = s.spawn(async {
            let mut child = Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .kill_on_drop(true) // dropped by the timeout below: the process is killed
                .spawn()?;
            let pid = child.id();
            let waited = nursery::time::timeout(Duration::from_secs(1), child.status()).await;
            Ok::<_, io::Error>((pid, waited.is_err()))
        });
        let stdin_lines = s.spawn(async {
            // The blocking reads run on the `blocking` crate's pool, not on a nursery worker.
            let stdin = blocking::Unblock::new(io::stdin());
            let lines = BufReader::new(stdin).lines();
            nursery::time::timeout(Duration::from_secs(5), lines.count())
                .await
                .ok()
        });
        let joined = |e: nursery::JoinError| io::Error::other(e.to_string());
        Ok::<_, io::Error>((
            uname.await.map_err(joined)??,
            slow.await.map_err(joined)??,
            stdin_lines.await.map_err(joined)?,
        ))
    })
    .await?;

    let dir =
        std::env::temp_dir().join(format!("nursery-ecosystem-example-{}", std::process::id()));
    async_fs::create_dir_all(&dir).await?;
    let report = dir.join("report.txt");
    let stdin_report = match stdin_lines {
        Some(n) => format!("{n} lines on stdin"),
        None => "stdin still open after 5 s".to_string(),
    };
    let (pid, timed_out) = slow;
    let text = format!(
        "uname: {uname}\nsleep 30 (pid {pid}): timed out {timed_out}, killed on drop\n{stdin_report}\n"
    );
    async_fs::write(&report, &text).await?;
    print!("{}", async_fs::read_to_string(&report).await?);
    async_fs::remove_dir_all(&dir).await?;
    Ok(())
}
