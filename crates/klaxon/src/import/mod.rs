//! `klaxon config import-alertmanager alertmanager.yml > klaxon.toml`: reads an Alertmanager
//! configuration and prints klaxon's (TOML) on standard output, and on standard error every
//! construct it did not convert, or converted only approximately, with its place
//! (`alertmanager.yml:12: receivers[1].opsgenie_configs: ...`). The conversion itself is pure
//! (`convert`, over the YAML tree of `yaml`, written by `toml_out`); this module reads the file
//! and chooses the exit code: 0 when a configuration was printed, 2 when the file is not YAML.

mod convert;
mod toml_out;
mod yaml;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `klaxon config import-alertmanager`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The Alertmanager configuration file (alertmanager.yml).
    file: PathBuf,
}

/// The most of a configuration file read: far beyond any real alertmanager.yml.
const MAX_BYTES: u64 = 16 << 20;

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {name}"))?
        .len();
    if size > MAX_BYTES {
        anyhow::bail!("{name}: {size} bytes, over the limit of {MAX_BYTES}");
    }
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
    let (toml, notes) = convert::convert(&text)
        .map_err(|e| anyhow::anyhow!("{name}:{}:{}: not YAML: {}", e.line, e.column, e.message))?;
    print!("{toml}");
    for n in &notes {
        eprintln!("{name}:{}: {}: {}", n.line, n.path, n.message);
    }
    if !notes.is_empty() {
        eprintln!(
            "{} construct{} of {name} not converted as written (above)",
            notes.len(),
            if notes.len() == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
