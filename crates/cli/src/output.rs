//! Human text by default, one JSON value per result with `--json`.

use std::fmt::Display;

/// How results are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    /// Print JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Prints a result as text or as JSON.
    pub fn print(&self, human: impl Display, json: serde_json::Value) {
        if self.json {
            println!("{json}");
        } else {
            println!("{human}");
        }
    }

    /// Prints a command's [`Report`].
    pub fn report(&self, report: Report) {
        self.print(report.human, report.json);
    }
}

/// What a command found or did, in both forms; commands that other commands reuse (the demo)
/// return one instead of printing.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The text a person reads.
    pub human: String,
    /// The JSON a script reads.
    pub json: serde_json::Value,
}

impl Report {
    /// A report of `human` text and `json`.
    pub fn new(human: impl Into<String>, json: serde_json::Value) -> Self {
        Self { human: human.into(), json }
    }
}
