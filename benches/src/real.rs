//! Helpers for the real-workload clients and servers that `scripts/real_workloads.sh` drives
//! (`echo_pair`, `churn_client`, `idle_conns`, `real_report`): readings of another process
//! from `/proc`, latency percentiles, the open-file limit, `--flag value` options, and the
//! one-line `RESULT key=value ...` format the script parses.
//!
//! Linux only: the readings come from `/proc/PID/stat` and `/proc/PID/status`.

use std::fmt::Display;
use std::io;
use std::str::FromStr;
use std::time::Duration;

/// The user plus system CPU time process `pid` has used so far (all its threads), from
/// `/proc/PID/stat`, at the kernel's clock-tick resolution (usually 10 ms).
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()))
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no utime and stime fields")))
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock ticks. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are counted after its `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // field 3 (state) is index 0
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a configuration value; it has no memory effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Resident memory of process `pid` now (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// The highest resident memory process `pid` has had (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> io::Result<u64> {
    status_kib(pid, "VmHWM:")
}

fn status_kib(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status_kib(&status, field)
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/status: no {field} line")))
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// Raises this process's soft limit on open files to its hard limit (the clients hold one
/// descriptor per connection); returns the limit now in force.
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid `rlimit` whose soft limit does not exceed its hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is narrower than u64 on some targets
    Ok(limit.rlim_cur as u64)
}

/// Latency samples, kept whole (nanoseconds), for exact percentiles.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    nanos: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    /// No samples yet.
    pub fn new() -> Latencies {
        Latencies::default()
    }

    /// Adds one sample.
    pub fn push(&mut self, latency: Duration) {
        self.nanos
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
        self.sorted = false;
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// The `q`-th percentile (0 < q ≤ 100) by nearest rank; zero if there are no samples.
    pub fn percentile(&mut self, q: f64) -> Duration {
        if self.nanos.is_empty() {
            return Duration::ZERO;
        }
        if !self.sorted {
            self.nanos.sort_unstable();
            self.sorted = true;
        }
        let n = self.nanos.len();
        // The epsilon keeps float error (99.9 / 100 × 1000 = 999.000…1) from skipping a rank.
        let rank = ((q / 100.0 * n as f64 - 1e-9).ceil() as usize).clamp(1, n);
        Duration::from_nanos(self.nanos[rank - 1])
    }

    /// `p50_us`, `p99_us` and `p999_us` result fields, in microseconds.
    pub fn result_fields(&mut self) -> Vec<(&'static str, String)> {
        let us = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
        vec![
            ("p50_us", us(self.percentile(50.0))),
            ("p99_us", us(self.percentile(99.0))),
            ("p999_us", us(self.percentile(99.9))),
        ]
    }
}

/// The fields every client's result line ends with, for the operations `latencies` timed over
/// `elapsed`: `seconds`, `rps`, the percentiles, `errors`, and `cpu_us`, the CPU time per
/// operation (`nan` when `cpu` is unknown or nothing completed).
pub fn rate_fields(
    latencies: &mut Latencies,
    elapsed: Duration,
    errors: impl ToString,
    cpu: Option<Duration>,
) -> Vec<(&'static str, String)> {
    let n = latencies.len();
    let mut fields = vec![
        ("seconds", format!("{:.3}", elapsed.as_secs_f64())),
        (
            "rps",
            format!("{:.0}", n as f64 / elapsed.as_secs_f64().max(1e-9)),
        ),
    ];
    fields.extend(latencies.result_fields());
    fields.push(("errors", errors.to_string()));
    fields.push((
        "cpu_us",
        match cpu {
            Some(cpu) if n > 0 => format!("{:.2}", cpu.as_secs_f64() * 1e6 / n as f64),
            _ => "nan".to_string(),
        },
    ));
    fields
}

/// Prints the one result line the driver script parses: `RESULT key=value key=value ...`.
pub fn print_result(fields: &[(&str, String)]) {
    let mut line = String::from("RESULT");
    for (key, value) in fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.push_str(value);
    }
    println!("{line}");
}

/// `--name value` options, parsed up front; each is taken once by name, and
/// [`finish`](Flags::finish) rejects whatever nobody took.
#[derive(Debug)]
pub struct Flags {
    pairs: Vec<(String, String)>,
}

impl Flags {
    /// Parses `args` (without the program name or subcommand) as `--name value` pairs.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Flags, String> {
        let mut pairs = Vec::new();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("expected a --flag, found {flag:?}"));
            };
            let value = args
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_string(), value));
        }
        Ok(Flags { pairs })
    }

    /// The value of `--name`, or `default` if it was not given.
    pub fn get<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String>
    where
        T::Err: Display,
    {
        match self.take(name) {
            Some(value) => value
                .parse()
                .map_err(|e| format!("--{name} {value:?}: {e}")),
            None => Ok(default),
        }
    }

    /// The value of `--name`, which must be given.
    pub fn require<T: FromStr>(&mut self, name: &str) -> Result<T, String>
    where
        T::Err: Display,
    {
        let value = self
            .take(name)
            .ok_or_else(|| format!("--{name} is required"))?;
        value
            .parse()
            .map_err(|e| format!("--{name} {value:?}: {e}"))
    }

    /// The value of `--name` if it was given.
    pub fn optional<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: Display,
    {
        match self.take(name) {
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|e| format!("--{name} {value:?}: {e}")),
            None => Ok(None),
        }
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(at).1)
    }

    /// An error naming the first option nobody asked for.
    pub fn finish(self) -> Result<(), String> {
        match self.pairs.first() {
            Some((name, _)) => Err(format!("unknown option --{name}")),
            None => Ok(()),
        }
    }
}

/// The runtime a server or in-process workload runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// nursery, the runtime under test.
    Nursery,
    /// tokio, the yardstick.
    Tokio,
}

impl FromStr for Flavor {
    type Err = String;

    fn from_str(s: &str) -> Result<Flavor, String> {
        match s {
            "nursery" => Ok(Flavor::Nursery),
            "tokio" => Ok(Flavor::Tokio),
            other => Err(format!("expected nursery or tokio, found {other:?}")),
        }
    }
}

/// If `buf` starts with a whole HTTP/1 response whose length is known (a `Content-Length`
/// header), its length in bytes; `None` while more bytes are needed.
///
/// # Errors
/// If the head is complete but is not a `200` response with a `Content-Length`.
pub fn http_response_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| "a response head that is not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected status line {status:?}"));
    }
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or_else(|| "a response without Content-Length".to_string())?;
    let total = head_end + 4 + length;
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 3 0 1000";
        assert_eq!(parse_cpu_ticks(stat), Some(12));
    }

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\thttp\nVmHWM:\t   9000 kB\nVmRSS:\t    8192 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(8192));
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(9000));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies = Latencies::new();
        for us in 1..=1000 {
            latencies.push(Duration::from_micros(us));
        }
        assert_eq!(latencies.percentile(50.0), Duration::from_micros(500));
        assert_eq!(latencies.percentile(99.0), Duration::from_micros(990));
        assert_eq!(latencies.percentile(99.9), Duration::from_micros(999));
        assert_eq!(latencies.percentile(100.0), Duration::from_micros(1000));
        assert_eq!(Latencies::new().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn a_response_is_complete_once_its_body_is_in() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, World!";
        assert_eq!(http_response_len(&response[..20]), Ok(None));
        assert_eq!(http_response_len(&response[..response.len() - 1]), Ok(None));
        assert_eq!(http_response_len(response), Ok(Some(response.len())));
        assert!(http_response_len(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").is_err());
    }

    #[test]
    fn flags_reject_what_nobody_asked_for() {
        let args = ["--conns", "8", "--bogus", "1"].map(String::from);
        let mut flags = Flags::parse(args).unwrap();
        assert_eq!(flags.get("conns", 1usize), Ok(8));
        assert_eq!(flags.get("seconds", 2.5f64), Ok(2.5));
        assert!(flags.finish().is_err());
        assert!(Flags::parse(["--conns".to_string()]).is_err());
    }
}
