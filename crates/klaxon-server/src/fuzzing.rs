//! Thin entry points into the server's decoders of outside input, for the fuzz targets
//! (`fuzz/` at the repository root). Compiled only with the `fuzzing` feature; not API.
//! Each runs the code the handler runs, without HTTP, queues or the store.

use std::path::Path;

use klaxon_engine::lifecycle::Labelled;
use klaxon_engine::noise::Silence;

use crate::api::{alertmanager, signal_body, silences};
use crate::config::{self, Config, Flags};

/// What the ingest decoder made of one element or line: its position and the signal's JSON
/// length, or the rejection.
pub type Item = (usize, Result<usize, String>);

fn item(d: signal_body::Decoded) -> Item {
    match d {
        signal_body::Decoded::Signal { line, json_len, .. } => (line, Ok(json_len)),
        signal_body::Decoded::Rejected { line, error } => (line, Err(error)),
    }
}

/// `POST /v1/signals` with a JSON array body.
pub fn signals_array(body: &[u8], max_line: usize) -> Result<Vec<Item>, String> {
    Ok(signal_body::array(body, max_line)?.map(item).collect())
}

/// `POST /v1/signals` with an NDJSON body sent without its content type (held whole).
pub fn signals_lines(body: &[u8], max_line: usize) -> Result<Vec<Item>, String> {
    Ok(signal_body::lines(body, max_line)?.map(item).collect())
}

/// `POST /v1/signals` with an NDJSON body streamed in `chunks`; the number of the last line.
pub fn signals_stream<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    max_line: usize,
) -> (Vec<Item>, usize) {
    let mut lines = signal_body::Splitter::new(max_line);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = chunk;
        while let Some((line, piece)) = lines.next(&mut rest) {
            out.extend(signal_body::piece(line, &piece, max_line).map(item));
        }
    }
    if let Some((line, piece)) = lines.finish() {
        out.extend(signal_body::piece(line, &piece, max_line).map(item));
    }
    (out, lines.line_no())
}

/// `POST /v1/traces` (`kind` 0), `/v1/logs` (1), `/v1/metrics` (2) with a protobuf or
/// OTLP/JSON body, under the default configuration: how many signals the items map to and how
/// many are refused, or why the whole body is refused.
pub fn otlp(kind: u8, json: bool, body: &[u8]) -> Result<(usize, i64), String> {
    crate::api::otlp::map_body(kind, json, body, &Config::default())
}

/// `POST /api/v2/alerts`: the alerts the lifecycle would take and why each other one is
/// refused, or why the body is refused.
pub fn alertmanager_alerts(body: &[u8], now: i64) -> Result<(Vec<Labelled>, Vec<String>), String> {
    alertmanager::decode_labelled(body, now)
}

/// `POST /api/v2/silences`: the silence the lifecycle would take (its matchers compiled as
/// the lifecycle compiles them), or why not.
pub fn alertmanager_silence(body: &[u8], now: i64) -> Result<Silence, String> {
    let silence = silences::decode(body, "fuzz".to_owned(), now).map_err(|e| format!("{e:?}"))?;
    silence.validate()?;
    Ok(silence)
}

/// The TOML configuration file, loaded as `klaxon serve` loads it (no environment, no flags).
pub fn config(text: &str) -> Result<Config, String> {
    config::load_text(
        Some((Path::new("klaxon.toml"), text)),
        &[],
        &Flags::default(),
    )
    .map(|(c, _)| c)
}
