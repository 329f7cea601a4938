//! The report as an SVG file for a browser: requests per second by version as stacked bars, the switch as
//! a line, the lifecycle events as lanes on the same time axis, and the counts and checks. Hand-drawn: a
//! few rectangles and lines need no plotting library.

use std::fmt::Write;

use super::report::Report;

const WIDTH: f64 = 960.0;
/// Left edge of the plot (event names go left of it).
const X0: f64 = 180.0;
const X1: f64 = WIDTH - 24.0;
const CHART_TOP: f64 = 84.0;
const CHART_BOTTOM: f64 = 300.0;
const LANE: f64 = 20.0;
const BLUE: &str = "#2563eb";
const GREEN: &str = "#16a34a";
const OTHER: &str = "#a21caf";
const RED: &str = "#dc2626";
const GREY: &str = "#9ca3af";

pub fn render(report: &Report) -> String {
    let series = &report.series;
    let span = (series.buckets.len() as f64 * series.bucket_seconds).max(0.001);
    let x = |t: f64| X0 + (t / span).clamp(0.0, 1.0) * (X1 - X0);
    let lanes_top = CHART_BOTTOM + 50.0;
    let lanes_bottom = lanes_top + LANE * report.timeline.len() as f64;
    let footer = lanes_bottom + 30.0;
    let height = footer + 22.0 * (5 + report.checks.len()) as f64;

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="{X0}" y="28" font-size="18" font-weight="bold">kirikae demo: {} → {} Blue/Green with {}</text>
<text x="{X0}" y="50" fill="{}">{}</text>
"#,
        esc(&report.blue),
        esc(&report.green),
        esc(report
            .deployment_config
            .trim_start_matches("CodeDeployDefault.")),
        if report.ok { GREEN } else { RED },
        esc(&headline(report)),
    );

    // Requests per second, stacked by version; failed on top.
    let max = series
        .buckets
        .iter()
        .map(|b| b.rps.iter().sum::<f64>() + b.failed_rps)
        .fold(0.0, f64::max)
        .max(1.0);
    let y = |v: f64| CHART_BOTTOM - v / max * (CHART_BOTTOM - CHART_TOP);
    let bar = (x(series.bucket_seconds) - X0 - 1.0).max(0.5);
    for b in &series.buckets {
        let mut base = 0.0;
        let colors = (0..b.rps.len()).map(version_color).chain([RED]);
        for (v, color) in b.rps.iter().chain([&b.failed_rps]).zip(colors) {
            if *v > 0.0 {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"/>"#,
                    x(b.start),
                    y(base + v),
                    y(base) - y(base + v),
                );
            }
            base += v;
        }
    }
    // Axes.
    let _ = writeln!(
        s,
        r#"<line x1="{X0}" y1="{CHART_BOTTOM}" x2="{X1}" y2="{CHART_BOTTOM}" stroke="black"/>"#
    );
    for v in [0.0, max / 2.0, max] {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{v:.0}/s</text>"#,
            X0 - 6.0,
            y(v) + 4.0
        );
    }
    let step = tick_step(span);
    let decimals = if step < 1.0 { 1 } else { 0 };
    for i in 0..=((span / step + 1e-9) as usize) {
        let t = i as f64 * step;
        let _ = writeln!(
            s,
            r#"<line x1="{0:.1}" y1="{CHART_BOTTOM}" x2="{0:.1}" y2="{1}" stroke="black"/><text x="{0:.1}" y="{2}" text-anchor="middle">{t:.decimals$}s</text>"#,
            x(t),
            CHART_BOTTOM + 5.0,
            CHART_BOTTOM + 20.0,
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end" fill="{GREY}">requests/s by version; seconds since the load started</text>"#,
        X1,
        CHART_BOTTOM + 38.0
    );

    // Lifecycle lanes.
    for (i, m) in report.timeline.iter().enumerate() {
        let top = lanes_top + i as f64 * LANE;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            X0 - 6.0,
            top + 14.0,
            esc(&m.event)
        );
        let _ = writeln!(
            s,
            r#"<text x="{X1}" y="{:.1}" text-anchor="end" fill="{GREY}" font-size="11">{}</text>"#,
            top + 14.0,
            esc(&m.status)
        );
        if let Some(start) = m.start {
            let end = m.end.unwrap_or(report.load.seconds);
            let color = match m.status.as_str() {
                "Succeeded" => GREEN,
                "Failed" => RED,
                _ => GREY,
            };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{}" fill="{color}" opacity="0.7"><title>{} {} ({:.2}–{:.2} s)</title></rect>"#,
                x(start),
                top + 3.0,
                (x(end) - x(start)).max(2.0),
                LANE - 6.0,
                esc(&m.event),
                esc(&m.status),
                start,
                end
            );
        }
    }

    // The switch, across chart and lanes.
    if let Some(sw) = &report.switch {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#f59e0b" stroke-width="2" stroke-dasharray="5,3"/><text x="{3:.1}" y="{4}" fill="#b45309">switch +{5:.2} s</text>"##,
            x(sw.at),
            CHART_TOP - 8.0,
            lanes_bottom,
            x(sw.at) + 4.0,
            CHART_TOP - 10.0,
            sw.at
        );
    }

    // Legend, definition, checks.
    let mut lx = X0;
    for (k, v) in series.versions.iter().enumerate() {
        legend_item(&mut s, &mut lx, footer, version_color(k), v);
    }
    legend_item(&mut s, &mut lx, footer, RED, "failed");
    let mut line = footer + 24.0;
    let mut text = |s: &mut String, t: &str, color: &str| {
        let _ = writeln!(
            s,
            r#"<text x="{X0}" y="{line}" fill="{color}">{}</text>"#,
            esc(t)
        );
        line += 22.0;
    };
    if report.switch.is_some() {
        let definition = format!("The switch is {}.", super::report::SWITCH_DEFINITION);
        for part in wrap(&definition, 110) {
            text(&mut s, &part, GREY);
        }
    }
    for c in &report.checks {
        let mark = if c.ok { "✓" } else { "✗" };
        let color = if c.ok { "black" } else { RED };
        text(
            &mut s,
            &format!("{mark} {}: {} (expected {})", c.name, c.actual, c.expected),
            color,
        );
    }
    s.push_str("</svg>\n");
    s
}

fn headline(report: &Report) -> String {
    let r = &report.requests;
    let stale = match report.switch {
        Some(_) => format!("{} stale after the switch", report.stale_after_switch),
        None => "no switch".to_string(),
    };
    format!(
        "{} requests, {} failed, {stale}, p99 {:.0} ms; deployment {}",
        r.total,
        r.failed,
        r.latency_ms.p99,
        report.v2.result.as_str().replace('_', " ")
    )
}

/// Lines of at most about `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn legend_item(s: &mut String, x: &mut f64, y: f64, color: &str, label: &str) {
    let _ = writeln!(
        s,
        r#"<rect x="{:.1}" y="{}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{}">{}</text>"#,
        *x,
        y - 11.0,
        *x + 16.0,
        y,
        esc(label)
    );
    *x += 40.0 + 8.0 * label.chars().count() as f64;
}

fn version_color(k: usize) -> &'static str {
    match k {
        0 => BLUE,
        1 => GREEN,
        _ => OTHER,
    }
}

/// About ten ticks of a round step.
fn tick_step(span: f64) -> f64 {
    [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0]
        .into_iter()
        .find(|s| span / s <= 12.0)
        .unwrap_or(120.0)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_escapes_markup() {
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
