//! Content negotiation: what a client accepts back, and how its request body is encoded.
//!
//! Responses are JSON (protobuf is accepted by clients only as an alternative to JSON), YAML when that is
//! all a client takes, or a transformation asked for through `Accept` parameters: `as=Table` for
//! `kubectl get`, `as=PartialObjectMetadata[List]` for metadata-only clients.

use skiff_api::ApiError;

/// The representation a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    Table,
    PartialObjectMetadata,
    PartialObjectMetadataList,
}

/// Picks the first acceptable media type in the client's order of preference.
pub fn output(accept: Option<&str>) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut as_ = None;
        let mut g = None;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim() {
                    "as" => as_ = Some(v.trim().to_string()),
                    "g" => g = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let json_like = matches!(media.as_str(), "application/json" | "*/*" | "application/*");
        match (as_.as_deref(), g.as_deref()) {
            (Some("Table"), Some("meta.k8s.io")) if json_like => return Ok(Output::Table),
            (Some("PartialObjectMetadata"), Some("meta.k8s.io")) if json_like => {
                return Ok(Output::PartialObjectMetadata)
            }
            (Some("PartialObjectMetadataList"), Some("meta.k8s.io")) if json_like => {
                return Ok(Output::PartialObjectMetadataList)
            }
            (Some(_), _) => continue,
            (None, _) => {}
        }
        match media.as_str() {
            "application/json"
            | "*/*"
            | "application/*"
            | "application/vnd.kubernetes.protobuf" => return Ok(Output::Json),
            "application/yaml" => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    ))
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    Protobuf,
}

/// The patch types of `PATCH` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The body type of a create/update; a missing Content-Type is JSON (the Python client sends none).
pub fn body_type(content_type: Option<&str>) -> Result<BodyType, ApiError> {
    match media_type(content_type).as_str() {
        "" | "application/json" | "*/*" => Ok(BodyType::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyType::Yaml),
        "application/vnd.kubernetes.protobuf" => Ok(BodyType::Protobuf),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// The patch type of a PATCH.
pub fn patch_type(content_type: Option<&str>) -> Result<PatchType, ApiError> {
    match media_type(content_type).as_str() {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_headers() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(output(Some(table)).unwrap(), Output::Table);
        assert_eq!(
            output(Some("application/vnd.kubernetes.protobuf,application/json")).unwrap(),
            Output::Json
        );
        assert_eq!(output(None).unwrap(), Output::Json);
        assert_eq!(output(Some("application/yaml")).unwrap(), Output::Yaml);
        assert!(output(Some("text/html")).is_err());
        assert_eq!(body_type(None).unwrap(), BodyType::Json);
        assert_eq!(
            patch_type(Some("application/apply-patch+yaml")).unwrap(),
            PatchType::Apply
        );
    }
}
