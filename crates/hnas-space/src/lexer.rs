//! Tokens of the space language and of the candidate string form (they share one lexer).

use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Int(i64),
    Float(f64),
    Str(String),
    Punct(char),
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(x) => format!("number {x}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Punct(c) => format!("'{c}'"),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

/// A lexing problem: where and what.
#[derive(Debug, Clone)]
pub(crate) struct LexError {
    pub span: Range<usize>,
    pub message: String,
}

const PUNCT: &str = "=|(){},:@[];>!";

/// Splits `text` into tokens. `#` starts a comment running to the end of the line.
/// Lexing goes on after an error, so that several problems are reported at once.
pub(crate) fn lex(text: &str) -> (Vec<Token>, Vec<LexError>) {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut errs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            toks.push(Token {
                tok: Tok::Ident(text[start..i].to_string()),
                span: start..i,
            });
        } else if c.is_ascii_digit()
            || ((c == b'-' || c == b'+' || c == b'.')
                && bytes
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == b'.'))
        {
            let start = i;
            i = number_end(bytes, i);
            let s = &text[start..i];
            let is_float = s.contains(['.', 'e', 'E']) || s.contains("inf") || s.contains("nan");
            let digits = s.trim_start_matches(['-', '+']);
            if !is_float && digits.len() > 1 && digits.starts_with('0') {
                // `{0112, 0123}` reads like link patterns, not numbers: silently taking 112
                // loses what the user meant.
                errs.push(LexError {
                    span: start..i,
                    message: format!(
                        "'{s}' has a leading zero; write \"{s}\" (quoted) for the text, or {} for the number",
                        s.parse::<i64>().map_or_else(|_| "the digits without it".to_string(), |n| n.to_string())
                    ),
                });
                continue;
            }
            let tok = if is_float {
                s.parse::<f64>().ok().map(Tok::Float)
            } else {
                s.parse::<i64>().ok().map(Tok::Int)
            };
            match tok {
                Some(t) => toks.push(Token {
                    tok: t,
                    span: start..i,
                }),
                None => errs.push(LexError {
                    span: start..i,
                    message: format!("malformed number '{s}'"),
                }),
            }
        } else if c == b'"' {
            let start = i;
            i += 1;
            let mut s = String::new();
            let mut closed = false;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    b'\\' if i + 1 < bytes.len() => {
                        // The escaped character may be several bytes long (found by fuzzing).
                        let esc = text[i + 1..].chars().next().unwrap_or('\u{fffd}');
                        match esc {
                            '"' => s.push('"'),
                            '\\' => s.push('\\'),
                            '/' => s.push('/'),
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            // JSON's \uXXXX (a surrogate pair for characters past U+FFFF):
                            // candidates print strings with JSON's escapes, so a string holding
                            // a control character must read back (found by fuzzing: a NUL).
                            'u' => match json_unicode_escape(&text[i..]) {
                                Some((ch, len)) => {
                                    s.push(ch);
                                    i += len;
                                    continue;
                                }
                                None => errs.push(LexError {
                                    span: i..i + 2,
                                    message: "malformed \\u escape; expected \\u and four hex digits (a surrogate pair for characters past U+FFFF)".to_string(),
                                }),
                            },
                            _ => errs.push(LexError {
                                span: i..i + 1 + esc.len_utf8(),
                                message: "unknown escape; expected one of \\\" \\\\ \\/ \\n \\t \\r \\b \\f \\uXXXX"
                                    .to_string(),
                            }),
                        }
                        i += 1 + esc.len_utf8();
                    }
                    b'\n' => break,
                    _ => {
                        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            if closed {
                toks.push(Token {
                    tok: Tok::Str(s),
                    span: start..i,
                });
            } else {
                errs.push(LexError {
                    span: start..i,
                    message: "unterminated string; expected a closing '\"' on the same line"
                        .to_string(),
                });
            }
        } else if PUNCT.as_bytes().contains(&c) {
            toks.push(Token {
                tok: Tok::Punct(c as char),
                span: i..i + 1,
            });
            i += 1;
        } else {
            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
            errs.push(LexError {
                span: i..i + ch.len_utf8(),
                message: format!("unexpected character '{ch}'"),
            });
            i += ch.len_utf8();
        }
    }
    toks.push(Token {
        tok: Tok::Eof,
        span: text.len()..text.len(),
    });
    (toks, errs)
}

fn number_end(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'-' || b[i] == b'+' {
        i += 1;
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// Reads `\uXXXX` (or a surrogate pair `\uD8xx\uDCxx`) at the start of `t`: the character
/// and the bytes it took.
fn json_unicode_escape(t: &str) -> Option<(char, usize)> {
    let hex4 = |at: usize| -> Option<u32> {
        let h = t.get(at..at + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    };
    if !t.starts_with("\\u") {
        return None;
    }
    let hi = hex4(2)?;
    if (0xD800..0xDC00).contains(&hi) {
        if t.get(6..8) != Some("\\u") {
            return None;
        }
        let lo = hex4(8)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return char::from_u32(c).map(|ch| (ch, 12));
    }
    char::from_u32(hi).map(|ch| (ch, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let (t, e) = lex(s);
        assert!(e.is_empty(), "{e:?}");
        t.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_idents_strings_and_comments() {
        assert_eq!(
            toks("a_1 = 0.5: f(x = -3, y = 1e-4, z = \"q\\\"\") # tail"),
            vec![
                Tok::Ident("a_1".into()),
                Tok::Punct('='),
                Tok::Float(0.5),
                Tok::Punct(':'),
                Tok::Ident("f".into()),
                Tok::Punct('('),
                Tok::Ident("x".into()),
                Tok::Punct('='),
                Tok::Int(-3),
                Tok::Punct(','),
                Tok::Ident("y".into()),
                Tok::Punct('='),
                Tok::Float(1e-4),
                Tok::Punct(','),
                Tok::Ident("z".into()),
                Tok::Punct('='),
                Tok::Str("q\"".into()),
                Tok::Punct(')'),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn an_escaped_multibyte_character_is_an_error_not_a_panic() {
        // Found by the parse_candidate fuzz target: a backslash before a two-byte character.
        let (t, e) = lex("\"a\\\u{68a}b\" x");
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("unknown escape"));
        assert_eq!(t.last().map(|t| &t.tok), Some(&Tok::Eof));
        let crash = include_bytes!("../tests/fuzz_found/escaped_multibyte.txt");
        let _ = lex(&String::from_utf8_lossy(crash));
    }

    #[test]
    fn errors_do_not_stop_lexing() {
        let (t, e) = lex("a $ b \"open");
        assert_eq!(e.len(), 2);
        assert!(e[0].message.contains("'$'"));
        assert!(e[1].message.contains("unterminated"));
        assert_eq!(t.len(), 3);
    }
}
