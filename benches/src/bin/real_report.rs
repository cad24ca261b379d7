//! `real_report`: the markdown tables of `scripts/real_workloads.sh`, from its raw CSV.
//!
//! ```text
//! real_report RAW.csv
//! ```
//!
//! The CSV has the header `round,workload,case,runtime,metric,value`, one measurement a line.
//! For each workload, a table with one row per case and metric: the median over the rounds
//! for nursery and for tokio, each with its min–max spread, and the paired ratio
//! nursery/tokio: the ratio of the two runtimes' values in each round, whose median is shown
//! (rounds alternate which runtime goes first, so the pairing cancels slow drifts of the
//! machine). Values that are not numbers (`nan`: not measured) are left out.

use std::collections::BTreeMap;
use std::process::ExitCode;

/// One measurement of the CSV.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    round: u32,
    workload: String,
    case: String,
    runtime: String,
    metric: String,
    value: f64,
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: real_report RAW.csv");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("real_report: reading {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match parse(&text) {
        Ok(rows) => {
            print!("{}", report(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("real_report: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let [round, workload, case, runtime, metric, value] = fields[..] else {
            return Err(format!("line {}: expected 6 fields: {line:?}", i + 1));
        };
        let round = round
            .parse()
            .map_err(|_| format!("line {}: bad round {round:?}", i + 1))?;
        // `nan` and empty values are measurements that could not be taken.
        let value: f64 = value.parse().unwrap_or(f64::NAN);
        if !value.is_finite() {
            continue;
        }
        rows.push(Row {
            round,
            workload: workload.into(),
            case: case.into(),
            runtime: runtime.into(),
            metric: metric.into(),
            value,
        });
    }
    Ok(rows)
}

/// What a workload's table is about.
fn title(workload: &str) -> &str {
    match workload {
        "http" => "hyper HTTP/1 keep-alive under wrk (case: connections)",
        "churn" => "connection churn: a new connection per request",
        "idle" => "mostly idle keep-alive connections with a trickle of requests",
        "echo" => "echo pair: round trips (two processes: peer not ours; one process: peer ours)",
        other => other,
    }
}

/// A metric's name in the table, with its unit and which way is better.
fn label(metric: &str) -> &str {
    match metric {
        "rps" => "throughput /s (higher is better)",
        "p50_us" => "p50 µs",
        "p99_us" => "p99 µs",
        "p999_us" => "p99.9 µs",
        "cpu_us" => "CPU µs per request",
        "errors" => "errors",
        "rss_base_kib" => "server RSS before, KiB",
        "rss_peak_kib" => "server RSS peak, KiB",
        "rss_final_kib" => "server RSS after, KiB",
        "mem_open_b" => "server bytes per open connection",
        "mem_used_b" => "server bytes per used idle connection",
        other => other,
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of the per-round ratios `a / b`, over the rounds both have (and `b` is not 0).
fn paired_ratio(a: &Series, b: &Series) -> f64 {
    let ratios: Vec<f64> = a
        .iter()
        .filter_map(|(round, x)| b.get(round).filter(|y| **y != 0.0).map(|y| x / y))
        .collect();
    median(&ratios)
}

fn number(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell(values: Option<&Series>) -> String {
    let Some(values) = values.filter(|v| !v.is_empty()) else {
        return "–".into();
    };
    let all: Vec<f64> = values.values().copied().collect();
    let min = all.iter().copied().fold(f64::INFINITY, f64::min);
    let max = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if all.len() == 1 {
        number(all[0])
    } else {
        format!("{} ({}–{})", number(median(&all)), number(min), number(max))
    }
}

/// One runtime's values of a row of a table, by round.
type Series = BTreeMap<u32, f64>;

/// A row of a table: one case and metric, each runtime's values.
struct Line {
    case: String,
    metric: String,
    runtimes: BTreeMap<String, Series>,
}

/// A workload's table, its rows in the order the CSV first names them.
struct Table {
    workload: String,
    lines: Vec<Line>,
}

fn report(rows: &[Row]) -> String {
    let mut tables: Vec<Table> = Vec::new();
    for row in rows {
        let at = match tables.iter().position(|t| t.workload == row.workload) {
            Some(at) => at,
            None => {
                tables.push(Table {
                    workload: row.workload.clone(),
                    lines: Vec::new(),
                });
                tables.len() - 1
            }
        };
        let lines = &mut tables[at].lines;
        let line = match lines
            .iter()
            .position(|l| l.case == row.case && l.metric == row.metric)
        {
            Some(line) => line,
            None => {
                lines.push(Line {
                    case: row.case.clone(),
                    metric: row.metric.clone(),
                    runtimes: BTreeMap::new(),
                });
                lines.len() - 1
            }
        };
        lines[line]
            .runtimes
            .entry(row.runtime.clone())
            .or_default()
            .insert(row.round, row.value);
    }
    let rounds = rows
        .iter()
        .map(|r| r.round)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut out = format!(
        "Median over {rounds} round(s), (min–max); the ratio is the median of the per-round \
         ratios nursery/tokio (below 1 is better for nursery, except throughput).\n"
    );
    for table in &tables {
        out.push_str(&format!("\n#### {}\n\n", title(&table.workload)));
        out.push_str("| case | metric | nursery | tokio | nursery/tokio |\n");
        out.push_str("|---|---|---|---|---|\n");
        for line in &table.lines {
            let nursery = line.runtimes.get("nursery");
            let tokio = line.runtimes.get("tokio");
            let ratio = match (nursery, tokio) {
                (Some(n), Some(t)) => paired_ratio(n, t),
                _ => f64::NAN,
            };
            let ratio = if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "–".into()
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {ratio} |\n",
                line.case,
                label(&line.metric),
                cell(nursery),
                cell(tokio),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "round,workload,case,runtime,metric,value
1,echo,two-process,nursery,rps,100
1,echo,two-process,tokio,rps,200
2,echo,two-process,tokio,rps,100
2,echo,two-process,nursery,rps,300
3,echo,two-process,nursery,rps,nan
3,echo,two-process,tokio,rps,50
";

    #[test]
    fn ratios_pair_the_runtimes_round_by_round() {
        let rows = parse(CSV).unwrap();
        assert_eq!(rows.len(), 5, "the nan value is left out");
        let table = report(&rows);
        // Rounds 1 and 2 pair up: ratios 0.5 and 3.0, median 1.75; round 3 has no nursery value.
        assert!(
            table.contains("| 200 (100–300) | 100 (50–200) | 1.75 |"),
            "{table}"
        );
    }

    #[test]
    fn medians_of_even_counts_average_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0]), 5.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_malformed_line_is_an_error() {
        assert!(parse("header\n1,echo,x,nursery,rps\n").is_err());
    }
}
