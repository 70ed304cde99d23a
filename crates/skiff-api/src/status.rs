//! `metav1.Status` errors: the code, reason, message and details a real API server returns.
//!
//! Bodies are encoded by hand in Go field order (`kind, apiVersion, metadata, status, message, reason,
//! details{name, group, kind, uid, causes}, code`) with a trailing newline, because some clients compare
//! error bodies byte for byte (see `shared/reference/kubectl-wire.md` §9).

use crate::field::{aggregate_message, FieldError};
use serde_json::{json, Map, Value};
use std::fmt;

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// `details` of a Status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub uid: String,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<i32>,
}

/// A failed API call, rendered as a `Status` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: most errors carry none, and a small error keeps `Result`s small.
    pub details: Option<Box<Details>>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// `<plural>` or `<plural>.<group>` as upstream names a resource in messages (`deployments.apps`).
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn resource_details(group: &str, resource: &str, name: &str) -> Details {
    Details {
        name: name.to_string(),
        group: group.to_string(),
        kind: resource.to_string(),
        ..Default::default()
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{}\" not found", qualified(resource, group), name),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{}\" already exists", qualified(resource, group), name),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }
    /// Admission's refusal of one object (`configmaps "x" is forbidden: <why>`), as upstream's
    /// `NewForbidden`.
    pub fn forbidden_object(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{} \"{}\" is forbidden: {}",
                qualified(resource, group),
                name,
                why
            ),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }
    /// An optimistic-concurrency failure (`Operation cannot be fulfilled on pods "web": ...`).
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                qualified(resource, group),
                name,
                why
            ),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }
    /// The object was modified since the client read it.
    pub fn stale(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }
    /// 422 Invalid with one cause per field error; `kind` is the object's Kind (`Pod`), as kubectl prints it.
    pub fn invalid(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Self {
        let causes = errs
            .iter()
            .map(|e| Cause {
                reason: e.kind.reason().to_string(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{}\" is invalid: {}",
                qualified(kind, group),
                name,
                aggregate_message(errs)
            ),
            details: Some(Box::new(Details {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
                causes,
                ..Default::default()
            })),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"))
    }
    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }
    /// 410 for a watch or list from a compacted revision.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Gone", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The `Status` object as a JSON value (for watch `ERROR` events).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), json!("Failure"));
        m.insert("message".into(), json!(self.message));
        m.insert("reason".into(), json!(self.reason));
        if let Some(d) = &self.details {
            let mut dm = Map::new();
            if !d.name.is_empty() {
                dm.insert("name".into(), json!(d.name));
            }
            if !d.group.is_empty() {
                dm.insert("group".into(), json!(d.group));
            }
            if !d.kind.is_empty() {
                dm.insert("kind".into(), json!(d.kind));
            }
            if !d.uid.is_empty() {
                dm.insert("uid".into(), json!(d.uid));
            }
            if !d.causes.is_empty() {
                let causes: Vec<Value> = d
                    .causes
                    .iter()
                    .map(|c| {
                        let mut cm = Map::new();
                        cm.insert("reason".into(), json!(c.reason));
                        cm.insert("message".into(), json!(c.message));
                        if !c.field.is_empty() {
                            cm.insert("field".into(), json!(c.field));
                        }
                        Value::Object(cm)
                    })
                    .collect();
                dm.insert("causes".into(), Value::Array(causes));
            }
            if let Some(r) = d.retry_after_seconds {
                dm.insert("retryAfterSeconds".into(), json!(r));
            }
            m.insert("details".into(), Value::Object(dm));
        }
        m.insert("code".into(), json!(self.code));
        Value::Object(m)
    }

    /// The response body: compact JSON in Go field order, newline-terminated.
    pub fn to_body(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.to_value()).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// A successful `Status` (deletecollection of some kinds, delete of objects that answer with Status).
pub fn success_status(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(resource));
    details.insert("uid".into(), json!(uid));
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Path;

    #[test]
    fn already_exists_is_byte_exact() {
        let e = ApiError::already_exists("", "services", "mock-2");
        assert_eq!(
            String::from_utf8(e.to_body()).unwrap(),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"services \\\"mock-2\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"mock-2\",\"kind\":\"services\"},\"code\":409}\n"
        );
    }

    #[test]
    fn invalid_names_kind_and_field() {
        let p = Path::new("spec")
            .child("containers")
            .index(0)
            .child("image");
        let e = ApiError::invalid("", "Pod", "bad", &[FieldError::required(&p, "")]);
        assert_eq!(
            e.message,
            "Pod \"bad\" is invalid: spec.containers[0].image: Required value"
        );
        let v = e.to_value();
        assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(
            v["details"]["causes"][0]["field"],
            "spec.containers[0].image"
        );
        assert_eq!(v["code"], 422);
    }
}
