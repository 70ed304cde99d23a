//! Reading a few fields out of stored JSON without decoding the whole object.
//!
//! The watch cache looks at every committed object (its metadata and the handful of fields that field
//! selectors use) and must hand watchers the stored JSON with `metadata.resourceVersion` added. Decoding
//! each object into a `serde_json::Value` and encoding it again cost the API server about a tenth of
//! its CPU under write load; this module finds the top-level members of an object in place, picks the
//! string fields asked for with serde (skipping everything else without allocating) and splices the
//! resourceVersion into the metadata's bytes.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// The members of a JSON object: each key (still escaped, as in the input) with the byte range of its
/// value. `None` if `json` is not an object or is malformed (the caller then decodes it in full).
pub fn top_level_members(json: &[u8]) -> Option<Vec<(&[u8], Range<usize>)>> {
    let mut s = Scanner { b: json, i: 0 };
    s.ws();
    s.expect(b'{')?;
    let mut out = Vec::with_capacity(8);
    s.ws();
    if s.peek()? == b'}' {
        s.i += 1;
        return s.end().then_some(out);
    }
    loop {
        s.ws();
        let key = s.string()?;
        s.ws();
        s.expect(b':')?;
        s.ws();
        let start = s.i;
        s.value()?;
        out.push((key, start..s.i));
        s.ws();
        match s.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    s.end().then_some(out)
}

/// The byte range of the member `key` (an unescaped name) of an object's members.
pub fn member<'a>(members: &'a [(&[u8], Range<usize>)], key: &str) -> Option<&'a Range<usize>> {
    members
        .iter()
        .find(|(k, _)| *k == key.as_bytes())
        .map(|(_, r)| r)
}

/// `object` (a JSON object's bytes) with `"name":"value"` added as its first member; `value` must
/// not need escaping.
pub fn with_first_member(object: &[u8], name: &str, value: &str) -> Option<Vec<u8>> {
    let open = object.iter().position(|&c| c == b'{')?;
    let empty = object[open + 1..]
        .iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'}');
    let mut out = Vec::with_capacity(object.len() + name.len() + value.len() + 6);
    out.extend_from_slice(&object[..=open]);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&object[open + 1..]);
    Some(out)
}

/// A stored object's JSON (which has no resourceVersion) with `metadata.resourceVersion` = `rv` as
/// the metadata's first member: what watchers and readers get. `None` if `json` is not an object
/// with an object `metadata`.
pub fn with_resource_version(json: &[u8], rv: &str) -> Option<Vec<u8>> {
    let members = top_level_members(json)?;
    let meta = member(&members, "metadata")?.clone();
    with_resource_version_at(json, meta, rv)
}

/// [`with_resource_version`] for a caller that has found the metadata's range already.
pub fn with_resource_version_at(json: &[u8], meta: Range<usize>, rv: &str) -> Option<Vec<u8>> {
    let meta_json = with_first_member(&json[meta.clone()], "resourceVersion", rv)?;
    Some(replace_range(json, meta, &meta_json))
}

/// `object` (a JSON object's bytes) with `"name":value` added as its last member.
pub fn with_last_member(object: &[u8], name: &[u8], value: &[u8]) -> Vec<u8> {
    let close = object
        .iter()
        .rposition(|&c| c == b'}')
        .unwrap_or(object.len());
    let empty = object[..close]
        .iter()
        .rev()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'{');
    let mut out = Vec::with_capacity(object.len() + name.len() + value.len() + 4);
    out.extend_from_slice(&object[..close]);
    if !empty {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value);
    out.extend_from_slice(&object[close..]);
    out
}

/// The byte range of the value of the member `key` of the JSON object `json`, if it has one.
pub fn find_member(json: &[u8], key: &str) -> Option<Range<usize>> {
    member(&top_level_members(json)?, key).cloned()
}

/// `json` with the bytes in `range` replaced by `with`.
pub fn replace_range(json: &[u8], range: Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() - range.len() + with.len());
    out.extend_from_slice(&json[..range.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&json[range.end..]);
    out
}

/// Picks the string values of `keys` from the JSON object in `json` (a member that is not a string
/// gives `None`, as does a missing one). `None` overall if `json` is not an object.
pub fn pick_strings(json: &[u8], keys: &[&str]) -> Option<Vec<Option<String>>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let out = Picker { keys }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

struct Picker<'k> {
    keys: &'k [&'k str],
}

impl<'de> DeserializeSeed<'de> for Picker<'_> {
    type Value = Vec<Option<String>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Picker<'_> {
    type Value = Vec<Option<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = vec![None; self.keys.len()];
        while let Some(Key(k)) = map.next_key()? {
            match self.keys.iter().position(|w| *w == k) {
                Some(i) => out[i] = map.next_value::<MaybeString>()?.0,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value that is kept if it is a string and skipped otherwise.
struct MaybeString(Option<String>);

impl<'de> de::Deserialize<'de> for MaybeString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<MaybeString, E> {
                Ok(MaybeString(Some(s.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeString(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON scanner that only finds where values end (it checks structure, not escapes or numbers:
/// serde checks those when a picked value is decoded).
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    /// A string; returns its contents (escapes left as they are). Most of an object's bytes are in
    /// strings, so the closing quote is searched for with `memchr` rather than byte by byte.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.i;
        loop {
            let at = self.i + memchr::memchr2(b'"', b'\\', self.b.get(self.i..)?)?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some(&self.b[start..at]);
            }
            // A backslash escapes the byte after it.
            self.i = at + 2;
        }
    }

    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                // Nested containers: count depth, skipping strings.
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                // A number, true, false or null: up to the next delimiter.
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
                {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_members_and_their_values() {
        let doc = br#" {"a": 1, "b" : {"x":[1,{"y":"}"}],"z":"\"{"}, "c\"d":"e", "f":null} "#;
        let m = top_level_members(doc).unwrap();
        let keys: Vec<&[u8]> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [&b"a"[..], b"b", br#"c\"d"#, b"f"]);
        let text = |k: &str| std::str::from_utf8(&doc[member(&m, k).unwrap().clone()]).unwrap();
        assert_eq!(text("a"), "1");
        assert_eq!(text("b"), r#"{"x":[1,{"y":"}"}],"z":"\"{"}"#);
        assert_eq!(text("f"), "null");
        assert!(member(&m, "missing").is_none());
        assert_eq!(top_level_members(b"{}").unwrap().len(), 0);
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"{\"a\":1} x",
            b"{\"a\":}",
        ] {
            assert!(
                top_level_members(bad).is_none(),
                "{:?}",
                std::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn adds_a_first_member() {
        let out = with_first_member(br#"{"name":"a"}"#, "resourceVersion", "7").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!({"resourceVersion": "7", "name": "a"}));
        let out = with_first_member(b"{ }", "resourceVersion", "7").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!({"resourceVersion": "7"}));
    }

    #[test]
    fn picks_strings_only() {
        // `sched\u0075lerName` is `schedulerName` escaped; a nested `nodeName` is not picked.
        let doc = br#"{"nodeName":"n1","hostNetwork":true,"x":{"nodeName":"no"},"sched\u0075lerName":"s","p":[1]}"#;
        let got = pick_strings(
            doc,
            &["nodeName", "hostNetwork", "schedulerName", "p", "absent"],
        );
        assert_eq!(
            got,
            Some(vec![Some("n1".into()), None, Some("s".into()), None, None])
        );
        assert_eq!(pick_strings(b"[1]", &["a"]), None);
        assert_eq!(pick_strings(b"{\"a\":\"b\"} x", &["a"]), None);
    }

    #[test]
    fn finds_and_replaces_a_member() {
        let meta =
            br#"{"name":"p","managedFields":[{"manager":"m","fieldsV1":{"f:a":{}}}],"uid":"u"}"#;
        let r = find_member(meta, "managedFields").unwrap();
        assert_eq!(
            &meta[r.clone()],
            br#"[{"manager":"m","fieldsV1":{"f:a":{}}}]"#
        );
        let out = replace_range(meta, r, b"null");
        assert_eq!(out, br#"{"name":"p","managedFields":null,"uid":"u"}"#);
        assert!(find_member(br#"{"name":"p"}"#, "managedFields").is_none());
        assert!(find_member(br#"{"name":"#, "name").is_none());
    }
}
