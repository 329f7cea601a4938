//! The report as text for a terminal: requests per second by version as a stacked bar chart, the
//! lifecycle events on the same time axis, the switch, the counts and the checks. With colour, every
//! version is a coloured block; without (not a terminal, `NO_COLOR`) plain ASCII glyphs stand in.

use super::report::{Mark, Report};

/// Rows of the chart.
const HEIGHT: usize = 8;
/// Width of the left column (event names, axis labels).
const GUTTER: usize = 22;

/// What each thing looks like, with or without colour.
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// The cell of version number `k` (0 blue, 1 green, others after).
    fn version(&self, k: usize) -> String {
        match (self.color, k) {
            (true, 0) => self.paint("34", "█"),
            (true, 1) => self.paint("32", "█"),
            (true, _) => self.paint("35", "█"),
            (false, 0) => "o".into(),
            (false, 1) => "#".into(),
            (false, _) => "+".into(),
        }
    }

    fn failed(&self) -> String {
        if self.color {
            self.paint("31", "█")
        } else {
            "X".into()
        }
    }

    fn switch(&self) -> String {
        if self.color {
            self.paint("33", "│")
        } else {
            "|".into()
        }
    }

    fn event(&self, status: &str) -> String {
        match status {
            "Succeeded" => self.paint("32", "="),
            "Failed" => self.paint("31", "="),
            _ => self.paint("2", "="),
        }
    }

    fn mark(&self, ok: bool) -> String {
        if ok {
            self.paint("32", "✓")
        } else {
            self.paint("31", "✗")
        }
    }
}

/// The whole report as text.
pub fn text(report: &Report, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    out.push_str(&chart(report, &style));
    out.push_str(&lanes(report, &style));
    out.push_str(&summary(report, &style));
    out
}

/// The column of the switch, if any.
fn switch_column(report: &Report) -> Option<usize> {
    let s = report.switch.as_ref()?;
    Some((s.at / report.series.bucket_seconds) as usize)
}

fn chart(report: &Report, style: &Style) -> String {
    let series = &report.series;
    let totals: Vec<f64> = series
        .buckets
        .iter()
        .map(|b| b.rps.iter().sum::<f64>() + b.failed_rps)
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max).max(1.0);
    let switch = switch_column(report);
    let mut out = format!(
        "\nrequests per second by version (a column is {} s; time since the load started)\n",
        series.bucket_seconds
    );
    let columns: Vec<Vec<Option<String>>> = series
        .buckets
        .iter()
        .map(|b| column(&b.rps, b.failed_rps, max, style))
        .collect();
    for row in 0..HEIGHT {
        let label = match row {
            0 => format!("{max:.0}"),
            _ if row == HEIGHT - 1 => "0".to_string(),
            _ => String::new(),
        };
        out.push_str(&format!("{label:>w$} |", w = GUTTER - 1));
        for (c, cells) in columns.iter().enumerate() {
            // Cells are stored bottom up.
            out.push_str(&match &cells[HEIGHT - 1 - row] {
                Some(cell) => cell.clone(),
                None if Some(c) == switch => style.switch(),
                None => " ".to_string(),
            });
        }
        out.push('\n');
    }
    out.push_str(&axis(report));
    out.push_str(&legend(report, style));
    out
}

/// One column's cells, bottom up: each version's share then the failed requests, stacked. Heights are
/// rounded cumulatively (so the column's total height is right, and a 10% share is one row of eight);
/// failed requests always show, however few.
fn column(rps: &[f64], failed: f64, max: f64, style: &Style) -> Vec<Option<String>> {
    let rows = |v: f64| ((v / max) * HEIGHT as f64).round() as usize;
    let mut cells = Vec::with_capacity(HEIGHT);
    let mut sum = 0.0;
    for (k, v) in rps.iter().enumerate() {
        sum += v;
        let top = rows(sum).min(HEIGHT);
        cells.resize(top.max(cells.len()), Some(style.version(k)));
    }
    if failed > 0.0 {
        if cells.len() < HEIGHT {
            let top = rows(sum + failed).max(cells.len() + 1).min(HEIGHT);
            cells.resize(top, Some(style.failed()));
        } else if let Some(last) = cells.last_mut() {
            *last = Some(style.failed());
        }
    }
    cells.resize(HEIGHT, None);
    cells
}

/// `+-----` then second marks every 10 columns.
fn axis(report: &Report) -> String {
    let n = report.series.buckets.len();
    let w = report.series.bucket_seconds;
    let mut line = format!("{:>w$}+{}\n", "", "-".repeat(n), w = GUTTER - 1);
    let mut labels = String::new();
    let mut c = 0;
    while c < n {
        let label = format!("{:.1}s", c as f64 * w);
        if labels.len() <= c {
            labels.push_str(&" ".repeat(c - labels.len()));
            labels.push_str(&label);
        }
        c += 10;
    }
    line.push_str(&format!("{:>w$}{labels}\n", "", w = GUTTER));
    line
}

fn legend(report: &Report, style: &Style) -> String {
    let mut parts = Vec::new();
    for (k, v) in report.series.versions.iter().enumerate() {
        let role = if *v == report.blue {
            " (blue)"
        } else if *v == report.green {
            " (green)"
        } else {
            ""
        };
        parts.push(format!("{} {v}{role}", style.version(k)));
    }
    parts.push(format!("{} failed", style.failed()));
    if let Some(s) = &report.switch {
        parts.push(format!("{} switch at +{:.2}s", style.switch(), s.at));
    }
    format!("{:>w$}{}\n", "", parts.join("   "), w = GUTTER)
}

/// One lane per lifecycle event, on the chart's time axis.
fn lanes(report: &Report, style: &Style) -> String {
    if report.timeline.is_empty() {
        return String::new();
    }
    let id = report.v2.deployment_id.as_deref().unwrap_or("");
    let mut out = format!("\nlifecycle of {id} on the same time axis\n");
    let n = report.series.buckets.len();
    let w = report.series.bucket_seconds;
    let switch = switch_column(report);
    for m in &report.timeline {
        out.push_str(&format!("{:>w$} |", m.event, w = GUTTER - 1));
        for c in 0..n {
            let (from, to) = (c as f64 * w, (c + 1) as f64 * w);
            out.push_str(&if covers(m, from, to, report.load.seconds) {
                style.event(&m.status)
            } else if Some(c) == switch {
                style.switch()
            } else {
                " ".to_string()
            });
        }
        out.push_str(&format!("  {}\n", m.status));
    }
    out
}

/// Whether the event ran during `[from, to)` (an event still running runs until `end_of_load`).
fn covers(m: &Mark, from: f64, to: f64, end_of_load: f64) -> bool {
    let Some(start) = m.start else { return false };
    let end = m.end.unwrap_or(end_of_load);
    start < to && end >= from
}

fn summary(report: &Report, style: &Style) -> String {
    let r = &report.requests;
    let by: Vec<String> = report
        .series
        .versions
        .iter()
        .filter_map(|v| r.by_version.get(v).map(|n| format!("{n} by {v}")))
        .collect();
    let mut out = format!(
        "\nrequests: {} sent ({:.0}/s over {} connections to {}), {} failed; answered {}\n",
        r.total,
        report.load.rate,
        report.load.connections,
        report.load.url,
        r.failed,
        if by.is_empty() {
            "by nobody".to_string()
        } else {
            by.join(", ")
        }
    );
    for (reason, n) in &r.failures {
        out.push_str(&format!("  {n} × {reason}\n"));
    }
    let l = &r.latency_ms;
    out.push_str(&format!(
        "latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (a request started at +{:.2} s)\n",
        l.p50, l.p99, l.max, l.max_at
    ));
    match &report.switch {
        Some(s) => {
            out.push_str(&format!(
                "switch: at +{:.3} s to {} (the listener changed after +{:.3} s{})\n",
                s.at,
                s.target_group,
                s.not_before,
                s.allow_traffic_end
                    .map(|e| format!("; CodeDeploy's AllowTraffic ended at +{e:.3} s"))
                    .unwrap_or_default()
            ));
            out.push_str(&format!("  the switch is {}\n", s.definition));
            out.push_str(&format!(
                "stale: {} responses from {} to requests started after the switch\n",
                report.stale_after_switch, report.blue
            ));
        }
        None => out.push_str(&format!(
            "switch: none; production never forwarded all its traffic away from {}\n",
            report.blue
        )),
    }
    out.push_str("checks:\n");
    for c in &report.checks {
        out.push_str(&format!(
            "  {} {}: {} (expected {})\n",
            style.mark(c.ok),
            c.name,
            c.actual,
            c.expected
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glyphs(cells: &[Option<String>]) -> String {
        cells
            .iter()
            .map(|c| c.clone().unwrap_or_else(|| " ".into()))
            .collect()
    }

    #[test]
    fn columns_stack_versions_bottom_up_and_always_show_failures() {
        let style = Style { color: false };
        // A canary bucket: 90% blue, 10% green: seven rows and one.
        assert_eq!(
            glyphs(&column(&[90.0, 10.0], 0.0, 100.0, &style)),
            "ooooooo#"
        );
        // Half the height, all green.
        assert_eq!(
            glyphs(&column(&[0.0, 50.0], 0.0, 100.0, &style)),
            "####    "
        );
        // One failed request among many still shows.
        assert_eq!(glyphs(&column(&[99.0], 1.0, 100.0, &style)), "oooooooX");
        assert_eq!(glyphs(&column(&[10.0], 0.5, 100.0, &style)), "oX      ");
    }
}
