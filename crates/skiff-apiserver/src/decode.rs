//! Decoding of request bodies into objects: JSON, YAML and protobuf bodies, typed decoding through
//! k8s-openapi, and `fieldValidation` (Strict / Warn / Ignore) for unknown fields.
//!
//! k8s-openapi skips unknown fields when it decodes; `serde_ignored` reports each one it skips, with
//! its path, during the one typed decode.

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

/// A field the typed decoding ignored, named as upstream names it: `spec.foo`,
/// `spec.containers[0].bogus`.
fn upstream_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Map { parent, key } => {
            let mut out = upstream_path(parent);
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
            out
        }
        Path::Seq { parent, index } => format!("{}[{index}]", upstream_path(parent)),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => upstream_path(parent),
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
    T: serde::de::DeserializeOwned,
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
    // Decoded from the borrowed value (no copy of the request). Unknown fields are the ones the typed
    // decoding skips, reported as it skips them (no re-encoding to compare with what was sent).
    let mut unknown = Vec::new();
    let obj = if fv == FieldValidation::Ignore {
        <T as serde::Deserialize>::deserialize(&value)
    } else {
        serde_ignored::deserialize(&value, |p| unknown.push(upstream_path(&p)))
    }
    .map_err(|e| cannot(e.to_string()))?;
    let mut warnings = Vec::new();
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
    Ok((obj, warnings))
}

/// [`typed`] straight from a JSON body, for a create's fast path: `None` wherever the body needs what
/// only the JSON value path does (anything that does not decode as the type, unknown fields under
/// `Strict`), and that path then gives the answer, errors included. Of duplicate members the last
/// wins, as in a JSON value.
pub fn typed_from_slice<T>(body: &[u8], fv: FieldValidation) -> Option<(T, Vec<String>)>
where
    T: serde::de::DeserializeOwned,
{
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let obj = if fv == FieldValidation::Ignore {
        <T as serde::Deserialize>::deserialize(&mut de)
    } else {
        serde_ignored::deserialize(&mut de, |p| unknown.push(upstream_path(&p)))
    }
    .ok()?;
    de.end().ok()?;
    if !unknown.is_empty() && fv == FieldValidation::Strict {
        return None;
    }
    let warnings = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    Some((obj, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields_with_upstream_paths() {
        let pods = skiff_api::resources::find("", "v1", "pods").unwrap();
        let sent = json!({"metadata": {"creationTimestamp": null, "labels": {"a": "b"}}, "spec": {"foo": 1, "containers": [{"name": "a"}, {"name": "b", "bogus": true, "ports": [{"containerPort": 80, "x": null}]}], "nodeSelector": {"k": "v"}}, "status": {"phase": "Pending", "y": {}}});
        let (_, warnings) =
            typed::<k8s_openapi::api::core::v1::Pod>(pods, sent, FieldValidation::Warn).unwrap();
        assert_eq!(
            warnings,
            [
                "unknown field \"spec.foo\"",
                "unknown field \"spec.containers[1].bogus\"",
                "unknown field \"spec.containers[1].ports[0].x\"",
                "unknown field \"status.y\"",
            ]
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
