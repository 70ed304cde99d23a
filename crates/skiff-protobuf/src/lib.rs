//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the JSON
//! object model, so that the API server handles them exactly like the JSON body for the same object.
//!
//! kubectl 1.32+ sends protobuf for every typed-client command (`kubectl create namespace|configmap|secret|
//! deployment|service|serviceaccount|job|quota|priorityclass|…`, `kubectl auth can-i`) and has no JSON
//! fallback, so the server has to read it; replies may stay JSON. A body is the 4-byte magic `k8s\0`
//! followed by a `runtime.Unknown` envelope whose `typeMeta` names the kind and whose `raw` bytes hold the
//! object's message (upstream `apimachinery/pkg/runtime/serializer/protobuf`).
//!
//! # Why a descriptor-driven decoder
//!
//! `prost-reflect` decodes `raw` against a `FileDescriptorSet` of every upstream `generated.proto` of
//! Kubernetes v1.32 (`descriptors/k8s-v1.32.binpb`, compiled by `descriptors/generate.sh` from the copies
//! that the `k8s-rs-pb` crate publishes), and the `json` module turns the dynamic message into the JSON that
//! Go's `encoding/json` writes for the same Go object. Every built-in kind of every API group works without
//! per-type code. The alternatives cost more: `k8s-pb` (prost structs) has neither JSON names nor serde, so
//! each type would need a hand-written conversion; `k8s-rs-pb` compiles ~330k lines per Kubernetes version.
//!
//! What the schema does not say is written down here instead:
//! - special types with their own JSON form (`Time`, `MicroTime`, `Duration`, `Quantity`, `IntOrString`,
//!   `RawExtension`, `FieldsV1`, `Verbs`/`ExtraValue`, apiextensions `JSON` and `JSONSchemaProps*`);
//! - embedded Go structs whose fields JSON inlines (`Volume.volumeSource`, `Probe.handler`, …) and the few
//!   fields whose JSON name is not the proto name (module `schema`);
//! - which zero scalars Go's JSON keeps. gogo-protobuf writes every non-pointer field, so `hostPort: 0` and
//!   `replicas: 0` look alike on the wire. `descriptors/k8s-v1.32-keep-zero.txt`, generated from the Go
//!   struct tags by `descriptors/gen_go_json.py`, lists the pointer fields and those without `omitempty`;
//!   every other zero scalar is omitted, as `omitempty` omits it.
//!
//! The result equals what kubectl 1.31 sends as JSON for the same command (`tests/kubectl.rs`), down to
//! `creationTimestamp: null`, `status: {}` and `resources: {}`; only key order may differ in a few messages.
//! Fields unknown to the v1.32 schema are dropped, as a v1.32 kube-apiserver drops them.

#![deny(missing_docs)]

mod json;
mod schema;

use prost_reflect::{DynamicMessage, Value};
use serde_json::{Map, Value as Json};

/// The content type of Kubernetes protobuf bodies (without parameters).
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4 bytes that start every Kubernetes protobuf body.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// How deep protobuf objects may be embedded in `RawExtension`s of other objects.
const MAX_EMBEDDING: usize = 4;

/// Why a protobuf body could not be decoded. Every variant is the client's fault: answer 400 BadRequest with
/// its message (except [`DecodeError::Schema`], a bug in Skiff).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body does not start with the Kubernetes magic number \"k8s\\x00\"")]
    MissingMagic,
    /// The `runtime.Unknown` envelope is not valid protobuf.
    #[error("invalid protobuf envelope (runtime.Unknown): {0}")]
    Envelope(String),
    /// The envelope has an empty `apiVersion` or `kind`.
    #[error("protobuf envelope has no {0}")]
    MissingTypeMeta(&'static str),
    /// The envelope's `contentEncoding` is set (upstream defines none).
    #[error("unsupported protobuf contentEncoding {0:?}")]
    UnsupportedEncoding(String),
    /// The envelope's `contentType` is neither protobuf nor JSON.
    #[error("unsupported protobuf contentType {0:?}")]
    UnsupportedContentType(String),
    /// No built-in Kubernetes kind has this apiVersion and kind.
    #[error("no protobuf schema for kind {kind:?} in apiVersion {api_version:?}")]
    UnknownKind {
        /// `apiVersion` from the envelope.
        api_version: String,
        /// `kind` from the envelope.
        kind: String,
    },
    /// The object bytes are not a valid message of the kind.
    #[error("invalid protobuf for {kind}: {reason}")]
    Message {
        /// `kind` from the envelope.
        kind: String,
        /// What the protobuf decoder reported.
        reason: String,
    },
    /// A field has a value with no JSON form (a time out of range, an `IntOrString` of unknown type, a
    /// `RawExtension` that is not JSON, …).
    #[error("invalid value at {path}: {reason}")]
    InvalidValue {
        /// JSON path of the field, like `spec.template.metadata.creationTimestamp`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Protobuf objects embedded in `RawExtension`s nest too deeply.
    #[error("protobuf objects embedded more than {MAX_EMBEDDING} levels deep")]
    TooDeep,
    /// The compiled-in schema does not load: a bug in Skiff, not the client's fault.
    #[error("internal error: protobuf schema unavailable: {0}")]
    Schema(String),
}

/// Whether a `Content-Type` header value names the Kubernetes protobuf encoding (parameters are ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// Decodes a protobuf request body into the object's JSON form, with `kind` and `apiVersion` set.
pub fn decode(body: &[u8]) -> Result<Json, DecodeError> {
    decode_at_depth(body, 0)
}

fn decode_at_depth(body: &[u8], depth: usize) -> Result<Json, DecodeError> {
    if depth > MAX_EMBEDDING {
        return Err(DecodeError::TooDeep);
    }
    let raw = body.strip_prefix(MAGIC).ok_or(DecodeError::MissingMagic)?;
    let envelope = Envelope::decode(raw)?;
    if !envelope.content_encoding.is_empty() {
        return Err(DecodeError::UnsupportedEncoding(envelope.content_encoding));
    }
    let content_type = envelope.content_type.split(';').next().unwrap_or("").trim();
    let fields = if content_type.is_empty() || is_protobuf(content_type) {
        let desc = schema::message_for_kind(&envelope.api_version, &envelope.kind)?;
        let message = DynamicMessage::decode(desc, envelope.raw.as_slice()).map_err(|e| {
            DecodeError::Message {
                kind: envelope.kind.clone(),
                reason: e.to_string(),
            }
        })?;
        json::message_fields(&message, depth)?
    } else if content_type.eq_ignore_ascii_case("application/json") {
        match serde_json::from_slice(&envelope.raw) {
            Ok(Json::Object(map)) => map,
            _ => {
                return Err(DecodeError::Message {
                    kind: envelope.kind,
                    reason: "raw is not a JSON object".into(),
                })
            }
        }
    } else {
        return Err(DecodeError::UnsupportedContentType(envelope.content_type));
    };
    // Go writes TypeMeta first: kind, then apiVersion.
    let mut object = Map::with_capacity(fields.len() + 2);
    object.insert("kind".into(), Json::String(envelope.kind));
    object.insert("apiVersion".into(), Json::String(envelope.api_version));
    for (key, value) in fields {
        if key != "kind" && key != "apiVersion" {
            object.insert(key, value);
        }
    }
    Ok(Json::Object(object))
}

/// The fields of `runtime.Unknown` that matter.
struct Envelope {
    api_version: String,
    kind: String,
    raw: Vec<u8>,
    content_encoding: String,
    content_type: String,
}

impl Envelope {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let desc = schema::unknown()?;
        let message = DynamicMessage::decode(desc, bytes)
            .map_err(|e| DecodeError::Envelope(e.to_string()))?;
        let string = |m: &DynamicMessage, name: &str| match m.get_field_by_name(name).as_deref() {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let (api_version, kind) = match message.get_field_by_name("typeMeta").as_deref() {
            Some(Value::Message(type_meta)) => {
                (string(type_meta, "apiVersion"), string(type_meta, "kind"))
            }
            _ => (String::new(), String::new()),
        };
        if api_version.is_empty() {
            return Err(DecodeError::MissingTypeMeta("apiVersion"));
        }
        if kind.is_empty() {
            return Err(DecodeError::MissingTypeMeta("kind"));
        }
        let raw = match message.get_field_by_name("raw").as_deref() {
            Some(Value::Bytes(b)) => b.to_vec(),
            _ => Vec::new(),
        };
        Ok(Envelope {
            api_version,
            kind,
            raw,
            content_encoding: string(&message, "contentEncoding"),
            content_type: string(&message, "contentType"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_protobuf_content_type() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf(
            "Application/Vnd.Kubernetes.Protobuf; charset=binary"
        ));
        assert!(is_protobuf(
            "application/vnd.kubernetes.protobuf;stream=watch"
        ));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf(""));
    }

    #[test]
    fn rejects_bodies_without_magic() {
        assert!(matches!(decode(b""), Err(DecodeError::MissingMagic)));
        assert!(matches!(
            decode(b"{\"kind\":\"Pod\"}"),
            Err(DecodeError::MissingMagic)
        ));
    }
}
