//! Results: paired ratios (twig / peer, median over alternating rounds), the
//! Markdown report, the raw numbers, and a hand-written SVG bar chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::procs::Peer;

/// Which direction is better for a metric.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Informative only (wake-ups per request: fewer is not by itself
    /// better); left out of the chart.
    Neither,
}

/// One metric of one workload, every round of every server.
pub struct Metric {
    pub workload: String,
    pub what: String,
    pub better: Better,
    /// Per server, one value per round (rounds are paired by index).
    pub runs: BTreeMap<Peer, Vec<f64>>,
}

impl Metric {
    /// twig / peer in each round (rounds are paired by index).
    fn ratios(&self, peer: Peer) -> Vec<f64> {
        let (Some(twig), Some(other)) = (self.runs.get(&Peer::Twig), self.runs.get(&peer)) else {
            return Vec::new();
        };
        twig.iter()
            .zip(other)
            .filter(|(_, b)| **b != 0.0)
            .map(|(a, b)| a / b)
            .filter(|r| r.is_finite())
            .collect()
    }

    /// twig / peer, as the median of per-round ratios.
    pub fn ratio(&self, peer: Peer) -> Option<f64> {
        median(&self.ratios(peer))
    }

    /// The lowest and highest per-round ratio, when there are several rounds.
    pub fn spread(&self, peer: Peer) -> Option<(f64, f64)> {
        let r = self.ratios(peer);
        if r.len() < 2 {
            return None;
        }
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((lo, hi))
    }

    pub fn median(&self, peer: Peer) -> Option<f64> {
        median(self.runs.get(&peer)?)
    }

    /// The ratio turned so that above 1 means twig is better.
    fn advantage(&self, peer: Peer) -> Option<f64> {
        let r = self.ratio(peer)?;
        match self.better {
            Better::Higher => Some(r),
            Better::Lower if r > 0.0 => Some(1.0 / r),
            Better::Lower | Better::Neither => None,
        }
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Everything a run found.
#[derive(Default)]
pub struct Report {
    pub metrics: Vec<Metric>,
    /// Markdown sections: syscall and instruction breakdowns.
    pub sections: Vec<String>,
    /// Target checks: (target, twig's value, verdict).
    pub targets: Vec<(String, String, String)>,
}

impl Report {
    pub fn add(
        &mut self,
        workload: &str,
        what: &str,
        better: Better,
        runs: BTreeMap<Peer, Vec<f64>>,
    ) {
        self.metrics.push(Metric {
            workload: workload.into(),
            what: what.into(),
            better,
            runs,
        });
    }

    pub fn find(&self, workload: &str, what: &str) -> Option<&Metric> {
        self.metrics
            .iter()
            .find(|m| m.workload == workload && m.what == what)
    }

    /// Adds a target line: `ok` decides the verdict; `noisy` says the
    /// threshold lies inside the range of the per-round ratios.
    pub fn target(&mut self, target: &str, value: String, ok: Option<bool>) {
        self.target_noisy(target, value, ok, false);
    }

    pub fn target_noisy(&mut self, target: &str, value: String, ok: Option<bool>, noisy: bool) {
        let verdict = match (ok, noisy) {
            (Some(true), false) => "met",
            (Some(false), false) => "**not met**",
            (Some(true), true) => "met (threshold inside the rounds' range)",
            (Some(false), true) => "not met (threshold inside the rounds' range)",
            (None, _) => "not measured",
        };
        self.targets.push((target.into(), value, verdict.into()));
    }

    /// The Markdown table: one row per metric and peer.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| workload | metric | better | twig | peer | peer's | twig/peer | rounds' range |\n\
             |---|---|---|---:|---|---:|---:|---|\n",
        );
        for m in &self.metrics {
            let better = match m.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
                Better::Neither => "–",
            };
            let twig = m.median(Peer::Twig).map_or("–".into(), fmt_num);
            for (&peer, _) in m.runs.iter().filter(|(p, _)| **p != Peer::Twig) {
                let theirs = m.median(peer).map_or("–".into(), fmt_num);
                let ratio = m.ratio(peer).map_or("–".into(), |r| format!("{r:.2}"));
                let spread = m
                    .spread(peer)
                    .map_or(String::new(), |(lo, hi)| format!("{lo:.2}–{hi:.2}"));
                let _ = writeln!(
                    s,
                    "| {} | {} | {better} | {twig} | {} | {theirs} | {ratio} | {spread} |",
                    m.workload,
                    m.what,
                    peer.name()
                );
            }
        }
        s
    }

    pub fn targets_table(&self) -> String {
        let mut s = String::from("| target | measured | verdict |\n|---|---|---|\n");
        for (t, v, verdict) in &self.targets {
            let _ = writeln!(s, "| {t} | {v} | {verdict} |");
        }
        s
    }

    /// Every value of every round, tab-separated.
    pub fn raw(&self) -> String {
        let mut s = String::from("workload\tmetric\tserver\tround\tvalue\n");
        for m in &self.metrics {
            for (peer, values) in &m.runs {
                for (i, v) in values.iter().enumerate() {
                    let _ = writeln!(s, "{}\t{}\t{}\t{i}\t{v}", m.workload, m.what, peer.name());
                }
            }
        }
        s
    }

    pub fn write(&self, dir: &Path, header: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut md = String::from(header);
        md.push_str("\n![twig against its peers](chart.svg)\n\n## Ratios\n\n");
        md.push_str(&self.table());
        md.push_str("\n## Targets\n\n");
        md.push_str(&self.targets_table());
        for section in &self.sections {
            md.push('\n');
            md.push_str(section);
        }
        std::fs::write(dir.join("results.md"), md)?;
        std::fs::write(dir.join("raw.tsv"), self.raw())?;
        std::fs::write(dir.join("chart.svg"), self.chart())
    }

    /// A horizontal grouped bar chart of twig's advantage over each peer,
    /// on a log scale: right of the 1× line, twig is better.
    pub fn chart(&self) -> String {
        let peers = [
            Peer::C,
            Peer::Mio,
            Peer::Tokio,
            Peer::Asyncio,
            Peer::Python,
            Peer::Redis,
            Peer::Nginx,
        ];
        let colors = [
            "#d95f02", "#666666", "#1b9e77", "#7570b3", "#e7298a", "#a6761d", "#66a61e",
        ];
        let rows: Vec<(&Metric, Vec<(usize, f64)>)> = self
            .metrics
            .iter()
            .map(|m| {
                let bars = peers
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| Some((i, m.advantage(*p)?)))
                    .collect();
                (m, bars)
            })
            .filter(|(_, bars): &(&Metric, Vec<_>)| !bars.is_empty())
            .collect();
        let (label_w, plot_w, bar_h, gap) = (250.0, 560.0, 11.0, 12.0);
        let (lo, hi) = (-5.0f64, 6.0f64); // log2 range: 1/32× .. 64×
        let x_of = |v: f64| label_w + (v.log2().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
        let top = 74.0;
        let height: f64 = rows
            .iter()
            .map(|(_, b)| (b.len() as f64 * bar_h).max(24.0) + gap)
            .sum::<f64>()
            + top
            + 40.0;
        let width = label_w + plot_w + 70.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(
            s,
            r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="18" font-size="14" font-weight="bold">twig's advantage over each peer (log scale; right of 1× = twig better)</text><text x="10" y="52" font-size="10" fill="dimgray">twig/peer where more is better (requests/s, MB/s); peer/twig where less is better (latency, CPU, syscalls, instructions, memory). Medians of paired rounds.</text>"#
        );
        for (i, (p, c)) in peers.iter().zip(colors).enumerate() {
            // Seven entries fit the chart's width at 120 px each.
            let x = 10.0 + i as f64 * 120.0;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="28" width="10" height="10" fill="{c}"/><text x="{}" y="37">{}</text>"#,
                x + 14.0,
                p.name()
            );
        }
        for k in lo as i32..=hi as i32 {
            let v = 2f64.powi(k);
            let x = x_of(v);
            let (stroke, w) = if k == 0 {
                ("black", 1.5)
            } else {
                ("lightgray", 1.0)
            };
            let label = if k >= 0 {
                format!("{}×", v as u32)
            } else {
                format!("1/{}×", (1.0 / v) as u32)
            };
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="{stroke}" stroke-width="{w}"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="dimgray">{label}</text>"#,
                top - 6.0,
                height - 30.0,
                height - 16.0
            );
        }
        let mut y = top;
        for (m, bars) in &rows {
            let block = (bars.len() as f64 * bar_h).max(24.0);
            let _ = writeln!(
                s,
                r#"<text x="{x}" y="{:.1}" text-anchor="end">{}</text><text x="{x}" y="{:.1}" text-anchor="end" fill="dimgray">{}</text>"#,
                y + block / 2.0 - 2.0,
                esc(&m.workload),
                y + block / 2.0 + 10.0,
                esc(&m.what),
                x = label_w - 8.0,
            );
            for (j, (i, adv)) in bars.iter().enumerate() {
                let (x0, x1) = (x_of(1.0), x_of(*adv));
                let (x, w) = if x1 >= x0 {
                    (x0, x1 - x0)
                } else {
                    (x1, x0 - x1)
                };
                let by = y + j as f64 * bar_h;
                // The value sits past the bar's end, on whichever side it grows.
                let (tx, anchor) = if x1 >= x0 {
                    (x1 + 3.0, "start")
                } else {
                    (x1 - 3.0, "end")
                };
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {adv:.2}×</title></rect><text x="{tx:.1}" y="{:.1}" font-size="9" fill="black" text-anchor="{anchor}">{adv:.2}×</text>"#,
                    w.max(1.0),
                    bar_h - 2.0,
                    colors[*i],
                    peers[*i].name(),
                    by + bar_h - 3.0
                );
            }
            y += block + gap;
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Rebuilds the metrics from a saved `raw.tsv` (the direction of each
/// metric follows from its name), to redraw the chart without a new run.
pub fn from_raw(text: &str) -> Report {
    let mut report = Report::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [workload, what, server, _round, value] = f[..] else {
            continue;
        };
        let Some(peer) = Peer::ALL.into_iter().find(|p| p.name() == server) else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(f64::NAN);
        let better = if what.ends_with("/s") || what.starts_with("MB/s") {
            Better::Higher
        } else if what.starts_with("wake-ups") {
            Better::Neither
        } else {
            Better::Lower
        };
        if report.find(workload, what).is_none() {
            report.add(workload, what, better, BTreeMap::new());
        }
        if let Some(m) = report
            .metrics
            .iter_mut()
            .find(|m| m.workload == workload && m.what == what)
        {
            m.runs.entry(peer).or_default().push(value);
        }
    }
    report
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A number with about three significant digits.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
