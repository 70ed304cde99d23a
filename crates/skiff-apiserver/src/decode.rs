//! Decoding of request bodies into objects: JSON, YAML and protobuf bodies, typed decoding through
//! k8s-openapi, and `fieldValidation` (Strict / Warn / Ignore) for unknown fields.
//!
//! k8s-openapi drops unknown fields when it decodes, so unknown fields are found by comparing what the
//! client sent with what the typed object encodes back to.

use crate::negotiation::BodyType;
use serde_json::Value;
use skiff_api::resources::Resource;
use skiff_api::ApiError;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// Parses the parameter; absent means Warn, as upstream.
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v.unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}. Supported values: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Decodes a create/update body into a JSON value.
pub fn body_to_value(body: &[u8], body_type: BodyType) -> Result<Value, ApiError> {
    let value = match body_type {
        BodyType::Json => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        BodyType::Yaml => yaml_to_value(body)?,
        BodyType::Protobuf => skiff_protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode protobuf body: {e}")))?,
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }",
        ));
    }
    Ok(value)
}

/// Decodes YAML (a single document) into JSON.
pub fn yaml_to_value(body: &[u8]) -> Result<Value, ApiError> {
    let y: serde_yaml::Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: yaml: {e}")))?;
    serde_json::to_value(y)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

/// The unknown fields of `sent` compared with `decoded` (what the typed object encodes back to), as
/// upstream names them: `spec.foo`, `spec.containers[0].bogus`.
pub fn unknown_fields(sent: &Value, decoded: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(sent, decoded, &mut String::new(), &mut out);
    out
}

/// `path` is the position of `sent` (`spec.containers[0]`); it is extended in place for each child
/// and cut back afterwards, so that only an unknown field costs an allocation.
fn walk(sent: &Value, decoded: &Value, path: &mut String, out: &mut Vec<String>) {
    let len = path.len();
    match (sent, decoded) {
        (Value::Object(s), Value::Object(d)) => {
            for (k, v) in s {
                if v.is_null() {
                    continue;
                }
                if len > 0 {
                    path.push('.');
                }
                path.push_str(k);
                match d.get(k) {
                    Some(dv) => walk(v, dv, path, out),
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(s), Value::Array(d)) => {
            for (i, (sv, dv)) in s.iter().zip(d.iter()).enumerate() {
                use std::fmt::Write;
                let _ = write!(path, "[{i}]");
                walk(sv, dv, path, out);
                path.truncate(len);
            }
        }
        // An empty object the typed model drops (e.g. a field whose type has no properties) is not unknown.
        _ => {}
    }
}

/// Decodes a JSON value into the typed object `T`, honouring `fieldValidation`. Returns the typed object
/// and the warnings to send (`unknown field "spec.foo"`).
pub fn typed<T>(
    resource: &Resource,
    mut value: Value,
    fv: FieldValidation,
) -> Result<(T, Vec<String>), ApiError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let gv = resource.api_version();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("apiVersion".into(), Value::String(gv.clone()));
        obj.insert("kind".into(), Value::String(resource.kind.to_string()));
    }
    let cannot = |detail: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}",
            kind = resource.kind,
            version = resource.version
        ))
    };
    // Decoded from the borrowed value (no copy of the request); `value` is still needed below.
    let obj = <T as serde::Deserialize>::deserialize(&value).map_err(|e| cannot(e.to_string()))?;
    let mut warnings = Vec::new();
    if fv != FieldValidation::Ignore {
        let back = serde_json::to_value(&obj).map_err(|e| cannot(e.to_string()))?;
        let unknown = unknown_fields(&value, &back);
        if !unknown.is_empty() {
            if fv == FieldValidation::Strict {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(cannot(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )));
            }
            warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
        }
    }
    Ok((obj, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields_with_upstream_paths() {
        let sent = json!({"spec": {"foo": 1, "containers": [{"name": "a", "bogus": true}]}, "metadata": {"creationTimestamp": null}});
        let decoded = json!({"spec": {"containers": [{"name": "a"}]}, "metadata": {}});
        assert_eq!(
            unknown_fields(&sent, &decoded),
            vec!["spec.foo", "spec.containers[0].bogus"]
        );
    }

    #[test]
    fn strict_decoding_error_message() {
        let pods = skiff_api::resources::find("", "v1", "pods").unwrap();
        let v = json!({"metadata": {"name": "x"}, "spec": {"foo": 1, "containers": [{"name": "a", "image": "i", "bogus": 1}]}});
        let err =
            typed::<k8s_openapi::api::core::v1::Pod>(pods, v.clone(), FieldValidation::Strict)
                .err()
                .unwrap();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.containers[0].bogus\""
        );
        let (_, warnings) =
            typed::<k8s_openapi::api::core::v1::Pod>(pods, v, FieldValidation::Warn).unwrap();
        assert_eq!(warnings.len(), 2);
    }
}
