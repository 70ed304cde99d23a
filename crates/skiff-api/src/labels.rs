//! Label selectors, as apimachinery's `labels.Parse` and `metav1.LabelSelectorAsSelector` define them.
//!
//! Every list and watch with `labelSelector=`, every Deployment/ReplicaSet `spec.selector` and every
//! Service selector goes through here, so the grammar, the canonical string form and the error messages
//! follow upstream (kube-apiserver v1.32) exactly: `kubectl get pods -l 'a in (x'` must fail with the same
//! text a real cluster prints.
//!
//! Grammar (`labels.Parse`): comma-separated requirements, each one of `key`, `!key`, `key=v`, `key==v`,
//! `key!=v`, `key in (v1,v2)`, `key notin (v1,v2)`, `key>n`, `key<n`. Keys are qualified names
//! (`[prefix/]name`), values are label values (possibly empty); both are validated with upstream's
//! messages. Requirements are sorted by key (stable), values of set requirements are de-duplicated and
//! sorted, as upstream does, so `Display` gives the canonical string.
//!
//! Written by hand: no crate implements the Kubernetes selector grammar with its error texts. Behaviour
//! follows upstream HEAD for one parser bug fixed after v1.32 (`x in (a,,)` parses, as `{"", a}`), and
//! v1.32's wording for the key error with more than one `/` ("a qualified name ...").
//!
//! Matching never allocates: the labels map is read in place and `Gt`/`Lt` operands are parsed once.

use serde_json::{Map, Value};
use std::fmt;

/// A selector operator (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>n`
    GreaterThan,
    /// `key<n`
    LessThan,
}

impl Operator {
    /// Upstream's operator string (`selection.Operator`): `=`, `==`, `!=`, `in`, `notin`, `exists`, `!`,
    /// `gt`, `lt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One requirement of a selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
    /// The operand of `Gt`/`Lt`, parsed once so that matching does not parse it again.
    bound: i64,
}

impl Requirement {
    /// A validated requirement (`labels.NewRequirement`): the key must be a qualified name, values must be
    /// label values, `in`/`notin` need at least one value, `=`/`==`/`!=` exactly one, `exists`/`!` none,
    /// `gt`/`lt` exactly one integer. Errors are upstream's aggregated field errors, e.g.
    /// `values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty`.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Self, String> {
        Self::build(key, op, values, false)
    }

    /// `values_present` distinguishes Go's `[]string{}` (rendered `[]`) from `nil` (rendered `null`) in
    /// the error text: the parser always passes a slice, `LabelSelectorAsSelector` passes `nil` when empty.
    fn build(
        key: &str,
        op: Operator,
        values: Vec<String>,
        values_present: bool,
    ) -> Result<Self, String> {
        let mut errs: Vec<String> = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(format!(
                "key: Invalid value: {}: {}",
                go_quote(key),
                key_errs.join("; ")
            ));
        }
        let rendered = || {
            if values.is_empty() && !values_present {
                "null".to_string()
            } else {
                serde_json::to_string(&values).unwrap_or_default()
            }
        };
        let mut bound = 0;
        match op {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'in', 'notin' operators, values set can't be empty",
                        rendered()
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: exact-match compatibility requires one single value",
                        rendered()
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {}: values set must be empty for exists and does not exist",
                        rendered()
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'Gt', 'Lt' operators, exactly one value is required",
                        rendered()
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    match parse_go_int(v) {
                        Some(n) => bound = n,
                        None => errs.push(format!(
                            "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                            go_quote(v)
                        )),
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let verrs = is_valid_label_value(v);
            if !verrs.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {}: {}",
                    go_quote(v),
                    verrs.join("; ")
                ));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                op,
                values,
                bound,
            })
        } else {
            Err(aggregate(errs))
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn operator(&self) -> Operator {
        self.op
    }
    /// The values in the order given (sorted and de-duplicated when parsed from a string).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: Option<&str>) -> bool {
        match v {
            Some(v) => self.values.iter().any(|x| x == v),
            None => false,
        }
    }

    /// Whether this requirement holds for `labels` (`Requirement.Matches`). A label whose JSON value is
    /// not a string counts as present with no matching value.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let found = labels.and_then(|m| m.get(self.key.as_str()));
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => match found {
                Some(v) => self.has_value(v.as_str()),
                None => false,
            },
            Operator::NotIn | Operator::NotEquals => match found {
                Some(v) => !self.has_value(v.as_str()),
                None => true,
            },
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(n) = found.and_then(Value::as_str).and_then(parse_go_int) else {
                    return false;
                };
                if self.values.len() != 1 {
                    return false;
                }
                if self.op == Operator::GreaterThan {
                    n > self.bound
                } else {
                    n < self.bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// The canonical form (`Requirement.String`): `!k`, `k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    /// `k notin (a,b)`, `k>n`, `k<n`; set values are printed sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (sep, paren) = match self.op {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(sep)?;
        if paren {
            f.write_str("(")?;
        }
        if self.values.windows(2).all(|w| w[0] <= w[1]) {
            write_joined(f, self.values.iter().map(String::as_str))?;
        } else {
            let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            write_joined(f, sorted.into_iter())?;
        }
        if paren {
            f.write_str(")")?;
        }
        Ok(())
    }
}

fn write_joined<'a>(f: &mut fmt::Formatter<'_>, it: impl Iterator<Item = &'a str>) -> fmt::Result {
    for (i, v) in it.enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        f.write_str(v)?;
    }
    Ok(())
}

/// A parsed label selector: the AND of its requirements.
///
/// Two special values exist as upstream: *everything* (no requirements; matches all label sets) and
/// *nothing* (`labels.Nothing()`, what `LabelSelectorAsSelector` returns for a null selector).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// The selector that matches every label set (`labels.Everything()`).
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches nothing (`labels.Nothing()`).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses a selector string (`labels.Parse`). The empty string selects everything.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parser = Parser {
            tokens: lex(s),
            pos: 0,
        };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` (`{matchLabels, matchExpressions}`) as
    /// `metav1.LabelSelectorAsSelector` does: `null` matches nothing, `{}` (no labels, no expressions)
    /// matches everything, operators are `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub fn from_metav1(sel: &Value) -> Result<Self, String> {
        let obj = match sel {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(o) => o,
            other => return Err(format!("label selector must be an object, got {other}")),
        };
        let mut requirements = Vec::new();
        if let Some(ml) = obj.get("matchLabels") {
            match ml {
                Value::Null => {}
                Value::Object(m) => {
                    for (k, v) in m {
                        let v = v
                            .as_str()
                            .ok_or_else(|| format!("matchLabels[{k}] must be a string"))?;
                        requirements.push(Requirement::build(
                            k,
                            Operator::Equals,
                            vec![v.to_string()],
                            true,
                        )?);
                    }
                }
                _ => return Err("matchLabels must be an object".to_string()),
            }
        }
        if let Some(me) = obj.get("matchExpressions") {
            match me {
                Value::Null => {}
                Value::Array(exprs) => {
                    for e in exprs {
                        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                        let op_str = e.get("operator").and_then(Value::as_str).unwrap_or("");
                        let op = match op_str {
                            "In" => Operator::In,
                            "NotIn" => Operator::NotIn,
                            "Exists" => Operator::Exists,
                            "DoesNotExist" => Operator::DoesNotExist,
                            other => {
                                return Err(format!(
                                    "{} is not a valid label selector operator",
                                    go_quote(other)
                                ))
                            }
                        };
                        let values: Vec<String> = match e.get("values") {
                            Some(Value::Array(vs)) => vs
                                .iter()
                                .map(|v| v.as_str().unwrap_or("").to_string())
                                .collect(),
                            _ => Vec::new(),
                        };
                        requirements.push(Requirement::build(key, op, values, false)?);
                    }
                }
                _ => return Err("matchExpressions must be an array".to_string()),
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// A selector requiring exactly these labels (`labels.SelectorFromValidatedSet`), as Services and
    /// ReplicationControllers use their `selector` map. Values that are not strings are skipped. An
    /// empty map selects everything.
    pub fn from_labels(set: &Map<String, Value>) -> Self {
        let mut requirements: Vec<Requirement> = set
            .iter()
            .filter_map(|(k, v)| {
                v.as_str().map(|v| Requirement {
                    key: k.clone(),
                    op: Operator::Equals,
                    values: vec![v.to_string()],
                    bound: 0,
                })
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// Adds requirements (`Selector.Add`); the result stays sorted by key.
    pub fn add(&mut self, reqs: impl IntoIterator<Item = Requirement>) {
        if self.nothing {
            return;
        }
        self.requirements.extend(reqs);
        self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
    }

    /// Whether `labels` (an object's `metadata.labels`, or `None` when it has none) satisfies every
    /// requirement. Accepts `&Map` or `Option<&Map>`. Never allocates.
    pub fn matches<'a>(&self, labels: impl Into<Option<&'a Map<String, Value>>>) -> bool {
        if self.nothing {
            return false;
        }
        let labels = labels.into();
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches against an object's `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(
            obj.get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object),
        )
    }

    /// True when the selector does not restrict anything (`Selector.Empty`); false for *nothing*.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the selector that matches nothing (`labels.MatchesNothing`).
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value `key` must have, if the selector requires one (`RequiresExactMatch`): an
    /// `=`, `==` or one-value `in` requirement on `key`.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        for r in &self.requirements {
            if r.key == key {
                return match r.op {
                    Operator::Equals | Operator::DoubleEquals | Operator::In
                        if r.values.len() == 1 =>
                    {
                        Some(r.values[0].as_str())
                    }
                    _ => None,
                };
            }
        }
        None
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical string: requirements joined by `,` (empty for everything and nothing).
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

impl std::str::FromStr for LabelSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Validation of keys and values (apimachinery `validation.IsQualifiedName` / `IsValidLabelValue`).

// The validators selectors use are apimachinery's, shared with object validation.
pub use crate::names::{is_dns1123_subdomain, is_qualified_name, is_valid_label_value};

/// Go's `%q` for the strings that appear in selectors (JSON quoting is identical for printable text).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// `utilerrors.NewAggregate(...).Error()`: one message alone, several de-duplicated inside `[a, b]`.
fn aggregate(mut errs: Vec<String>) -> String {
    if errs.len() == 1 {
        return errs.remove(0);
    }
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        return seen.remove(0);
    }
    format!("[{}]", seen.join(", "))
}

/// `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, no spaces.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------------------------------
// Lexer and parser (the structure of upstream's, so that the same input fails with the same message).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits the input into tokens; a NUL byte ends the input as upstream's lexer does.
fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let b = &b[..end];
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        let start = i;
        if is_special(b[i]) {
            // Longest run of special characters that is still a token.
            let mut best: Option<(Tok, usize)> = None;
            let mut j = i;
            while j < b.len() && is_special(b[j]) {
                j += 1;
                match keyword(&s[start..j]) {
                    Some(t) => best = Some((t, j)),
                    None if best.is_some() => break,
                    None => {}
                }
            }
            match best {
                Some((t, j)) => {
                    out.push((t, s[start..j].to_string()));
                    i = j;
                }
                None => {
                    // Unreachable with the current token set (every special character is a token).
                    out.push((Tok::Identifier, s[start..j].to_string()));
                    i = j;
                }
            }
        } else {
            while i < b.len() && !is_special(b[i]) && !is_space(b[i]) {
                i += 1;
            }
            let lit = &s[start..i];
            out.push((keyword(lit).unwrap_or(Tok::Identifier), lit.to_string()));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn adjust(tok: Tok, ctx: Ctx) -> Tok {
        match (ctx, tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Identifier,
            _ => tok,
        }
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, &str) {
        let (t, l) = &self.tokens[self.pos];
        (Self::adjust(*t, ctx), l.as_str())
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let (t, l) = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        (Self::adjust(t, ctx), l)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return Requirement::build(&key, op, Vec::new(), true);
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::build(&key, op, values, true)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = is_qualified_name(&lit);
        if !errs.is_empty() {
            return Err(format!(
                "<nil>: Invalid value: {}: {}",
                go_quote(&lit),
                errs.join("; ")
            ));
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if (t == Tok::End || t == Tok::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `(a,b,c)`: returns the de-duplicated, sorted values (upstream uses a string set).
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        let lit = lit.to_string();
        match tok {
            Tok::Identifier | Tok::Comma => {
                let set = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: &str| {
            if let Err(i) = set.binary_search_by(|x| x.as_str().cmp(v)) {
                set.insert(i, v.to_string());
            }
        };
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    insert(&mut set, &lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        insert(&mut set, "");
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        insert(&mut set, "");
                        return Ok(set);
                    }
                    if t2 == Tok::Comma {
                        insert(&mut set, "");
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parse_canonical_strings() {
        let cases = [
            ("", ""),
            ("x=a", "x=a"),
            ("x==a", "x==a"),
            ("x!=a", "x!=a"),
            ("x", "x"),
            ("!x", "!x"),
            ("  x  ", "x"),
            ("x>1", "x>1"),
            ("x<1", "x<1"),
            ("x in (b,a,a)", "x in (a,b)"),
            ("x notin (b, a)", "x notin (a,b)"),
            ("x in ()", "x in ()"),
            ("x in (,)", "x in ()"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in (a,,)", "x in (,a)"),
            ("x=", "x="),
            ("x=,y", "x=,y"),
            ("z=1,a=2,m", "a=2,m,z=1"),
            ("x=a,x!=b", "x=a,x!=b"),
            ("in in (in)", "in in (in)"),
            ("a.b/c-d=e_f.g", "a.b/c-d=e_f.g"),
            ("x=a\t,\ny", "x=a,y"),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), *want, "input {input:?}");
        }
    }

    #[test]
    fn parse_errors_are_upstream_text() {
        let cases = [
            ("x=a b", "found 'b', expected: ',' or 'end of string'"),
            ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
            ("x in a", "unable to parse requirement: found 'a' expected: '('"),
            ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
            ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
            ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
            ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
            ("x=(", "unable to parse requirement: found '(', expected: identifier"),
            ("x,", "found '', expected: identifier after ','"),
            ("x,,y", "found ',', expected: identifier after ','"),
            (",x", "found ',', expected: !, identifier, or 'end of string'"),
            ("=a", "found '=', expected: !, identifier, or 'end of string'"),
            ("!", "unable to parse requirement: found '', expected: identifier"),
            ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
            ("x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
            ("x=a=b", "found '=', expected: ',' or 'end of string'"),
            (
                "-x=a",
                "unable to parse requirement: <nil>: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                "x=-a",
                "unable to parse requirement: values[0][x]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
            (
                "Ex.com/a=b",
                "unable to parse requirement: <nil>: Invalid value: \"Ex.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            ("/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"),
            (
                "x<-1",
                "unable to parse requirement: values[0][x]: Invalid value: \"-1\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
        ];
        for (input, want) in cases {
            let err = LabelSelector::parse(input).expect_err(input);
            assert_eq!(err, want, "input {input:?}");
        }
    }

    #[test]
    fn matching_table() {
        let l = labels(json!({"app": "web", "tier": "front", "n": "5", "empty": ""}));
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("missing in (a)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (a)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("app>1", false),
            ("missing<1", false),
            ("empty=", true),
            ("empty", true),
            ("missing=", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
        ];
        for (sel, want) in cases {
            let s = LabelSelector::parse(sel).unwrap();
            assert_eq!(s.matches(&l), want, "selector {sel:?}");
        }
        // A missing labels map behaves as an empty one.
        assert!(LabelSelector::parse("!a").unwrap().matches(None));
        assert!(!LabelSelector::parse("a").unwrap().matches(None));
        assert!(LabelSelector::parse("").unwrap().matches(None));
        let obj = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(LabelSelector::parse("app=web")
            .unwrap()
            .matches_object(&obj));
        assert!(!LabelSelector::parse("app=db").unwrap().matches_object(&obj));
    }

    #[test]
    fn from_metav1_table() {
        let ok = [
            (json!({}), "", true),
            (
                json!({"matchLabels": {"b": "2", "a": "1"}}),
                "a=1,b=2",
                false,
            ),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["b", "a"]},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    {"key": "x", "operator": "Exists"},
                    {"key": "y", "operator": "DoesNotExist"}
                ]}),
                "app=web,env notin (prod),tier in (a,b),x,!y",
                false,
            ),
        ];
        for (v, want, empty) in ok {
            let s = LabelSelector::from_metav1(&v).unwrap();
            assert_eq!(s.to_string(), want);
            assert_eq!(s.is_empty(), empty);
        }
        let s = LabelSelector::from_metav1(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}),
        )
        .unwrap();
        assert!(s.matches(&labels(json!({"tier": "b"}))));
        assert!(!s.matches(&labels(json!({"tier": "c"}))));

        let nothing = LabelSelector::from_metav1(&Value::Null).unwrap();
        assert!(nothing.matches_nothing());
        assert!(!nothing.is_empty());
        assert!(!nothing.matches(&labels(json!({}))));
        assert_eq!(nothing.to_string(), "");
        let everything =
            LabelSelector::from_metav1(&json!({"matchLabels": {}, "matchExpressions": []}))
                .unwrap();
        assert!(everything.is_empty());
        assert!(everything.matches(None));

        let errs = [
            (json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}), "\"Foo\" is not a valid label selector operator"),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist",
            ),
            (
                json!({"matchLabels": {"a b": "c"}}),
                "key: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                json!({"matchLabels": {"-a": "-b"}}),
                "[key: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), values[0][-a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]",
            ),
        ];
        for (v, want) in errs {
            assert_eq!(LabelSelector::from_metav1(&v).unwrap_err(), want, "{v}");
        }
    }

    #[test]
    fn requirement_new_and_exact_match() {
        assert!(Requirement::new("a", Operator::Equals, vec![]).is_err());
        assert_eq!(
            Requirement::new("a", Operator::GreaterThan, vec!["1".into(), "2".into()]).unwrap_err(),
            "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is required"
        );
        let s = LabelSelector::parse("a in (x),b=y,c in (p,q)").unwrap();
        assert_eq!(s.requires_exact_match("a"), Some("x"));
        assert_eq!(s.requires_exact_match("b"), Some("y"));
        assert_eq!(s.requires_exact_match("c"), None);
        assert_eq!(s.requires_exact_match("d"), None);
        let mut s = LabelSelector::from_labels(&labels(json!({"z": "1", "a": "2"})));
        assert_eq!(s.to_string(), "a=2,z=1");
        s.add([Requirement::new("m", Operator::Exists, vec![]).unwrap()]);
        assert_eq!(s.to_string(), "a=2,m,z=1");
        let r: LabelSelector = "a".parse().unwrap();
        assert_eq!(r.requirements()[0].operator().as_str(), "exists");
    }
}
