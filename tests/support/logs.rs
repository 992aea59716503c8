//! A capturing logger for tests that check what twig logs. Installing a
//! logger is process-wide, so only a test binary that uses these helpers
//! for all its tests should call them; each test finds its own lines (by
//! the client's address, say).

use std::sync::{Mutex, OnceLock};

/// Keeps every `twig` log line at `debug` and above, as `LEVEL message`.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target().starts_with("twig") && metadata.level() <= log::Level::Debug
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            self.0.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

/// Installs the capturing logger (once per process).
pub fn capture() {
    lines();
}

/// The captured lines store, installing the logger on first use.
fn lines() -> &'static Mutex<Vec<String>> {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Debug);
        capture
    });
    &capture.0
}

/// Every line captured so far that contains `needle`.
pub fn matching(needle: &str) -> Vec<String> {
    let lines = lines().lock().unwrap();
    lines
        .iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}
