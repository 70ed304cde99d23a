//! `paths`: the REST operations of one group/version, built from the resource table the way
//! kube-apiserver's installer lays them out (collection and item paths, subresources, the query
//! parameters of each verb, `x-kubernetes-action` and `x-kubernetes-group-version-kind`).
//!
//! kubectl reads two things here. `--validate=strict` (the default) sends `fieldValidation=Strict` only if
//! the PATCH operation of the object's GVK lists a `fieldValidation` query parameter (it looks at the
//! first PATCH it finds for that GVK, in map order, so every PATCH of a GVK, subresources included, must
//! list it). `kubectl explain` finds the GVK of a resource on its collection or item path.
//! The deprecated `/watch/` paths are left out: no client in use asks for them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{json, Map, Value};
use skiff_api::resources::{Resource, Subresource};

use crate::schemas::{reference, Gvk, Schemas};

/// The media types responses come in (Kubernetes 1.32 serves no CBOR).
const RESPONSE_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
];
/// List responses also stream watch events.
const LIST_TYPES: &[&str] = &[
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
];
/// The patch types a PATCH accepts.
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManagerPatch", "fieldValidation", "force"];
const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
];
const DELETE_COLLECTION_PARAMS: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];
const LOG_PARAMS: &[&str] = &[
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "tailLines",
    "timestamps",
];

/// The query parameters: name as sent, OpenAPI type, description (upstream's wording).
const QUERY_PARAMS: &[(&str, &str, &str)] = &[
    ("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored."),
    ("continue", "string", "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications."),
    ("dryRun", "string", "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed"),
    ("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint."),
    ("fieldManagerPatch", "string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch)."),
    ("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
    ("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered."),
    ("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."),
    ("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately."),
    ("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips precondition checks, and removes the object from the storage. WARNING: This may potentially break the cluster if the workload associated with the resource being unsafe-deleted relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value is false, and the user must opt in to enable it"),
    ("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
    ("limit", "integer", "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned."),
    ("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both."),
    ("pretty", "string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
    ("propagationPolicy", "string", "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground."),
    ("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
    ("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
    ("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and to false otherwise."),
    ("timeoutSeconds", "integer", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
    ("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
    ("container", "string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
    ("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
    ("insecureSkipTLSVerifyBackend", "boolean", "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to.  This will make the HTTPS connection between the apiserver and the backend insecure. This means the apiserver cannot verify the log data it is receiving came from the real kubelet.  If the kubelet is configured to verify the apiserver's TLS credentials, it does not mean the connection to the real kubelet is vulnerable to a man in the middle attack (e.g. an attacker could not intercept the actual log data coming from the real kubelet)."),
    ("limitBytes", "integer", "If set, the number of bytes to read from the server before terminating the log output. This may not display a complete final line of logging, and may return slightly more or slightly less than the specified limit."),
    ("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
    ("sinceSeconds", "integer", "A relative time in seconds before the current time from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned. If this value is in the future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified."),
    ("tailLines", "integer", "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime"),
    ("timestamps", "boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
];

/// A query parameter by its key in [`QUERY_PARAMS`] (`fieldManagerPatch` is sent as `fieldManager`).
fn query(key: &str) -> Value {
    let (_, ty, description) = QUERY_PARAMS
        .iter()
        .find(|(k, _, _)| *k == key)
        .unwrap_or_else(|| panic!("query parameter {key} is not in QUERY_PARAMS"));
    let name = key.strip_suffix("Patch").unwrap_or(key);
    json!({
        "description": description,
        "in": "query",
        "name": name,
        "schema": { "type": ty, "uniqueItems": true },
    })
}

fn queries(keys: &[&str]) -> Vec<Value> {
    keys.iter().map(|k| query(k)).collect()
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "description": description,
        "in": "path",
        "name": name,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn content(types: &[&str], schema: &Value) -> Value {
    Value::Object(
        types
            .iter()
            .map(|t| (t.to_string(), json!({ "schema": schema })))
            .collect(),
    )
}

fn responses(codes: &[(&str, &str)], types: &[&str], schema: &Value) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        out.insert(
            code.to_string(),
            json!({ "content": content(types, schema), "description": description }),
        );
    }
    out.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(out)
}

/// `core`, `apps`, `events.k8s.io` → `Core`, `Apps`, `Events`; with the version: `CoreV1`.
fn op_prefix(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    group.split('.').chain([version]).map(capitalize).collect()
}

/// The tag upstream files the operations under: `core_v1`, `apps_v1`, `events_v1`.
fn tag(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    let mut parts = group.split('.');
    let first = parts.next().unwrap_or_default().to_string();
    let group: String = std::iter::once(first)
        .chain(parts.map(capitalize))
        .collect();
    format!("{group}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The URL prefix of a group/version: `/api/v1`, `/apis/apps/v1`.
pub(crate) fn gv_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// One operation, keys in upstream's (sorted) order.
struct Op<'a> {
    description: String,
    id: String,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
    tag: &'a str,
    action: &'a str,
    gvk: Option<&'a Gvk>,
}

impl Op<'_> {
    fn into_json(self) -> Value {
        let mut op = Map::new();
        op.insert("description".into(), self.description.into());
        op.insert("operationId".into(), self.id.into());
        if !self.params.is_empty() {
            op.insert("parameters".into(), Value::Array(self.params));
        }
        if let Some(body) = self.body {
            op.insert(
                "requestBody".into(),
                json!({ "content": body, "required": true }),
            );
        }
        op.insert("responses".into(), self.responses);
        op.insert("tags".into(), json!([self.tag]));
        if !self.action.is_empty() {
            op.insert("x-kubernetes-action".into(), self.action.into());
        }
        if let Some(gvk) = self.gvk {
            op.insert("x-kubernetes-group-version-kind".into(), gvk.to_json());
        }
        Value::Object(op)
    }
}

/// Builds the `paths` of one group/version, registering every schema they reference in `schemas`.
pub(crate) fn build(
    group: &str,
    version: &str,
    resources: &[&Resource],
    schemas: &mut Schemas,
) -> Map<String, Value> {
    let prefix = gv_prefix(group, version);
    let ids = op_prefix(group, version);
    let tag = tag(group, version);
    let mut paths = Map::new();

    let resource_list = schemas.meta::<meta::APIResourceList>();
    let discovery = Op {
        description: "get available resources".into(),
        id: format!("get{ids}APIResources"),
        params: vec![],
        body: None,
        responses: responses(&[("200", "OK")], RESPONSE_TYPES, &reference(&resource_list)),
        tag: &tag,
        action: "",
        gvk: None,
    };
    paths.insert(
        format!("{prefix}/"),
        json!({ "get": discovery.into_json() }),
    );

    let status = schemas.meta::<meta::Status>();
    schemas.tag(&status, Gvk::new("", "v1", "Status"));
    let delete_options = schemas.meta::<meta::DeleteOptions>();
    schemas.tag(&delete_options, Gvk::new(group, version, "DeleteOptions"));
    let patch = schemas.meta::<meta::Patch>();
    let ctx = Ctx {
        prefix: &prefix,
        ids: &ids,
        tag: &tag,
        status,
        delete_options,
        patch,
    };

    for resource in resources {
        let Some(kind_schema) = schemas.kind(resource.group, resource.version, resource.kind)
        else {
            continue;
        };
        let list_schema = schemas.list(
            &kind_schema,
            resource.group,
            resource.version,
            resource.kind,
        );
        ctx.resource(&mut paths, resource, &kind_schema, &list_schema);
        for sub in resource.subresources {
            ctx.subresource(&mut paths, schemas, resource, sub);
        }
    }
    paths
}

struct Ctx<'a> {
    prefix: &'a str,
    ids: &'a str,
    tag: &'a str,
    status: String,
    delete_options: String,
    patch: String,
}

impl Ctx<'_> {
    fn resource(
        &self,
        paths: &mut Map<String, Value>,
        r: &Resource,
        kind_schema: &str,
        list_schema: &str,
    ) {
        let gvk = Gvk::new(r.group, r.version, r.kind);
        let kind = r.kind;
        let ids = self.ids;
        let scope = if r.namespaced { "Namespaced" } else { "" };
        let object = reference(kind_schema);
        let base = if r.namespaced {
            format!("{}/namespaces/{{namespace}}/{}", self.prefix, r.plural)
        } else {
            format!("{}/{}", self.prefix, r.plural)
        };
        let namespace = path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        );
        let name = path_param("name", &format!("name of the {kind}"));
        let op = |description: String,
                  id: String,
                  params: Vec<Value>,
                  body: Option<Value>,
                  responses: Value,
                  action: &'static str| {
            Op {
                description,
                id,
                params,
                body,
                responses,
                tag: self.tag,
                action,
                gvk: Some(&gvk),
            }
            .into_json()
        };

        // The collection: list, create, delete collection.
        let mut collection = Map::new();
        if r.has_verb("deletecollection") {
            collection.insert(
                "delete".into(),
                op(
                    format!("delete collection of {kind}"),
                    format!("delete{ids}Collection{scope}{kind}"),
                    queries(DELETE_COLLECTION_PARAMS),
                    Some(content(&["*/*"], &reference(&self.delete_options))),
                    responses(&[("200", "OK")], RESPONSE_TYPES, &reference(&self.status)),
                    "deletecollection",
                ),
            );
        }
        if r.has_verb("list") {
            collection.insert(
                "get".into(),
                op(
                    format!("list or watch objects of kind {kind}"),
                    format!("list{ids}{scope}{kind}"),
                    queries(LIST_PARAMS),
                    None,
                    responses(&[("200", "OK")], LIST_TYPES, &reference(list_schema)),
                    "list",
                ),
            );
        }
        let mut collection_params = Vec::new();
        if r.namespaced {
            collection_params.push(namespace.clone());
        }
        collection_params.push(query("pretty"));
        collection.insert("parameters".into(), Value::Array(collection_params));
        if r.has_verb("create") {
            collection.insert(
                "post".into(),
                op(
                    format!("create a {kind}"),
                    format!("create{ids}{scope}{kind}"),
                    queries(WRITE_PARAMS),
                    Some(content(&["*/*"], &object)),
                    responses(
                        &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                        RESPONSE_TYPES,
                        &object,
                    ),
                    "post",
                ),
            );
        }
        paths.insert(base.clone(), Value::Object(collection));

        // All namespaces: list only.
        if r.namespaced && r.has_verb("list") {
            let mut all = Map::new();
            all.insert(
                "get".into(),
                op(
                    format!("list or watch objects of kind {kind}"),
                    format!("list{ids}{kind}ForAllNamespaces"),
                    vec![],
                    None,
                    responses(&[("200", "OK")], LIST_TYPES, &reference(list_schema)),
                    "list",
                ),
            );
            let mut params = queries(LIST_PARAMS);
            params.push(query("pretty"));
            params.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            all.insert("parameters".into(), Value::Array(params));
            paths.insert(format!("{}/{}", self.prefix, r.plural), Value::Object(all));
        }

        // One object: read, replace, patch, delete.
        let mut item = Map::new();
        if r.has_verb("delete") {
            // Kinds deleted gracefully answer with the object itself, as upstream documents.
            let deleted = if matches!(kind, "Pod" | "Service") && r.group.is_empty() {
                object.clone()
            } else {
                reference(&self.status)
            };
            item.insert(
                "delete".into(),
                op(
                    format!("delete a {kind}"),
                    format!("delete{ids}{scope}{kind}"),
                    queries(DELETE_PARAMS),
                    Some(content(&["*/*"], &reference(&self.delete_options))),
                    responses(
                        &[("200", "OK"), ("202", "Accepted")],
                        RESPONSE_TYPES,
                        &deleted,
                    ),
                    "delete",
                ),
            );
        }
        if r.has_verb("get") {
            item.insert(
                "get".into(),
                op(
                    format!("read the specified {kind}"),
                    format!("read{ids}{scope}{kind}"),
                    vec![],
                    None,
                    responses(&[("200", "OK")], RESPONSE_TYPES, &object),
                    "get",
                ),
            );
        }
        let mut item_params = vec![name.clone()];
        if r.namespaced {
            item_params.push(namespace.clone());
        }
        item_params.push(query("pretty"));
        item.insert("parameters".into(), Value::Array(item_params));
        if r.has_verb("patch") {
            item.insert(
                "patch".into(),
                self.patch_op(
                    &gvk,
                    format!("partially update the specified {kind}"),
                    format!("patch{ids}{scope}{kind}"),
                    &object,
                ),
            );
        }
        if r.has_verb("update") {
            item.insert(
                "put".into(),
                self.put_op(
                    &gvk,
                    format!("replace the specified {kind}"),
                    format!("replace{ids}{scope}{kind}"),
                    &object,
                ),
            );
        }
        paths.insert(format!("{base}/{{name}}"), Value::Object(item));
    }

    fn patch_op(&self, gvk: &Gvk, description: String, id: String, object: &Value) -> Value {
        Op {
            description,
            id,
            params: queries(PATCH_PARAMS),
            body: Some(content(PATCH_TYPES, &reference(&self.patch))),
            responses: responses(&[("200", "OK"), ("201", "Created")], RESPONSE_TYPES, object),
            tag: self.tag,
            action: "patch",
            gvk: Some(gvk),
        }
        .into_json()
    }

    fn put_op(&self, gvk: &Gvk, description: String, id: String, object: &Value) -> Value {
        Op {
            description,
            id,
            params: queries(WRITE_PARAMS),
            body: Some(content(&["*/*"], object)),
            responses: responses(&[("200", "OK"), ("201", "Created")], RESPONSE_TYPES, object),
            tag: self.tag,
            action: "put",
            gvk: Some(gvk),
        }
        .into_json()
    }

    fn subresource(
        &self,
        paths: &mut Map<String, Value>,
        schemas: &mut Schemas,
        r: &Resource,
        sub: &Subresource,
    ) {
        let gvk = Gvk::new(sub.group, sub.version, sub.kind);
        let kind = r.kind;
        let ids = self.ids;
        let scope = if r.namespaced { "Namespaced" } else { "" };
        let subname = capitalize(sub.name);
        let path = if r.namespaced {
            format!(
                "{}/namespaces/{{namespace}}/{}/{{name}}/{}",
                self.prefix, r.plural, sub.name
            )
        } else {
            format!("{}/{}/{{name}}/{}", self.prefix, r.plural, sub.name)
        };
        let mut item = Map::new();
        let mut params = vec![path_param(
            "name",
            &format!("name of the {}", sub_object_name(sub, kind)),
        )];
        if r.namespaced {
            params.push(path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }

        // `None` for the kinds of streaming subresources (`PodExecOptions`, ...), which have no schema.
        let sub_schema = schemas.kind(sub.group, sub.version, sub.kind);
        match (sub.name, sub_schema) {
            ("log", _) => {
                let text = json!({ "type": "string" });
                let mut log_params = queries(LOG_PARAMS);
                log_params.extend(params);
                log_params.push(query("pretty"));
                item.insert(
                    "get".into(),
                    Op {
                        description: format!("read log of the specified {kind}"),
                        id: format!("read{ids}{scope}{kind}Log"),
                        params: vec![],
                        body: None,
                        responses: responses(
                            &[("200", "OK")],
                            &[
                                "text/plain",
                                "application/json",
                                "application/yaml",
                                "application/vnd.kubernetes.protobuf",
                            ],
                            &text,
                        ),
                        tag: self.tag,
                        action: "get",
                        gvk: Some(&gvk),
                    }
                    .into_json(),
                );
                item.insert("parameters".into(), Value::Array(log_params));
            }
            (_, Some(schema)) => {
                let object = reference(&schema);
                for verb in sub.verbs {
                    let (method, value) = match *verb {
                        "get" => (
                            "get",
                            Op {
                                description: format!("read {} of the specified {kind}", sub.name),
                                id: format!("read{ids}{scope}{kind}{subname}"),
                                params: vec![],
                                body: None,
                                responses: responses(&[("200", "OK")], RESPONSE_TYPES, &object),
                                tag: self.tag,
                                action: "get",
                                gvk: Some(&gvk),
                            }
                            .into_json(),
                        ),
                        "update" => (
                            "put",
                            self.put_op(
                                &gvk,
                                format!("replace {} of the specified {kind}", sub.name),
                                format!("replace{ids}{scope}{kind}{subname}"),
                                &object,
                            ),
                        ),
                        "patch" => (
                            "patch",
                            self.patch_op(
                                &gvk,
                                format!("partially update {} of the specified {kind}", sub.name),
                                format!("patch{ids}{scope}{kind}{subname}"),
                                &object,
                            ),
                        ),
                        "create" => (
                            "post",
                            Op {
                                description: format!("create {} of a {kind}", sub.name),
                                id: format!("create{ids}{scope}{kind}{subname}"),
                                params: queries(WRITE_PARAMS),
                                body: Some(content(&["*/*"], &object)),
                                responses: responses(
                                    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                                    RESPONSE_TYPES,
                                    &object,
                                ),
                                tag: self.tag,
                                action: "post",
                                gvk: Some(&gvk),
                            }
                            .into_json(),
                        ),
                        _ => continue,
                    };
                    item.insert(method.into(), value);
                }
                params.push(query("pretty"));
                item.insert("parameters".into(), Value::Array(params));
            }
            // exec, attach, portforward, proxy: streaming "connect" operations.
            (_, None) => {
                let text = json!({ "type": "string" });
                for verb in sub.verbs {
                    let (method, verb_name) = match *verb {
                        "get" => ("get", "Get"),
                        "create" => ("post", "Post"),
                        _ => continue,
                    };
                    let op = Op {
                        description: format!(
                            "connect {verb_name} requests to {} of {kind}",
                            sub.name
                        ),
                        id: format!("connect{ids}{verb_name}{scope}{kind}{subname}"),
                        params: vec![],
                        body: None,
                        responses: responses(&[("200", "OK")], &["*/*"], &text),
                        tag: self.tag,
                        action: "connect",
                        gvk: Some(&gvk),
                    };
                    item.insert(method.into(), op.into_json());
                }
                item.insert("parameters".into(), Value::Array(params));
            }
        }
        if item.keys().any(|k| k != "parameters") {
            paths.insert(path, Value::Object(item));
        }
    }
}

/// What the `name` path parameter of a subresource names: `Scale`, `Binding`, or the parent kind.
fn sub_object_name<'a>(sub: &'a Subresource, kind: &'a str) -> &'a str {
    match sub.kind {
        "Scale" | "Binding" | "Eviction" => sub.kind,
        _ => kind,
    }
}
