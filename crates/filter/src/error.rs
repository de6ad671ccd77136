//! The compile error: a message plus the 1-based column it refers to.

/// A filter expression that cannot be compiled: syntax errors, semantic errors
/// (libpcap's wording where libpcap refuses the same thing), and expressions that
/// make no sense for the link type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct FilterError {
    /// What is wrong, without the position.
    pub message: String,
    /// 1-based column (in characters) of the token the error is about; one past
    /// the end for "unexpected end of expression".
    pub column: usize,
    /// What kind of failure this is, for callers that treat one differently.
    pub kind: FilterErrorKind,
}

/// The kinds of [`FilterError`] a caller may want to tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// A syntax or semantic error in the expression.
    Invalid,
    /// The expression is valid but can match nothing on this link type
    /// (libpcap's "expression rejects all packets"): a capture with several
    /// link types may skip it for those interfaces.
    RejectsAll,
}

impl FilterError {
    pub(crate) fn new(message: String, column: usize) -> Self {
        Self {
            message,
            column,
            kind: FilterErrorKind::Invalid,
        }
    }

    /// libpcap's "expression rejects all packets" for this link type.
    pub(crate) fn rejects_all() -> Self {
        Self {
            message: "expression rejects all packets".into(),
            column: 1,
            kind: FilterErrorKind::RejectsAll,
        }
    }

    /// Render the expression with a caret under the offending column:
    ///
    /// ```text
    /// tcp port and
    ///          ^ expected a port number after 'port'
    /// ```
    #[must_use]
    pub fn render(&self, expr: &str) -> String {
        let pad = self.column.saturating_sub(1).min(expr.chars().count());
        format!("{expr}\n{}^ {}", " ".repeat(pad), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_render() {
        let e = FilterError::new("expected a port number after 'port'".into(), 10);
        assert_eq!(
            e.to_string(),
            "expected a port number after 'port' at column 10"
        );
        assert_eq!(
            e.render("tcp port and"),
            "tcp port and\n         ^ expected a port number after 'port'"
        );
    }
}
