//! Conversion of a decoded message into the JSON that Go's `encoding/json` writes for the same Go object.
//!
//! Rules, in the order they apply to a field that is present on the wire:
//! - zero scalars (`""`, `0`, `false`, empty bytes) are written only where Go writes them
//!   ([`schema::keeps_zero`]); message fields are always written (a non-pointer Go struct is always on the wire
//!   and Go's `omitempty` never omits structs; a nil pointer is never on the wire);
//! - repeated and map fields are written when non-empty; map keys are sorted, as Go sorts them;
//! - `bytes` are base64 (standard alphabet, padded), int64 are JSON numbers;
//! - special types: `Time` → RFC 3339 in UTC with seconds (`null` when empty, like the zero Go time),
//!   `MicroTime` → the same with 6 fractional digits, `Duration` → Go's `time.Duration` string (`1h2m3s`),
//!   `Quantity` → its string (`"0"` when empty), `IntOrString` → number or string, `RawExtension` → the
//!   embedded JSON (or a nested protobuf object), `FieldsV1` and apiextensions `JSON` → embedded JSON,
//!   `Verbs`/`ExtraValue` → array of strings, `JSONSchemaPropsOr{Array,Bool,StringArray}` → their union form.

use std::borrow::Cow;

use base64::Engine as _;
use chrono::{DateTime, Datelike};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

use crate::{schema, DecodeError};

/// A conversion error and the JSON path to the field, built up while the error travels outwards.
struct Error {
    path: Vec<String>,
    kind: ErrorKind,
}

enum ErrorKind {
    Invalid(String),
    Nested(DecodeError),
}

type Result<T> = std::result::Result<T, Error>;

fn invalid(reason: impl Into<String>) -> Error {
    Error {
        path: Vec::new(),
        kind: ErrorKind::Invalid(reason.into()),
    }
}

impl Error {
    fn at(mut self, segment: impl Into<String>) -> Self {
        self.path.push(segment.into());
        self
    }

    fn into_decode_error(self) -> DecodeError {
        match self.kind {
            ErrorKind::Nested(e) => e,
            ErrorKind::Invalid(reason) => {
                let mut path = String::new();
                for segment in self.path.iter().rev() {
                    if !path.is_empty() && !segment.starts_with('[') {
                        path.push('.');
                    }
                    path.push_str(segment);
                }
                DecodeError::InvalidValue { path, reason }
            }
        }
    }
}

/// The JSON fields of a top-level object, in Go struct order. `depth` counts protobuf objects embedded in
/// `RawExtension`s above this one.
pub fn message_fields(
    message: &DynamicMessage,
    depth: usize,
) -> std::result::Result<Map<String, Json>, DecodeError> {
    object(message, depth).map_err(Error::into_decode_error)
}

/// A message in its JSON form: special types by their own rules, all others as an object.
fn message_json(message: &DynamicMessage, depth: usize) -> Result<Json> {
    let desc = message.descriptor();
    let package = desc.package_name();
    match (package, desc.name()) {
        (schema::META_V1, "Time") => time(message, false),
        (schema::META_V1, "MicroTime") => time(message, true),
        (schema::META_V1, "Duration") => Ok(Json::String(go_duration(int(message, "duration")))),
        (schema::META_V1, "FieldsV1") => embedded_json(bytes(message, "Raw").as_deref()),
        (schema::META_V1, "Verbs") => Ok(strings(message, "items")),
        (_, "ExtraValue") => Ok(strings(message, "items")),
        ("apimachinery.pkg.api.resource", "Quantity" | "QuantityValue") => {
            let s = string(message, "string");
            Ok(Json::String(if s.is_empty() {
                "0".into()
            } else {
                s.into_owned()
            }))
        }
        ("apimachinery.pkg.util.intstr", "IntOrString") => match int(message, "type") {
            0 => Ok(Json::from(int(message, "intVal"))),
            1 => Ok(Json::String(string(message, "strVal").into_owned())),
            other => Err(invalid(format!("IntOrString has unknown type {other}"))),
        },
        ("apimachinery.pkg.runtime", "RawExtension") => match bytes(message, "raw") {
            Some(raw) if raw.starts_with(crate::MAGIC) => crate::decode_at_depth(&raw, depth + 1)
                .map_err(|e| Error {
                    path: Vec::new(),
                    kind: ErrorKind::Nested(e),
                }),
            raw => embedded_json(raw.as_deref()),
        },
        (p, name) if p.starts_with("apiextensions_apiserver.") => match name {
            "JSON" => embedded_json(bytes(message, "raw").as_deref()),
            "JSONSchemaPropsOrArray" => match list_field(message, "jSONSchemas") {
                Some(items) => list(message, "jSONSchemas", items, depth),
                None => optional_message(message, "schema", depth),
            },
            "JSONSchemaPropsOrBool" => match field_message(message, "schema") {
                Some(_) => optional_message(message, "schema", depth),
                None => Ok(Json::Bool(matches!(
                    field_value(message, "allows").as_deref(),
                    Some(Value::Bool(true))
                ))),
            },
            "JSONSchemaPropsOrStringArray" => match list_field(message, "property") {
                Some(_) => Ok(strings(message, "property")),
                None => optional_message(message, "schema", depth),
            },
            _ => object(message, depth).map(Json::Object),
        },
        _ => object(message, depth).map(Json::Object),
    }
}

/// A message as a JSON object, field by field in declaration (Go struct) order.
fn object(message: &DynamicMessage, depth: usize) -> Result<Map<String, Json>> {
    let desc = message.descriptor();
    let mut out = Map::new();
    for field in desc.fields() {
        if !message.has_field(&field) {
            continue;
        }
        let value = message.get_field(&field);
        let name = schema::json_name(&field);
        let inline = schema::is_inline(&field);
        // An inlined struct adds no segment to the JSON path.
        let at = |e: Error| if inline { e } else { e.at(name) };
        let json = if field.is_map() {
            map(&field, &value, depth).map_err(at)?
        } else if let Value::List(items) = &*value {
            list_items(&field, items, depth).map_err(at)?
        } else {
            if is_zero_scalar(&value) && !schema::keeps_zero(&field) {
                continue;
            }
            single(&field, &value, depth).map_err(at)?
        };
        if inline {
            match json {
                Json::Object(inner) => out.extend(inner),
                _ => return Err(invalid("inlined field is not an object").at(name)),
            }
        } else {
            out.insert(name.to_string(), json);
        }
    }
    Ok(out)
}

fn is_zero_scalar(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::I32(n) | Value::EnumNumber(n) => *n == 0,
        Value::I64(n) => *n == 0,
        Value::U32(n) => *n == 0,
        Value::U64(n) => *n == 0,
        Value::F32(n) => *n == 0.0,
        Value::F64(n) => *n == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Message(_) | Value::List(_) | Value::Map(_) => false,
    }
}

/// One value of a field (a list element, a map value, or a singular field).
fn single(field: &FieldDescriptor, value: &Value, depth: usize) -> Result<Json> {
    Ok(match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) | Value::EnumNumber(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(n) => float(f64::from(*n))?,
        Value::F64(n) => float(*n)?,
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Message(m) => message_json(m, depth)?,
        Value::List(items) => list_items(field, items, depth)?,
        Value::Map(_) => map(field, value, depth)?,
    })
}

fn float(n: f64) -> Result<Json> {
    Number::from_f64(n)
        .map(Json::Number)
        .ok_or_else(|| invalid(format!("{n} has no JSON form")))
}

fn list_items(field: &FieldDescriptor, items: &[Value], depth: usize) -> Result<Json> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| single(field, item, depth).map_err(|e| e.at(format!("[{i}]"))))
        .collect::<Result<Vec<_>>>()
        .map(Json::Array)
}

fn map(field: &FieldDescriptor, value: &Value, depth: usize) -> Result<Json> {
    let Value::Map(entries) = value else {
        return Err(invalid("map field without map value"));
    };
    let value_field = match field.kind() {
        Kind::Message(entry) => entry.map_entry_value_field(),
        _ => return Err(invalid("map field without entry type")),
    };
    let mut keyed: Vec<(String, &Value)> = entries.iter().map(|(k, v)| (map_key(k), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Map::with_capacity(keyed.len());
    for (key, value) in keyed {
        let json = single(&value_field, value, depth).map_err(|e| e.at(format!("[{key:?}]")))?;
        out.insert(key, json);
    }
    Ok(Json::Object(out))
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::String(s) => s.clone(),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
    }
}

// Field accessors for the special types; a missing field reads as its zero value.

fn field_value<'a>(message: &'a DynamicMessage, name: &str) -> Option<Cow<'a, Value>> {
    let field = message.descriptor().get_field_by_name(name)?;
    message.has_field(&field).then(|| message.get_field(&field))
}

fn field_message<'a>(message: &'a DynamicMessage, name: &str) -> Option<Cow<'a, Value>> {
    field_value(message, name).filter(|v| matches!(**v, Value::Message(_)))
}

fn list_field<'a>(message: &'a DynamicMessage, name: &str) -> Option<Cow<'a, Value>> {
    field_value(message, name).filter(|v| matches!(&**v, Value::List(items) if !items.is_empty()))
}

fn string<'a>(message: &'a DynamicMessage, name: &str) -> Cow<'a, str> {
    match field_value(message, name) {
        Some(Cow::Borrowed(Value::String(s))) => Cow::Borrowed(s),
        Some(Cow::Owned(Value::String(s))) => Cow::Owned(s),
        _ => Cow::Borrowed(""),
    }
}

fn int(message: &DynamicMessage, name: &str) -> i64 {
    match field_value(message, name).as_deref() {
        Some(Value::I32(n)) => i64::from(*n),
        Some(Value::I64(n)) => *n,
        _ => 0,
    }
}

fn bytes<'a>(message: &'a DynamicMessage, name: &str) -> Option<Cow<'a, [u8]>> {
    match field_value(message, name)? {
        Cow::Borrowed(Value::Bytes(b)) => Some(Cow::Borrowed(b.as_ref())),
        Cow::Owned(Value::Bytes(b)) => Some(Cow::Owned(b.to_vec())),
        _ => None,
    }
}

fn strings(message: &DynamicMessage, name: &str) -> Json {
    let items = match field_value(message, name).as_deref() {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_str())
            .map(|s| Json::String(s.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    Json::Array(items)
}

fn list(message: &DynamicMessage, name: &str, value: Cow<'_, Value>, depth: usize) -> Result<Json> {
    let field = field_descriptor(&message.descriptor(), name)?;
    match &*value {
        Value::List(items) => list_items(&field, items, depth),
        _ => Err(invalid(format!("{name} is not a list"))),
    }
}

fn optional_message(message: &DynamicMessage, name: &str, depth: usize) -> Result<Json> {
    match field_message(message, name).as_deref() {
        Some(Value::Message(m)) => message_json(m, depth).map_err(|e| e.at(name)),
        _ => Ok(Json::Null),
    }
}

fn field_descriptor(desc: &MessageDescriptor, name: &str) -> Result<FieldDescriptor> {
    desc.get_field_by_name(name)
        .ok_or_else(|| invalid(format!("schema has no field {name}")))
}

/// Raw bytes that hold JSON (`RawExtension`, `FieldsV1`, apiextensions `JSON`); absent or empty means `null`,
/// as in Go.
fn embedded_json(raw: Option<&[u8]>) -> Result<Json> {
    match raw {
        None => Ok(Json::Null),
        Some([]) => Ok(Json::Null),
        Some(raw) => serde_json::from_slice(raw)
            .map_err(|e| invalid(format!("embedded object is not JSON: {e}"))),
    }
}

/// `metav1.Time` (seconds) or `metav1.MicroTime` (microseconds), as Go marshals them: always UTC.
fn time(message: &DynamicMessage, micro: bool) -> Result<Json> {
    // An empty message is the zero time.Time, which Go writes as null.
    if message
        .descriptor()
        .fields()
        .all(|f| !message.has_field(&f))
    {
        return Ok(Json::Null);
    }
    let seconds = int(message, "seconds");
    let nanos = int(message, "nanos");
    // Go normalises nanoseconds outside [0, 1e9) into the seconds, as time.Unix does.
    let seconds = seconds.checked_add(nanos.div_euclid(1_000_000_000));
    let nanos = nanos.rem_euclid(1_000_000_000) as u32;
    let t = seconds
        .and_then(|s| DateTime::from_timestamp(s, nanos))
        .ok_or_else(|| invalid("time out of range"))?;
    if !(0..=9999).contains(&t.year()) {
        return Err(invalid(format!(
            "year {} outside of range [0,9999]",
            t.year()
        )));
    }
    let format = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(Json::String(t.format(format).to_string()))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let u = nanos.unsigned_abs();
    // `whole.frac` with trailing zeros removed, `digits` being the width of the fraction.
    let fraction = |whole: u64, frac: u64, digits: usize| {
        let frac = format!("{frac:0digits$}");
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{frac}")
        }
    };
    if u < 1_000 {
        out.push_str(&format!("{u}ns"));
    } else if u < 1_000_000 {
        out.push_str(&fraction(u / 1_000, u % 1_000, 3));
        out.push_str("µs");
    } else if u < 1_000_000_000 {
        out.push_str(&fraction(u / 1_000_000, u % 1_000_000, 6));
        out.push_str("ms");
    } else {
        let secs = u / 1_000_000_000;
        let (hours, minutes) = (secs / 3600, secs / 60 % 60);
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if hours > 0 || minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&fraction(secs % 60, u % 1_000_000_000, 9));
        out.push('s');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_like_go() {
        for (nanos, want) in [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (1_000_000, "1ms"),
            (1_500_000, "1.5ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_001, "1h2m3.000000001s"),
            (-90_000_000_000, "-1m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(go_duration(nanos), want, "{nanos}");
        }
    }
}
