//! A borrowed tree of a JSON text, for the create shortcut ([`super::created`]): the walk that writes a
//! create's managed fields reads the object as the API server is about to store it, so it parses that
//! text once into containers of slices instead of building a `serde_json::Value` (a `String` per key
//! and string, a hash map per object), which cost more than the walk itself. Leaves are only turned
//! into values where upstream's semantics need one (list keys, the comparison with the zero object).

use serde_json::Value;
use std::borrow::Cow;

/// A JSON value, borrowed from its text.
#[derive(Debug)]
pub(crate) struct Raw<'a> {
    node: Node<'a>,
    /// The value's own text.
    text: &'a [u8],
}

#[derive(Debug)]
enum Node<'a> {
    /// `null`, a boolean, a number or a string.
    Scalar(Scalar),
    Array(Vec<Raw<'a>>),
    /// Members in text order, keys unescaped.
    Object(Vec<(Cow<'a, str>, Raw<'a>)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Null,
    Other,
}

impl<'a> Raw<'a> {
    /// Parses a whole JSON text; `None` if it is not well-formed JSON (the caller takes the general
    /// path, which reports it).
    pub fn parse(text: &'a [u8]) -> Option<Raw<'a>> {
        let mut p = Parser { b: text, i: 0 };
        let v = p.value(0)?;
        p.ws();
        (p.i == text.len()).then_some(v)
    }

    /// The value as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(self.text).unwrap_or(Value::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self.node, Node::Object(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self.node, Node::Array(_))
    }

    /// `null`, `{}` or `[]`.
    pub fn is_empty_container(&self) -> bool {
        match &self.node {
            Node::Scalar(s) => *s == Scalar::Null,
            Node::Array(a) => a.is_empty(),
            Node::Object(m) => m.is_empty(),
        }
    }

    /// The members of an object (none for anything else).
    pub fn members(&self) -> &[(Cow<'a, str>, Raw<'a>)] {
        match &self.node {
            Node::Object(m) => m,
            _ => &[],
        }
    }

    /// The items of a list (none for anything else).
    pub fn items(&self) -> &[Raw<'a>] {
        match &self.node {
            Node::Array(a) => a,
            _ => &[],
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Raw<'a>> {
        self.members()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Equality as `serde_json::Value`'s `==` decides it for the values these texts decode to, given
    /// texts written by `serde_json` (one spelling per number and string): members in any order.
    pub fn same(&self, other: &Raw<'_>) -> bool {
        match (&self.node, &other.node) {
            (Node::Scalar(_), Node::Scalar(_)) => self.text == other.text,
            (Node::Array(a), Node::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Node::Object(a), Node::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| other.get(k).is_some_and(|w| v.same(w)))
            }
            _ => false,
        }
    }
}

/// Deeper nesting than this is left to the general path (no stack overflow on hostile input).
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Raw<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        let start = self.i;
        let node = match *self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        let key = self.key()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        members.push((key, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                Node::Object(members)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                Node::Array(items)
            }
            b'"' => {
                self.string()?;
                Node::Scalar(Scalar::Other)
            }
            _ => {
                let end = self.b[self.i..]
                    .iter()
                    .position(|&c| matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace())
                    .map_or(self.b.len(), |n| self.i + n);
                let word = &self.b[self.i..end];
                let scalar = match word {
                    b"null" => Scalar::Null,
                    b"true" | b"false" => Scalar::Other,
                    _ if is_number(word) => Scalar::Other,
                    _ => return None,
                };
                self.i = end;
                Node::Scalar(scalar)
            }
        };
        Some(Raw {
            node,
            text: &self.b[start..self.i],
        })
    }

    /// A string at the cursor; returns its text between the quotes (escapes as written).
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let end = crate::jsonscan::string_end(self.b, self.i)?;
        let contents = &self.b[self.i + 1..end - 1];
        self.i = end;
        Some(contents)
    }

    /// An object's key, unescaped.
    fn key(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        let inner = self.string()?;
        if inner.contains(&b'\\') {
            serde_json::from_slice::<String>(&self.b[start..self.i])
                .ok()
                .map(Cow::Owned)
        } else {
            std::str::from_utf8(inner).ok().map(Cow::Borrowed)
        }
    }
}

/// A JSON number's text (`-? int frac? exp?`).
fn is_number(w: &[u8]) -> bool {
    let mut i = usize::from(w.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while w.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return false;
    }
    if w.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(w.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(w.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == w.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_what_serde_writes_and_rejects_the_rest() {
        let v = json!({"a": [1, -2.5e3, "x\"y", null, true], "b\\c": {"d": {}}, "e": []});
        let text = serde_json::to_vec(&v).unwrap();
        let raw = Raw::parse(&text).unwrap();
        assert_eq!(raw.to_value(), v);
        let keys: Vec<&str> = raw.members().iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "b\\c", "e"]);
        assert_eq!(raw.get("a").unwrap().items().len(), 5);
        assert_eq!(raw.get("a").unwrap().items()[1].to_value(), json!(-2500.0));
        assert!(raw.get("e").unwrap().is_empty_container());
        assert!(raw.get("b\\c").unwrap().is_object());
        assert!(Raw::parse(b" [ 1 , {\"a\" : null} ] ").unwrap().is_array());
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"[1,]",
            b"{\"a\":1} x",
            b"nul",
            b"01x",
            b"1.",
            b"\"abc",
            b"{\"a\":-}",
        ] {
            assert!(Raw::parse(bad).is_none(), "{:?}", std::str::from_utf8(bad));
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(Raw::parse(deep.as_bytes()).is_none());
    }

    #[test]
    fn sameness_is_value_equality() {
        let pairs = [
            (
                json!({"a": 1, "b": [null, "x"]}),
                json!({"b": [null, "x"], "a": 1}),
                true,
            ),
            (json!({"a": 1}), json!({"a": 1, "b": 2}), false),
            (json!({"a": 1, "b": 2}), json!({"a": 1, "c": 2}), false),
            (json!([1, 2]), json!([2, 1]), false),
            (json!(1), json!(1.0), false),
            (json!(""), json!(null), false),
            (json!({}), json!([]), false),
            (json!("a"), json!("a"), true),
        ];
        for (a, b, same) in pairs {
            let (ta, tb) = (
                serde_json::to_vec(&a).unwrap(),
                serde_json::to_vec(&b).unwrap(),
            );
            let (ra, rb) = (Raw::parse(&ta).unwrap(), Raw::parse(&tb).unwrap());
            assert_eq!(ra.same(&rb), same, "{a} {b}");
            assert_eq!(ra.same(&rb), a == b, "{a} {b}");
        }
    }
}
