//! The ingest decoder: a body of signals (a JSON array, NDJSON whole or streamed in chunks) into
//! signals and rejections by position (the array element or the line, from 1). Pure: it holds
//! at most one partial line of a stream and knows nothing of queues, the store or HTTP; the
//! ingest handler feeds what it yields to the engine.

use std::borrow::Cow;

use klaxon_engine::wire::parse_signal;
use klaxon_engine::Signal;
use serde_json::value::RawValue;

/// One element or line of a body.
// Each is moved straight into the handler's chunk of signals, never stored: boxing the signal
// would only add an allocation per signal.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A signal whose JSON took `json_len` bytes.
    Signal {
        signal: Signal,
        line: usize,
        json_len: usize,
    },
    Rejected {
        line: usize,
        error: String,
    },
}

/// The elements of a JSON array body, each parsed from its own text as a line of NDJSON is
/// (a key given twice is refused, and so is an element over `max_line` bytes). `Err`: the body
/// is not a JSON array.
pub(crate) fn array(
    body: &[u8],
    max_line: usize,
) -> Result<impl Iterator<Item = Decoded> + '_, String> {
    let items: Vec<&RawValue> =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON array: {e}"))?;
    Ok(items.into_iter().enumerate().map(move |(i, raw)| {
        let text = raw.get();
        let line = i + 1;
        if text.len() > max_line {
            return Decoded::Rejected {
                line,
                error: format!("signal over {max_line} bytes"),
            };
        }
        signal(text, line)
    }))
}

/// The lines of an NDJSON body held whole (sent without its content type, or one object).
/// `Err`: the body is not UTF-8.
pub(crate) fn lines(
    body: &[u8],
    max_line: usize,
) -> Result<impl Iterator<Item = Decoded> + '_, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_owned())?;
    Ok(text.lines().enumerate().filter_map(move |(i, text)| {
        let line = i + 1;
        if text.trim().is_empty() {
            return None;
        }
        if text.len() > max_line {
            return Some(Decoded::Rejected {
                line,
                error: format!("line over {max_line} bytes"),
            });
        }
        Some(signal(text, line))
    }))
}

/// How many lines [`lines`] reads in `body` (what `str::lines` counts).
pub(crate) fn line_count(body: &[u8]) -> usize {
    std::str::from_utf8(body).map_or(0, |t| t.lines().count())
}

fn signal(text: &str, line: usize) -> Decoded {
    match parse_signal(text) {
        Ok(signal) => Decoded::Signal {
            signal,
            line,
            json_len: text.len(),
        },
        Err(e) => Decoded::Rejected {
            line,
            error: e.to_string(),
        },
    }
}

/// A line of a stream: its bytes (borrowed from the chunk when it lies within one), or the
/// mark of a line over the limit, whose bytes were dropped as they came.
pub(crate) enum Piece<'a> {
    Line(Cow<'a, [u8]>),
    TooLong,
}

/// Splits a streamed NDJSON body into lines across chunks, holding at most `max_line` bytes
/// of a partial line.
pub(crate) struct Splitter {
    max_line: usize,
    pending: Vec<u8>,
    /// Inside a line that is over the limit.
    skipping: bool,
    line_no: usize,
}

impl Splitter {
    pub(crate) fn new(max_line: usize) -> Splitter {
        Splitter {
            max_line,
            pending: Vec::new(),
            skipping: false,
            line_no: 0,
        }
    }

    /// The number of the last line returned.
    pub(crate) fn line_no(&self) -> usize {
        self.line_no
    }

    /// The next complete line of `rest` with its number, advancing `rest` past it; `None` once
    /// `rest` holds no newline, its bytes kept (or counted over the limit) for the next chunk.
    pub(crate) fn next<'a>(&mut self, rest: &mut &'a [u8]) -> Option<(usize, Piece<'a>)> {
        let Some(pos) = rest.iter().position(|&b| b == b'\n') else {
            if !self.skipping {
                self.pending.extend_from_slice(rest);
                if self.pending.len() > self.max_line {
                    self.pending = Vec::new();
                    self.skipping = true;
                }
            }
            *rest = &[];
            return None;
        };
        let (head, tail) = rest.split_at(pos);
        *rest = &tail[1..];
        self.line_no += 1;
        if self.skipping {
            self.skipping = false;
            return Some((self.line_no, Piece::TooLong));
        }
        if self.pending.is_empty() {
            Some((self.line_no, Piece::Line(Cow::Borrowed(head))))
        } else {
            self.pending.extend_from_slice(head);
            let full = std::mem::take(&mut self.pending);
            Some((self.line_no, Piece::Line(Cow::Owned(full))))
        }
    }

    /// The last line, when the body does not end with a newline.
    pub(crate) fn finish(&mut self) -> Option<(usize, Piece<'static>)> {
        if self.skipping {
            self.skipping = false;
            self.line_no += 1;
            Some((self.line_no, Piece::TooLong))
        } else if !self.pending.is_empty() {
            self.line_no += 1;
            let last = std::mem::take(&mut self.pending);
            Some((self.line_no, Piece::Line(Cow::Owned(last))))
        } else {
            None
        }
    }
}

/// One line of a stream as a signal or a rejection; `None` for a blank line.
pub(crate) fn piece(line: usize, piece: &Piece<'_>, max_line: usize) -> Option<Decoded> {
    let too_long = || Decoded::Rejected {
        line,
        error: format!("line over {max_line} bytes"),
    };
    let bytes = match piece {
        Piece::TooLong => return Some(too_long()),
        Piece::Line(b) if b.len() > max_line => return Some(too_long()),
        Piece::Line(b) => b,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(Decoded::Rejected {
            line,
            error: "line is not UTF-8".to_owned(),
        });
    };
    let text = text.trim_end_matches('\r');
    if text.trim().is_empty() {
        return None;
    }
    Some(signal(text, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line's number and what became of it: the signal's JSON length, or the error.
    fn stream(chunks: &[&[u8]], max_line: usize) -> Vec<(usize, Result<usize, String>)> {
        let mut lines = Splitter::new(max_line);
        let mut out = Vec::new();
        let mut take = |line, p: &Piece<'_>| match piece(line, p, max_line) {
            Some(Decoded::Signal { line, json_len, .. }) => out.push((line, Ok(json_len))),
            Some(Decoded::Rejected { line, error }) => out.push((line, Err(error))),
            None => {}
        };
        for chunk in chunks {
            let mut rest = *chunk;
            while let Some((line, p)) = lines.next(&mut rest) {
                take(line, &p);
            }
        }
        if let Some((line, p)) = lines.finish() {
            take(line, &p);
        }
        out
    }

    #[test]
    fn a_stream_reads_the_same_whatever_its_chunks() {
        let body = b"{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"A\"}\r\n\n\
            {\"kind\":\"mark\",\"process\":\"p\",\"action\":\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"}\n\
            \xc3(\n{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"C\"}";
        let whole = stream(&[body], 60);
        assert_eq!(
            whole,
            vec![
                (1, Ok(42)),
                (3, Err("line over 60 bytes".to_owned())),
                (4, Err("line is not UTF-8".to_owned())),
                (5, Ok(42)),
            ]
        );
        for size in 1..body.len() {
            let chunks: Vec<&[u8]> = body.chunks(size).collect();
            assert_eq!(stream(&chunks, 60), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_stream_holds_at_most_one_line_of_the_limit() {
        let mut lines = Splitter::new(8);
        let mut rest: &[u8] = b"0123456789abcdef";
        assert!(lines.next(&mut rest).is_none());
        assert!(lines.pending.is_empty() && lines.skipping);
        let mut rest: &[u8] = b"more\n{}";
        assert!(matches!(lines.next(&mut rest), Some((1, Piece::TooLong))));
        assert!(lines.next(&mut rest).is_none());
        assert_eq!(lines.pending, b"{}");
    }
}
