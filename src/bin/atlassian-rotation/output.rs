//! What the tool writes: tables or JSON on stdout, notes on stderr (unless `--quiet`).

use std::io::Write as _;

use serde::Serialize;

use crate::exit::CliResult;

/// How results are written.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
}

impl Output {
    /// One JSON object on one line of stdout.
    pub fn json_line(&self, value: &impl Serialize) -> CliResult {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
        Ok(())
    }

    /// A line of text on stdout (lines of its own kept, other control characters escaped).
    pub fn line(&self, text: impl std::fmt::Display) -> CliResult {
        writeln!(std::io::stdout().lock(), "{}", printable(&text, true))?;
        Ok(())
    }

    /// A note for the person on stderr, unless `--quiet`.
    pub fn note(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("atlassian-rotation: {}", printable(&text, false));
        }
    }

    /// A table on stdout: a header row and rows, columns padded to their widest cell.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) -> CliResult {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|cell| printable(cell, false)).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = std::io::stdout().lock();
        let mut write_row = |cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
            let mut line = String::new();
            for (i, (cell, width)) in cells.zip(&widths).enumerate() {
                if i + 1 == header.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  "));
                }
            }
            writeln!(out, "{}", line.trim_end())
        };
        write_row(&mut header.iter().copied())?;
        for row in &rows {
            write_row(&mut row.iter().map(String::as_str))?;
        }
        Ok(())
    }
}

/// `text` safe for a terminal: what a server sent (a rule's name, an error body) may hold
/// escape sequences that retitle or clear the terminal, or a newline that forges a table row.
/// Control characters are written escaped (`\u{1b}`); newlines are kept when `lines`.
pub fn printable(text: &impl std::fmt::Display, lines: bool) -> String {
    text.to_string()
        .chars()
        .map(|c| match c {
            '\n' if lines => c.to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// An optional value as a table cell.
pub fn cell(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}
