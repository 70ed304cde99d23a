//! A minimal protobuf wire writer, independent of the decoder, to build test bodies field by field.

#![allow(dead_code)]

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint field (int32, int64, bool).
pub fn int(field: u32, v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(field) << 3, &mut out);
    varint(v as u64, &mut out);
    out
}

/// A length-delimited field (string, bytes, embedded message, map entry).
pub fn bytes(field: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(field) << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

pub fn string(field: u32, s: &str) -> Vec<u8> {
    bytes(field, s.as_bytes())
}

/// An embedded message made of already encoded fields.
pub fn message(field: u32, parts: &[Vec<u8>]) -> Vec<u8> {
    bytes(field, &parts.concat())
}

/// One entry of a `map<string, string>` field.
pub fn map_entry(field: u32, key: &str, value: &str) -> Vec<u8> {
    message(field, &[string(1, key), string(2, value)])
}

/// A complete body: magic, then `runtime.Unknown{typeMeta, raw, contentEncoding, contentType}`.
pub fn body(api_version: &str, kind: &str, raw: &[Vec<u8>]) -> Vec<u8> {
    envelope(api_version, kind, &raw.concat(), "", "")
}

pub fn envelope(
    api_version: &str,
    kind: &str,
    raw: &[u8],
    encoding: &str,
    content_type: &str,
) -> Vec<u8> {
    let mut out = b"k8s\0".to_vec();
    out.extend(message(1, &[string(1, api_version), string(2, kind)]));
    out.extend(bytes(2, raw));
    out.extend(string(3, encoding));
    out.extend(string(4, content_type));
    out
}
