//! The docs' figures come from the code.
//!
//! `Config`'s doc comment (src/api/config.rs) holds the one table of twig's
//! defaults and fixed figures. These tests read that table from the source
//! and check it against `Config::default()` and the constants it names; then
//! they check every figure the guide, the cookbook, the README, the crate
//! docs and the annotated trace quote (a number with a unit: `64 KiB`,
//! `30 s`, `100 ms`) against the table. A figure must follow the name it
//! belongs to (`` `io_budget` (256 KiB) ``), or be listed in [`NOT_DEFAULTS`]
//! with the reason it is not one.

use std::collections::HashMap;
use std::time::Duration;

use twig::Config;

const CONFIG_RS: &str = include_str!("../src/api/config.rs");

/// The documents whose figures are checked, and their text.
const DOCS: &[(&str, &str)] = &[
    ("src/guide.rs", include_str!("../src/guide.rs")),
    ("src/cookbook.rs", include_str!("../src/cookbook.rs")),
    ("src/lib.rs", include_str!("../src/lib.rs")),
    ("README.md", include_str!("../README.md")),
    (
        "docs/lesson-trace.md",
        include_str!("../docs/lesson-trace.md"),
    ),
    ("CHANGELOG.md", include_str!("../CHANGELOG.md")),
];

/// Figures that are not twig's defaults: (file, a snippet of the line that
/// holds the figure, why).
const NOT_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "README.md",
        "default message limit 1 MiB",
        "twig::ws::Settings::max_message, not a Config field (checked by the_websocket_defaults_are_what_the_docs_say)",
    ),
    (
        "CHANGELOG.md",
        "a 1 MiB default message limit",
        "twig::ws::Settings::max_message, not a Config field (checked by the_websocket_defaults_are_what_the_docs_say)",
    ),
    (
        "README.md",
        "one per 100 ms",
        "http_server's /events interval",
    ),
    (
        "CHANGELOG.md",
        "one event per 100 ms",
        "http_server's /events interval",
    ),
    (
        "CHANGELOG.md",
        "RSS under 16 MiB (about 5 s",
        "what tests/http_stream.rs asserts and measured",
    ),
    (
        "docs/lesson-trace.md",
        "5 s",
        "the max_wait tests/lesson_trace.rs passes to turn()",
    ),
    (
        "docs/lesson-trace.md",
        "a 30 s linger timeout",
        "the linger timeout tests/lesson_trace.rs sets",
    ),
    (
        "docs/lesson-trace.md",
        "(30 s here)",
        "the linger timeout tests/lesson_trace.rs sets",
    ),
];

/// Names the docs may use for a row of the table.
const ALIASES: &[(&str, &str)] = &[
    ("IDLE_TIMEOUT_SECS", "idle_timeout"),
    ("REQUEST_TIMEOUT_SECS", "request_timeout"),
    ("WRITE_TIMEOUT_SECS", "write_timeout"),
    ("Config::listen_backlog", "listen_backlog"),
];

/// One row of the table.
#[derive(Debug)]
struct Row {
    /// A `Config` field, or a constant (or call) in `path`.
    name: String,
    /// For a fixed figure: the source file that holds it.
    path: Option<String>,
    /// The documented value, canonical (see [`canonical`]).
    value: String,
    /// The default of debug builds, where it differs: `100 ms (10 ms in
    /// debug builds)`.
    debug: Option<String>,
}

/// The rows of the tables in `Config`'s doc comment.
fn table() -> Vec<Row> {
    let doc = CONFIG_RS
        .split("pub struct Config {")
        .next()
        .expect("Config is defined in src/api/config.rs");
    let mut rows = Vec::new();
    for line in doc.lines().map(str::trim) {
        let Some(row) = line.strip_prefix("/// |") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let quoted = backticked(cells[0]);
        if quoted.is_empty() {
            continue; // a header or the `|---|` line
        }
        let (release, debug) = match cells[1].split_once(" (") {
            Some((release, note)) if note.ends_with(" in debug builds)") => {
                (release, note.strip_suffix(" in debug builds)"))
            }
            _ => (cells[1], None),
        };
        let read = |text: &str| {
            canonical(text)
                .unwrap_or_else(|| panic!("unreadable default {:?} for {}", cells[1], quoted[0]))
        };
        rows.push(Row {
            name: quoted[0].to_string(),
            path: quoted.get(1).map(|p| p.to_string()),
            value: read(release),
            debug: debug.map(read),
        });
    }
    assert!(rows.len() > 10, "the defaults table is missing: {rows:?}");
    rows
}

/// The texts between backticks, in order.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A documented value in the form `Debug` prints it: `10,000` → `10000`,
/// `64 KiB` → `65536`, `30 s` → `30s`, `100 ms` → `100ms`, a link or code
/// span naming an enum variant → the variant, `none` → `None`.
fn canonical(text: &str) -> Option<String> {
    let text = text.trim();
    if text == "none" || text == "off" {
        return Some("None".into());
    }
    if let Some(word) = backticked(text).first() {
        return Some(word.rsplit("::").next().unwrap_or(word).to_string());
    }
    let (value, len) = figure(text)?;
    (len == text.len()).then_some(value)
}

/// A figure at the start of `text`, canonical, and its length: digits
/// (with `,` separators and one `.`), then an optional space and unit.
fn figure(text: &str) -> Option<(String, usize)> {
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(text.len());
    let number = text[..digits].trim_end_matches([',', '.']);
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let digits = number.len();
    let number: String = number.chars().filter(|&c| c != ',').collect();
    let rest = &text[digits..];
    let spaced = rest.strip_prefix(' ').unwrap_or(rest);
    for unit in ["KiB", "MiB", "ms", "s"] {
        let Some(after) = spaced.strip_prefix(unit) else {
            continue;
        };
        if after.starts_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        let len = text.len() - after.len();
        let value = match unit {
            "KiB" => (number.parse::<u64>().ok()? * 1024).to_string(),
            "MiB" => (number.parse::<u64>().ok()? * 1024 * 1024).to_string(),
            "ms" => format!("{:?}", Duration::from_millis(number.parse().ok()?)),
            _ => format!("{:?}", Duration::from_secs_f64(number.parse().ok()?)),
        };
        return Some((value, len));
    }
    let value = number.parse::<u64>().ok()?;
    Some((value.to_string(), digits))
}

/// `Config::default()`, field by field, as `Debug` prints the values
/// (`Some(60s)` → `60s`).
fn defaults() -> HashMap<String, String> {
    let debug = format!("{:?}", Config::default());
    let inner = debug
        .strip_prefix("Config { ")
        .and_then(|d| d.strip_suffix(" }"))
        .expect("Config's derived Debug");
    inner
        .split(", ")
        .map(|field| {
            let (name, value) = field.split_once(": ").expect("name: value");
            let value = value
                .strip_prefix("Some(")
                .and_then(|v| v.strip_suffix(')'))
                .unwrap_or(value);
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// The fields of `Config`, from its source, with their doc comments.
fn fields() -> Vec<(String, String)> {
    let body = CONFIG_RS
        .split("pub struct Config {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("Config's fields");
    let mut fields = Vec::new();
    let mut doc = String::new();
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push_str(text);
        } else if let Some(field) = line.strip_prefix("pub ") {
            let name = field.split(':').next().unwrap_or(field).to_string();
            fields.push((name, std::mem::take(&mut doc)));
        }
    }
    fields
}

#[test]
fn the_table_lists_every_config_field_with_its_default() {
    let table = table();
    let actual = defaults();
    let mut wrong = Vec::new();
    for (field, _) in fields() {
        // The tests run in debug builds: where the table gives a debug
        // default, that is what `Config::default()` has here.
        let documented = |row: &Row| match &row.debug {
            Some(debug) if cfg!(debug_assertions) => debug.clone(),
            _ => row.value.clone(),
        };
        match table.iter().find(|r| r.path.is_none() && r.name == field) {
            None => wrong.push(format!("{field}: not in the table")),
            Some(row) if documented(row) != actual[&field] => wrong.push(format!(
                "{field}: the table says {}, Config::default() has {}",
                documented(row),
                actual[&field]
            )),
            Some(_) => {}
        }
    }
    for row in table.iter().filter(|r| r.path.is_none()) {
        if !actual.contains_key(&row.name) {
            wrong.push(format!("{}: in the table but not a Config field", row.name));
        }
    }
    assert!(wrong.is_empty(), "src/api/config.rs: {wrong:#?}");
}

#[test]
fn each_field_doc_quotes_the_same_default() {
    let table = table();
    let mut wrong = Vec::new();
    for (field, doc) in fields() {
        let Some(at) = doc.find("(default ") else {
            continue;
        };
        let quoted = &doc[at + "(default ".len()..];
        let value = figure(quoted)
            .map(|(value, _)| value)
            .or_else(|| canonical(quoted.split(')').next().unwrap_or(quoted)));
        let row = table
            .iter()
            .find(|r| r.name == field)
            .expect("in the table");
        if value.as_deref() != Some(&row.value) {
            wrong.push(format!(
                "{field}: its doc says {value:?}, the table {}",
                row.value
            ));
        }
    }
    assert!(wrong.is_empty(), "src/api/config.rs: {wrong:#?}");
}

/// Evaluates the right-hand side of a constant: `256 * 1024`,
/// `Duration::from_millis(1)`, `1024`.
fn evaluate(expr: &str) -> String {
    let expr = expr.trim();
    let arg = |prefix: &str| {
        expr.strip_prefix(prefix)
            .and_then(|e| e.strip_suffix(')'))
            .map(|n| n.replace('_', "").parse::<u64>().expect("an integer"))
    };
    if let Some(ms) = arg("Duration::from_millis(") {
        return format!("{:?}", Duration::from_millis(ms));
    }
    if let Some(s) = arg("Duration::from_secs(") {
        return format!("{:?}", Duration::from_secs(s));
    }
    let product: u64 = expr
        .split('*')
        .map(|n| n.trim().replace('_', "").parse::<u64>())
        .product::<Result<u64, _>>()
        .unwrap_or_else(|_| panic!("cannot evaluate {expr:?}"));
    product.to_string()
}

#[test]
fn the_fixed_figures_match_the_source() {
    let mut wrong = Vec::new();
    for row in table() {
        let Some(path) = &row.path else { continue };
        let source = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let value = if row.name.contains("::") {
            // A call: `Events::with_capacity(1024)`.
            let call = format!("{}(", row.name);
            let at = source.find(&call).map(|at| at + call.len());
            at.and_then(|at| source[at..].split(')').next())
                .map(evaluate)
        } else {
            let decl = format!("const {}:", row.name);
            source.lines().find(|l| l.contains(&decl)).map(|line| {
                let rhs = line.split_once('=').expect("const NAME: T = value;").1;
                evaluate(rhs.trim_end().trim_end_matches(';'))
            })
        };
        match value {
            None => wrong.push(format!("{}: not found in {path}", row.name)),
            Some(v) if v != row.value => wrong.push(format!(
                "{}: the table says {}, {path} has {v}",
                row.name, row.value
            )),
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Byte ranges of `line` that hold a figure, with the name it follows, if
/// any.
fn figures_in(line: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let starts_word = i == 0 || {
            let c = bytes[i - 1];
            !(c.is_ascii_alphanumeric() || b"._#:-/".contains(&c))
        };
        if starts_word
            && bytes[i].is_ascii_digit()
            && let Some((value, len)) = figure(&line[i..])
        {
            let text = &line[i..i + len];
            if text.contains(|c: char| c.is_alphabetic()) {
                found.push((i..i + len, value));
            }
            i += len;
            continue;
        }
        i += 1;
    }
    found
}

/// The table row a code span names (`io_budget`, `Config::io_budget`, an
/// alias), if any.
fn row_named<'a>(table: &'a [Row], quoted: &str) -> Option<&'a Row> {
    let quoted = ALIASES
        .iter()
        .find(|(alias, _)| *alias == quoted)
        .map_or(quoted, |(_, name)| *name);
    let short = quoted.strip_prefix("Config::").unwrap_or(quoted);
    table.iter().find(|r| r.name == short || r.name == quoted)
}

/// For each code span naming a table row, the figure right after it (past
/// a link target, `(`, `,`, `:`, `=` and the word `default`), if any:
/// (where the figure starts, the row).
fn attributed<'a>(table: &'a [Row], line: &str) -> Vec<(usize, &'a Row)> {
    let mut out = Vec::new();
    let mut rest_at = 0;
    let mut spans = line.match_indices('`');
    while let (Some((open, _)), Some((close, _))) = (spans.next(), spans.next()) {
        let Some(row) = row_named(table, &line[open + 1..close]) else {
            continue;
        };
        let mut at = close + 1;
        if line[at..].starts_with("](") {
            at += line[at..].find(')').map_or(0, |p| p + 1);
        }
        loop {
            let rest = &line[at..];
            let skipped = rest.trim_start_matches([' ', '(', ',', ':', '=']);
            let skipped = skipped.strip_prefix("default").unwrap_or(skipped);
            if skipped.len() == rest.len() {
                break;
            }
            at += rest.len() - skipped.len();
        }
        if at > rest_at {
            out.push((at, row));
            rest_at = at;
        }
    }
    out
}

#[test]
fn every_figure_the_docs_quote_is_the_tables() {
    let table = table();
    let mut wrong = Vec::new();
    for (file, text) in DOCS {
        for (n, line) in text.lines().enumerate() {
            let place = |figure: &str| format!("{file}:{}: {figure:?}", n + 1);
            // Figures after a name, units or not (`max_connections` (10,000)).
            let mut checked = Vec::new();
            for (at, row) in attributed(&table, line) {
                let Some((value, len)) = figure(&line[at..]) else {
                    continue;
                };
                checked.push(at);
                if row.value != value {
                    wrong.push(format!(
                        "{} for {}, but the table says {}",
                        place(&line[at..at + len]),
                        row.name,
                        row.value
                    ));
                }
            }
            // Every other figure with a unit must say why it is no default.
            for (range, _) in figures_in(line) {
                let figure = &line[range.clone()];
                let excused = NOT_DEFAULTS.iter().any(|(f, snippet, _)| {
                    f == file && line.contains(snippet) && snippet.contains(figure)
                });
                if !checked.contains(&range.start) && !excused {
                    wrong.push(format!(
                        "{} follows no name from Config's table: write it as \
                         `name` (figure), or list it in NOT_DEFAULTS with the reason",
                        place(figure)
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_figure_reader_reads_what_the_docs_write() {
    assert_eq!(canonical("10,000").as_deref(), Some("10000"));
    assert_eq!(canonical("64 KiB").as_deref(), Some("65536"));
    assert_eq!(canonical("4 MiB").as_deref(), Some("4194304"));
    assert_eq!(canonical("30 s").as_deref(), Some("30s"));
    assert_eq!(canonical("100 ms").as_deref(), Some("100ms"));
    assert_eq!(
        canonical("[`Wait`](AtCapacity::Wait)").as_deref(),
        Some("Wait")
    );
    assert_eq!(canonical("64 KiB and more"), None);
    let table = table();
    let line = "`io_budget` (256 KiB per turn), 3 steps, [`Config::max_output`](x) 4 MiB, 2 s";
    let named: Vec<(usize, &str)> = attributed(&table, line)
        .into_iter()
        .map(|(at, row)| (at, row.name.as_str()))
        .collect();
    let figures: Vec<String> = figures_in(line).into_iter().map(|(_, v)| v).collect();
    assert_eq!(figures, ["262144", "4194304", "2s"]);
    assert_eq!(named[0].1, "io_budget");
    assert_eq!(&line[named[0].0..named[0].0 + 7], "256 KiB");
    assert_eq!(&line[named[1].0..named[1].0 + 5], "4 MiB");
    assert_eq!(named.len(), 2, "the bare 2 s is attributed to nothing");
}

/// The WebSocket figures the README and CHANGELOG quote (they are
/// `twig::ws::Settings`, not `Config`, so the table check above skips them).
#[test]
fn the_websocket_defaults_are_what_the_docs_say() {
    assert_eq!(twig::ws::Settings::default().max_message, 1024 * 1024);
}
