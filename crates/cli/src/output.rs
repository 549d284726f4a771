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
}
