//! Diagnostics: an error message tied to a place in a source text.

use std::fmt;
use std::ops::Range;

/// One problem found in a space file or a candidate string.
///
/// `Display` gives the one-line form `file:line:col: message`; [`Diagnostic::render`]
/// adds the offending source line with a caret under the span.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Name of the source (a file path, or `<candidate>` for candidate strings).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// What is wrong, including what would have been valid.
    pub message: String,
    /// An optional hint ("did you mean ...").
    pub help: Option<String>,
}

impl Diagnostic {
    /// Builds a diagnostic for `span` in `text`, computing line and column.
    pub fn new(file: &str, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = span.start.min(text.len());
        let before = &text[..floor_char_boundary(text, start)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Diagnostic {
            file: file.to_string(),
            line,
            col,
            span,
            message: message.into(),
            help: None,
        }
    }

    /// Attaches a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The diagnostic with the source line it points into and a caret marker.
    pub fn render(&self, text: &str) -> String {
        let mut out = format!(
            "{}:{}:{}: {}\n",
            self.file, self.line, self.col, self.message
        );
        if let Some(src_line) = text.lines().nth(self.line - 1) {
            let gutter = self.line.to_string().len();
            let width = {
                let start = floor_char_boundary(text, self.span.start.min(text.len()));
                let end = floor_char_boundary(text, self.span.end.min(text.len())).max(start);
                let first_line_end = text[start..end].find('\n').map_or(end, |i| start + i);
                text[start..first_line_end].chars().count().max(1)
            };
            out.push_str(&format!("{:gutter$} |\n", ""));
            out.push_str(&format!("{} | {}\n", self.line, src_line));
            out.push_str(&format!(
                "{:gutter$} | {}{}\n",
                "",
                " ".repeat(self.col - 1),
                "^".repeat(width)
            ));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// Most diagnostics one parse reports. Each one costs a scan of the text up to its place (for
/// its line and column), so a generated file with a mistake on every line would otherwise
/// take time quadratic in its length; the rest are counted in one closing diagnostic.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Collects diagnostics up to [`MAX_DIAGNOSTICS`], counting the ones past it.
#[derive(Debug, Default)]
pub(crate) struct DiagSink {
    pub items: Vec<Diagnostic>,
    pub dropped: usize,
}

impl DiagSink {
    /// Records a problem; `make` runs only while the list has room.
    pub fn push(&mut self, make: impl FnOnce() -> Diagnostic) {
        if self.items.len() < MAX_DIAGNOSTICS {
            self.items.push(make());
        } else {
            self.dropped += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The recorded problems, with one more at the end of the text counting those left out.
    pub fn finish(mut self, file: &str, text: &str) -> Vec<Diagnostic> {
        if self.dropped > 0 {
            self.items.push(Diagnostic::new(
                file,
                text,
                text.len()..text.len(),
                format!(
                    "{} more problems are not listed (only the first {MAX_DIAGNOSTICS} are)",
                    self.dropped
                ),
            ));
        }
        self.items
    }
}

/// Several diagnostics from one source; the error type of parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// The problems, in source order.
    pub items: Vec<Diagnostic>,
    /// The source text they point into (kept to render snippets).
    pub text: String,
}

impl Diagnostics {
    /// All diagnostics with source snippets, separated by blank lines.
    pub fn render(&self) -> String {
        self.items
            .iter()
            .map(|d| d.render(&self.text))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The closest of `candidates` to `word` by edit distance, if it is close enough
/// to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = b\nxé = ?\n";
        let at = text.find('?').unwrap();
        let d = Diagnostic::new("f.hnas", text, at..at + 1, "bad");
        assert_eq!((d.line, d.col), (2, 6));
        assert_eq!(d.to_string(), "f.hnas:2:6: bad");
        assert!(d.render(text).contains("2 | xé = ?\n"));
        assert!(d.render(text).contains("  |      ^\n"));
    }

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(did_you_mean("cel", ["cell", "network"]), Some("cell"));
        assert_eq!(did_you_mean("zzz", ["cell", "network"]), None);
    }
}
