//! What the commands print: aligned tables, rule errors with their place in the file, and a
//! refusal of the server on stderr with a hint for 401 and 403. Knows no command.

use std::process::ExitCode;

use hyper::StatusCode;

use klaxon_engine::RuleError;

use crate::client::Reply;

/// A rule error or warning as one line: where it is written in the file first (`line 4,
/// column 7: `) when it is known and the error's own text does not already say it.
pub(crate) fn rule_problem(e: &RuleError) -> String {
    match (e.line, e.column) {
        (Some(line), Some(column)) if !e.field.is_empty() && e.field != "document" => {
            format!("line {line}, column {column}: {e}")
        }
        _ => e.to_string(),
    }
}

/// Left-aligned columns separated by two spaces, no trailing blanks.
pub(crate) fn table<const N: usize>(head: [&str; N], rows: &[[String; N]]) -> String {
    let mut width = head.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            s.push_str(cell);
            if i + 1 < N {
                let pad = width[i] - cell.chars().count() + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(head);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

/// Reports an error answer on stderr; exit code 1.
pub(crate) fn refused(what: &str, reply: &Reply) -> ExitCode {
    let err = reply.error();
    let hint = match reply.status {
        StatusCode::UNAUTHORIZED => " (check --token or KLAXON_TOKEN)",
        StatusCode::FORBIDDEN => " (the token's role does not allow this)",
        _ => "",
    };
    eprintln!("error: {what}: {err}{hint}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_by_characters() {
        let rows = [
            [
                "default".to_owned(),
                "METRO Rules".to_owned(),
                "*".to_owned(),
            ],
            ["bench".to_owned(), "ü".to_owned(), String::new()],
        ];
        let t = table(["GROUP", "NAME", "ACTIVE"], &rows);
        assert_eq!(
            t,
            "GROUP    NAME         ACTIVE\n\
             default  METRO Rules  *\n\
             bench    ü\n"
        );
    }
}
