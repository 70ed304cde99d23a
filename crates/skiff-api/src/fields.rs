//! Field selectors, as apimachinery's `fields.ParseSelector` defines them.
//!
//! `fieldSelector=` on lists and watches is how the kubelet finds its pods (`spec.nodeName=<node>`), how
//! `kubectl describe` finds events (`involvedObject.name=web,involvedObject.namespace=default,...`) and how
//! clients list by name (`metadata.name=x`). The syntax is comma-separated `key=value`, `key==value` and
//! `key!=value` terms; in values `\,`, `\=` and `\\` escape the three special characters. An empty value is
//! allowed and matches a missing field. Terms are sorted (upstream sorts the raw terms) and `Display` gives
//! the canonical `key=value` form with values escaped again.
//!
//! Which fields a resource supports, and how an unsupported one is rejected, is the registry's business;
//! this module only parses and evaluates. [`object_field`] resolves the usual dotted paths in a JSON
//! object for that evaluation.
//!
//! Written by hand: the grammar is tiny and its error texts are upstream's.

use serde_json::Value;
use std::fmt;

/// `=`/`==` (both become `Equals`, as upstream) or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term, value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

impl FieldRequirement {
    /// Whether the term holds when the field has value `actual` (`None`: the field is missing, which
    /// compares as the empty string).
    pub fn matches(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or("");
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{}{}", self.field, op, escape_value(&self.value))
    }
}

/// A parsed field selector: the AND of its terms. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Parses a selector string (`fields.ParseSelector`).
    ///
    /// Errors are upstream's: `invalid selector: 'a'; can't understand 'a'`,
    /// `invalid field selector: invalid escape sequence: \x`, and
    /// `invalid field selector: unescaped character in value: 61` (Go prints the rune as a number).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut requirements = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let value = unescape_value(rhs)?;
            // Upstream's identity Transform drops terms whose field and value are both empty (`=`).
            if lhs.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement {
                field: lhs.to_string(),
                operator: op,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// A selector with the single term `field=value` (`fields.OneTermEqualSelector`).
    pub fn one_term_equal(field: &str, value: &str) -> Self {
        FieldSelector {
            requirements: vec![FieldRequirement {
                field: field.to_string(),
                operator: FieldOperator::Equals,
                value: value.to_string(),
            }],
        }
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True when the selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether every term holds; `get` returns a field's value, `None` for a missing field (compared as
    /// the empty string).
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(get(&r.field)))
    }

    /// Matches the fields of a JSON object, resolved with [`object_field`].
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(|f| object_field(obj, f))
    }

    /// The value `field` must equal, if a `field=value` term requires one (`RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

/// Resolves a dotted path such as `metadata.name`, `spec.nodeName`, `status.phase` or
/// `involvedObject.uid` in a JSON object; `None` unless every step is an object and the leaf a string.
pub fn object_field<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    object_field_value(obj, field)?.as_str()
}

/// The value at a dotted path in a JSON object, whatever its type; `None` unless every step is an
/// object holding the next one.
pub fn object_field_value<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in field.split('.') {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

/// Escapes `\`, `,` and `=` in a value (`fields.EscapeValue`).
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_value`] (`fields.UnescapeValue`).
pub fn unescape_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    ))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ))
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// Splits on unescaped commas (`fields.splitTerms`).
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at its first operator, trying `!=`, `==`, `=` at each position (`fields.splitTerm`).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        if let Some(r) = rest.strip_prefix("!=") {
            return Some((&term[..i], FieldOperator::NotEquals, r));
        }
        if let Some(r) = rest.strip_prefix("==") {
            return Some((&term[..i], FieldOperator::Equals, r));
        }
        if let Some(r) = rest.strip_prefix('=') {
            return Some((&term[..i], FieldOperator::Equals, r));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_and_display() {
        let cases = [
            ("", ""),
            ("a=b", "a=b"),
            ("a==b", "a=b"),
            ("a!=b", "a!=b"),
            ("b=1,a=2", "a=2,b=1"),
            ("involvedObject.namespace=", "involvedObject.namespace="),
            ("a=b\\,c", "a=b\\,c"),
            ("a=b\\=c\\\\", "a=b\\=c\\\\"),
            ("a=b,,", "a=b"),
            ("=", ""),
            (
                "spec.nodeName=node-1,status.phase!=Succeeded",
                "spec.nodeName=node-1,status.phase!=Succeeded",
            ),
        ];
        for (input, want) in cases {
            let s = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(s.to_string(), want, "input {input:?}");
        }
        let s = FieldSelector::parse("a=b\\,c").unwrap();
        assert_eq!(s.requirements()[0].value, "b,c");
        assert_eq!(
            FieldSelector::parse("a==x").unwrap().requirements()[0].operator,
            FieldOperator::Equals
        );
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("x=1,b", "invalid selector: 'x=1,b'; can't understand 'b'"),
            (
                "a=b\\c",
                "invalid field selector: invalid escape sequence: \\c",
            ),
            (
                "a=b\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                FieldSelector::parse(input).unwrap_err(),
                want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn matching() {
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "replicas": 3},
            "status": {"phase": "Running"}
        });
        let cases = [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name!=web", false),
            ("spec.nodeName=n1,status.phase=Running", true),
            ("spec.nodeName=n2", false),
            ("spec.nodeName!=", true),
            ("spec.schedulerName=", true),
            ("spec.schedulerName!=", false),
            ("spec.replicas=3", false),
            ("status.phase!=Succeeded,status.phase!=Failed", true),
        ];
        for (sel, want) in cases {
            assert_eq!(
                FieldSelector::parse(sel).unwrap().matches_object(&pod),
                want,
                "selector {sel:?}"
            );
        }
        let s = FieldSelector::parse("spec.nodeName=n1").unwrap();
        assert!(s.matches(|f| (f == "spec.nodeName").then_some("n1")));
        assert!(!s.matches(|_| None));
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some("n1"));
        assert_eq!(s.requires_exact_match("metadata.name"), None);
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert_eq!(
            FieldSelector::one_term_equal("metadata.name", "a,b").to_string(),
            "metadata.name=a\\,b"
        );
    }

    #[test]
    fn object_field_paths() {
        let ev =
            json!({"involvedObject": {"uid": "u1", "name": "web"}, "count": 2, "reason": null});
        assert_eq!(object_field(&ev, "involvedObject.uid"), Some("u1"));
        assert_eq!(object_field(&ev, "involvedObject.kind"), None);
        assert_eq!(object_field(&ev, "count"), None);
        assert_eq!(object_field(&ev, "reason"), None);
        assert_eq!(object_field(&ev, "involvedObject.uid.x"), None);
        assert_eq!(unescape_value("plain").unwrap(), "plain");
        assert_eq!(escape_value("a\\b,c=d"), "a\\\\b\\,c\\=d");
    }
}
