//! ConfigMap and Secret validation: data keys, the 1 MiB size limit, Secret type-specific keys, and the
//! `immutable` flag on update.

use super::{invalid_each, meta_path, object_meta, object_meta_update, FIELD_IMMUTABLE};
use crate::field::{ErrorList, FieldError, Path};
use crate::names;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// `MaxSecretSize`: 1 MiB for the data of a Secret or ConfigMap.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// `ValidateConfigMap`.
pub fn config_map(cm: &ConfigMap) -> ErrorList {
    let mut errs = object_meta(
        &cm.metadata,
        true,
        names::name_is_dns_subdomain,
        &meta_path(),
    );
    let mut total = 0usize;
    let data_path = Path::new("data");
    for (k, v) in cm.data.iter().flatten() {
        errs.extend(invalid_each(
            &data_path.key(k),
            k,
            names::is_config_map_key(k),
        ));
        if cm.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldError::invalid(
                &data_path.key(k),
                k,
                "duplicate of key present in binaryData",
            ));
        }
        total += v.len();
    }
    let bin_path = Path::new("binaryData");
    for (k, v) in cm.binary_data.iter().flatten() {
        errs.extend(invalid_each(
            &bin_path.key(k),
            k,
            names::is_config_map_key(k),
        ));
        total += v.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
    errs
}

/// `ValidateConfigMapUpdate`: once `immutable: true`, neither data nor the flag may change.
pub fn config_map_update(new: &ConfigMap, old: &ConfigMap) -> ErrorList {
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path());
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errs.push(FieldError::forbidden(
                &Path::new("immutable"),
                "field is immutable when `immutable` is set",
            ));
        }
        if new.data != old.data {
            errs.push(FieldError::forbidden(
                &Path::new("data"),
                "field is immutable when `immutable` is set",
            ));
        }
        if new.binary_data != old.binary_data {
            errs.push(FieldError::forbidden(
                &Path::new("binaryData"),
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errs.extend(config_map(new));
    errs
}

/// Go's `encoding/json` message for the first error of a document, as far as it can be told from
/// serde_json's (the common cases: bad start, truncation).
fn go_json_error(bytes: &[u8]) -> Option<String> {
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes) {
        Ok(_) => None,
        Err(e) => {
            let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace());
            Some(match trimmed {
                None => "unexpected end of JSON input".to_string(),
                Some(_) if e.is_eof() => "unexpected end of JSON input".to_string(),
                Some(i)
                    if bytes[i] != b'{'
                        && bytes[i] != b'['
                        && bytes[i] != b'"'
                        && !bytes[i].is_ascii_digit() =>
                {
                    format!(
                        "invalid character '{}' looking for beginning of value",
                        char::from(bytes[i])
                    )
                }
                Some(i) if bytes[i] != b'{' => {
                    let kind = match bytes[i] {
                        b'[' => "array",
                        b'"' => "string",
                        _ => "number",
                    };
                    format!("json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}")
                }
                Some(_) => e.to_string(),
            })
        }
    }
}

/// `ValidateSecret` (after `stringData` has been merged into `data` by the defaulter).
pub fn secret(sec: &Secret) -> ErrorList {
    let mut errs = object_meta(
        &sec.metadata,
        true,
        names::name_is_dns_subdomain,
        &meta_path(),
    );
    let data_path = Path::new("data");
    let mut total = 0usize;
    for (k, v) in sec.data.iter().flatten() {
        errs.extend(invalid_each(
            &data_path.key(k),
            k,
            names::is_config_map_key(k),
        ));
        total += v.0.len();
    }
    for (k, v) in sec.string_data.iter().flatten() {
        errs.extend(invalid_each(
            &data_path.key(k),
            k,
            names::is_config_map_key(k),
        ));
        total += v.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let has = |k: &str| {
        sec.data.as_ref().is_some_and(|d| d.contains_key(k))
            || sec.string_data.as_ref().is_some_and(|d| d.contains_key(k))
    };
    let get = |k: &str| -> Option<Vec<u8>> {
        sec.string_data
            .as_ref()
            .and_then(|d| d.get(k).map(|v| v.clone().into_bytes()))
            .or_else(|| {
                sec.data
                    .as_ref()
                    .and_then(|d| d.get(k).map(|v| v.0.clone()))
            })
    };
    match sec.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let name = sec
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"));
            if name.is_none_or(String::is_empty) {
                errs.push(FieldError::required(
                    &Path::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "" | "Opaque" => {}
        "kubernetes.io/dockercfg" => match get(".dockercfg") {
            None => errs.push(FieldError::required(&data_path.key(".dockercfg"), "")),
            Some(b) => {
                if let Some(m) = go_json_error(&b) {
                    errs.push(FieldError::invalid(
                        &data_path.key(".dockercfg"),
                        "<secret contents redacted>",
                        m,
                    ));
                }
            }
        },
        "kubernetes.io/dockerconfigjson" => match get(".dockerconfigjson") {
            None => errs.push(FieldError::required(
                &data_path.key(".dockerconfigjson"),
                "",
            )),
            Some(b) => {
                if let Some(m) = go_json_error(&b) {
                    errs.push(FieldError::invalid(
                        &data_path.key(".dockerconfigjson"),
                        "<secret contents redacted>",
                        m,
                    ));
                }
            }
        },
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required(&data_path.key("username"), ""));
            errs.push(FieldError::required(&data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if get("ssh-privatekey").is_none_or(|v| v.is_empty()) => {
            errs.push(FieldError::required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            if !has("tls.crt") {
                errs.push(FieldError::required(&data_path.key("tls.crt"), ""));
            }
            if !has("tls.key") {
                errs.push(FieldError::required(&data_path.key("tls.key"), ""));
            }
        }
        _ => {}
    }
    errs
}

/// `ValidateSecretUpdate`: `type` is immutable; once `immutable: true`, neither data nor the flag may change.
pub fn secret_update(new: &Secret, old: &Secret) -> ErrorList {
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path());
    let (nt, ot) = (
        new.type_.as_deref().unwrap_or(""),
        old.type_.as_deref().unwrap_or(""),
    );
    if nt != ot {
        errs.push(FieldError::invalid(&Path::new("type"), nt, FIELD_IMMUTABLE));
    }
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errs.push(FieldError::forbidden(
                &Path::new("immutable"),
                "field is immutable when `immutable` is set",
            ));
        }
        if new.data != old.data {
            errs.push(FieldError::forbidden(
                &Path::new("data"),
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errs.extend(secret(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn config_map_rules() {
        let ok: ConfigMap =
            from(json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"app.conf": "x"}}));
        assert!(config_map(&ok).is_empty());
        let bad: ConfigMap =
            from(json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a/b": "x"}}));
        assert_eq!(
            rendered(&config_map(&bad)),
            vec!["data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
        let big: ConfigMap = from(
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": "x".repeat(MAX_SECRET_SIZE + 1)}}),
        );
        assert_eq!(
            rendered(&config_map(&big)),
            vec!["Too long: may not be more than 1048576 bytes"]
        );
        let mut old: ConfigMap = from(
            json!({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"}, "data": {"k": "v"}, "immutable": true}),
        );
        let mut new = old.clone();
        new.data = Some(from(json!({"k": "w"})));
        assert_eq!(
            rendered(&config_map_update(&new, &old)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        old.immutable = None;
        assert!(config_map_update(&new, &old).is_empty());
    }

    #[test]
    fn secret_rules() {
        let ok: Secret = from(
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"k": "dg=="}}),
        );
        assert!(secret(&ok).is_empty());
        let docker: Secret = from(
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/dockerconfigjson", "data": {}}),
        );
        assert_eq!(
            rendered(&secret(&docker)),
            vec!["data[.dockerconfigjson]: Required value"]
        );
        let bad_json: Secret = from(
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": "nope"}}),
        );
        assert_eq!(
            rendered(&secret(&bad_json)),
            vec!["data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": invalid character 'n' looking for beginning of value"]
        );
        let tls: Secret = from(
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": ""}}),
        );
        assert_eq!(
            rendered(&secret(&tls)),
            vec!["data[tls.key]: Required value"]
        );
        let sa: Secret = from(
            json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/service-account-token"}),
        );
        assert_eq!(
            rendered(&secret(&sa)),
            vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
        );
        let old: Secret = from(
            json!({"metadata": {"name": "s", "namespace": "d", "resourceVersion": "1"}, "type": "Opaque"}),
        );
        let mut new = old.clone();
        new.type_ = Some("kubernetes.io/tls".into());
        new.data = Some(from(json!({"tls.crt": "", "tls.key": ""})));
        assert_eq!(
            rendered(&secret_update(&new, &old)),
            vec!["type: Invalid value: \"kubernetes.io/tls\": field is immutable"]
        );
    }
}
