//! Request information: what an API path and its query string ask for (upstream's `RequestInfo`).

use percent_encoding::percent_decode_str;
use skiff_api::resources::{self, Resource};
use skiff_api::ApiError;

/// The decoded query string; parameters keep their order and may repeat (`command=a&command=b`).
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut out = Vec::new();
        if let Some(raw) = raw {
            for part in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                out.push((decode(k), decode(v)));
            }
        }
        Query(out)
    }
    /// The first value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// A non-empty value of a parameter.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
    /// A boolean parameter (`true`/`1`), as Go's strconv.ParseBool accepts it.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid boolean value {v:?} for parameter {key}"
            ))),
        }
    }
    /// An integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.non_empty(key) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value {v:?} for parameter {key}: must be an integer"
                ))
            }),
        }
    }
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// What a resource path names.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    pub resource: &'static Resource,
    /// The namespace from the path (`None` for cluster-scoped resources and all-namespace requests).
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// A legacy `/watch/` path prefix was used.
    pub legacy_watch: bool,
}

/// A parsed API path.
#[derive(Debug, Clone)]
pub enum Target {
    /// `/api`
    CoreGroups,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`
    GroupVersion(String, String),
    Resource(ResourceRequest),
    /// `POST /api/v1/namespaces/{ns}/bindings` (the collection form of pods/binding).
    Bindings(String),
}

/// Parses `/api/...` and `/apis/...` paths. `Ok(None)` means "not an API path" (the caller answers 404).
pub fn parse_path(path: &str) -> Result<Option<Target>, ApiError> {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect();
    let segs: Vec<&str> = segs.iter().map(|s| s.as_str()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api"] => return Ok(Some(Target::CoreGroups)),
        ["apis"] => return Ok(Some(Target::Groups)),
        ["apis", g] => return Ok(Some(Target::Group(g.to_string()))),
        ["api", v] => return Ok(Some(Target::GroupVersion(String::new(), v.to_string()))),
        ["apis", g, v] => return Ok(Some(Target::GroupVersion(g.to_string(), v.to_string()))),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Ok(None),
    };
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let find = |plural: &str| resources::find(group, version, plural);
    let req = |r: &'static Resource, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Some(Target::Resource(ResourceRequest {
            resource: r,
            namespace: ns.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            legacy_watch,
        }))
    };
    let target = match rest {
        // Namespaced collections and objects: /namespaces/{ns}/{resource}[/{name}[/{sub}]]
        ["namespaces", ns, "bindings"] if group.is_empty() => {
            Some(Target::Bindings(ns.to_string()))
        }
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|r| r.namespaced) => {
            let r = find(plural).expect("checked");
            match tail {
                [] => req(r, Some(ns), None, None),
                [name] => req(r, Some(ns), Some(name), None),
                [name, sub] => req(r, Some(ns), Some(name), Some(sub)),
                _ => None,
            }
        }
        // Cluster-scoped objects (including namespaces themselves) and all-namespace lists.
        [plural, tail @ ..] => match find(plural) {
            Some(r) => match tail {
                [] => req(r, None, None, None),
                [name] if !r.namespaced => req(r, None, Some(name), None),
                [name, sub] if !r.namespaced => req(r, None, Some(name), Some(sub)),
                _ => None,
            },
            None => None,
        },
        _ => None,
    };
    Ok(target)
}

fn decode_segment(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourceRequest {
        match parse_path(path).unwrap() {
            Some(Target::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_namespaced_and_cluster_paths() {
        let r = res("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(r.resource.plural, "pods");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(r.resource.plural, "namespaces");
        assert_eq!(r.name.as_deref(), Some("kube-system"));
        let r = res("/api/v1/namespaces/ns1/status");
        assert_eq!(r.resource.plural, "namespaces");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = res("/api/v1/pods");
        assert!(r.namespace.is_none() && r.name.is_none());
        let r = res("/apis/apps/v1/namespaces/a/deployments/d/scale");
        assert_eq!(r.subresource.as_deref(), Some("scale"));
        let r = res("/api/v1/watch/namespaces/a/pods");
        assert!(r.legacy_watch);
        // An unknown name after a namespace is a subresource of that namespace (answered 404 later).
        let r = res("/api/v1/namespaces/a/nopes");
        assert_eq!(r.subresource.as_deref(), Some("nopes"));
        assert!(parse_path("/api/v1/namespaces/a/nopes/x/y/z")
            .unwrap()
            .is_none());
        assert!(parse_path("/api/v1/pods/x").unwrap().is_none());
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("labelSelector=app%3Dweb&command=b+c&watch=1"));
        assert_eq!(q.get("labelSelector"), Some("app=web"));
        assert_eq!(q.get("command"), Some("b c"));
        assert!(q.flag("watch").unwrap());
    }
}
