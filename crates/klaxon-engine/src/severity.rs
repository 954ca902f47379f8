//! Severity levels, shared by event rules, threshold rules and every alert they produce.
//! Owns only the names and their parsing; it knows nothing of rules or alerts.

/// Severity levels of the product, lowest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Parses a severity case-insensitively, accepting WARN/WARNING as medium and ERROR as high.
    pub fn parse(s: &str) -> Option<Severity> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("warn") || s.eq_ignore_ascii_case("warning") {
            return Some(Severity::Medium);
        }
        if s.eq_ignore_ascii_case("error") {
            return Some(Severity::High);
        }
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// The lower-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_aliases() {
        assert_eq!(Severity::parse("WARN"), Some(Severity::Medium));
        assert_eq!(Severity::parse("warning"), Some(Severity::Medium));
        assert_eq!(Severity::parse("Error"), Some(Severity::High));
        assert_eq!(Severity::parse("CRITICAL"), Some(Severity::Critical));
        assert_eq!(Severity::parse("fatal"), None);
    }
}
