//! Request handling: from a parsed request to a response, for every verb on every resource.

use crate::binding::BindingBody;
use crate::body::Body;
use crate::decode::{self, FieldValidation};
use crate::negotiation::{self, BodyType, Output, PatchType};
use crate::registry::{meta_str, DeleteOptions, Registry, WriteOptions, Written};
use crate::request::{Query, ResourceRequest};
use crate::watchcache::CachedObject;
use crate::{convert, jsonscan, watch, State};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Method, Response};
use serde_json::{json, Value};
use skiff_api::fields::FieldSelector;
use skiff_api::labels::LabelSelector;
use skiff_api::resources::Resource;
use skiff_api::{table, ApiError};
use std::sync::Arc;

pub type Reply = Response<Body>;

/// A JSON response.
pub fn json_bytes(code: u16, body: Bytes, content_type: &str) -> Reply {
    Response::builder()
        .status(code)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-cache, private")
        .body(Body::full(body))
        .expect("valid response")
}

pub fn error_reply(e: &ApiError) -> Reply {
    json_bytes(e.code, Bytes::from(e.to_body()), "application/json")
}

/// Encodes a value in the representation the client asked for.
pub fn object_reply(
    code: u16,
    obj: &Value,
    output: Output,
    resource: &Resource,
    warnings: &[String],
) -> Reply {
    let (body, ct) = match output {
        Output::Yaml => (
            Bytes::from(serde_yaml::to_string(obj).unwrap_or_default()),
            "application/yaml",
        ),
        Output::Table => {
            let rv = meta_str(obj, "resourceVersion").to_string();
            let t = table::table(
                resource.group,
                resource.kind,
                [obj],
                &rv,
                None,
                table::IncludeObject::Metadata,
                chrono::Utc::now(),
            );
            (
                Bytes::from(serde_json::to_vec(&t).unwrap_or_default()),
                "application/json",
            )
        }
        Output::PartialObjectMetadata | Output::PartialObjectMetadataList => (
            Bytes::from(
                serde_json::to_vec(&table::partial_object_metadata(obj)).unwrap_or_default(),
            ),
            "application/json",
        ),
        Output::Json => (
            Bytes::from(serde_json::to_vec(obj).unwrap_or_default()),
            "application/json",
        ),
    };
    let mut r = json_bytes(code, body, ct);
    add_warnings(r.headers_mut(), warnings);
    r
}

fn add_warnings(h: &mut HeaderMap, warnings: &[String]) {
    for w in warnings {
        let v = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            h.append("Warning", v);
        }
    }
}

/// The request as the resource handlers see it.
pub struct Call<'a> {
    pub state: &'a Arc<State>,
    pub method: &'a Method,
    pub req: ResourceRequest,
    pub query: Query,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

impl Call<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn registry(&self) -> &Registry {
        &self.state.registry
    }
    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let dry_run = match self.query.get("dryRun") {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value: {other:?}: supported values: \"All\""
                )))
            }
        };
        let field_manager = match self.query.non_empty("fieldManager") {
            Some(m) if m.len() > 128 => {
                return Err(ApiError::bad_request(
                    "fieldManager: Too long: may not be more than 128 bytes",
                ))
            }
            Some(m) => m.to_string(),
            None => {
                // Upstream derives a manager from the user agent's program name.
                let ua = self.header("user-agent").unwrap_or("");
                ua.split('/')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(128)
                    .collect()
            }
        };
        Ok(WriteOptions {
            dry_run,
            field_validation: FieldValidation::parse(self.query.get("fieldValidation"))?,
            field_manager,
            applied: false,
        })
    }
    pub fn output(&self) -> Result<Output, ApiError> {
        negotiation::output(self.header("accept"))
    }
    fn namespace(&self) -> Option<&str> {
        self.req.namespace.as_deref()
    }
}

fn verb_allowed(resource: &Resource, verb: &str) -> Result<(), ApiError> {
    if resource.has_verb(verb) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({verb} {})",
            resource.plural
        )))
    }
}

/// The upstream verb name for metrics.
pub fn metric_verb(method: &Method, req: &ResourceRequest, query: &Query) -> &'static str {
    let watching = req.legacy_watch || query.flag("watch").unwrap_or(false);
    match *method {
        Method::GET if req.name.is_none() && watching => "WATCH",
        Method::GET if req.name.is_none() => "LIST",
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE if req.name.is_none() => "DELETECOLLECTION",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// Handles a request on a resource.
///
/// Each verb's future is boxed: inline, the largest of them (several KiB) would size the future of
/// every request, and a request's future is moved (copied) a few times before it first runs.
pub async fn resource(call: Call<'_>) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let sub = call.req.subresource.clone();
    if let Some(s) = &sub {
        if r.subresource(s).is_none() {
            return Err(ApiError::not_found(
                r.group,
                &format!("{}/{s}", r.plural),
                call.req.name.as_deref().unwrap_or(""),
            ));
        }
    }
    match (call.method.clone(), call.req.name.clone(), sub.as_deref()) {
        (Method::GET, None, None) => {
            if call.req.legacy_watch || call.query.flag("watch")? {
                verb_allowed(r, "watch")?;
                Box::pin(watch::serve(&call)).await
            } else {
                verb_allowed(r, "list")?;
                Box::pin(list(&call)).await
            }
        }
        (Method::GET, Some(name), None | Some("status")) => {
            verb_allowed(r, "get")?;
            let obj = call.registry().get(r, call.namespace(), &name).await?;
            Ok(object_reply(
                200,
                &convert::for_output(r, obj),
                call.output()?,
                r,
                &[],
            ))
        }
        (Method::GET, Some(name), Some("scale")) => {
            let obj = call.registry().get(r, call.namespace(), &name).await?;
            Ok(object_reply(
                200,
                &convert::scale_of(&obj),
                Output::Json,
                r,
                &[],
            ))
        }
        (Method::GET, Some(name), Some("log")) => {
            Box::pin(crate::podlogs::serve(&call, &name)).await
        }
        (Method::POST, None, None) => {
            verb_allowed(r, "create")?;
            Box::pin(create(&call)).await
        }
        (Method::POST, Some(name), Some("binding")) => Box::pin(bind(&call, &name)).await,
        (Method::PUT, Some(name), None | Some("status") | Some("finalize")) => {
            verb_allowed(r, "update")?;
            Box::pin(update(&call, &name)).await
        }
        (Method::PUT | Method::PATCH, Some(name), Some("scale")) => {
            Box::pin(scale(&call, &name)).await
        }
        (Method::PATCH, Some(name), None | Some("status")) => {
            verb_allowed(r, "patch")?;
            Box::pin(patch(&call, &name)).await
        }
        (Method::DELETE, Some(name), None) => {
            verb_allowed(r, "delete")?;
            Box::pin(delete(&call, &name)).await
        }
        (Method::DELETE, None, None) => {
            verb_allowed(r, "deletecollection")?;
            Box::pin(delete_collection(&call)).await
        }
        (m, _, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m} {})",
            r.plural
        ))),
    }
}

/// Label and field selectors of a list or watch, checked against what the resource supports.
pub struct Selectors {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Selectors {
    pub fn parse(resource: &Resource, q: &Query) -> Result<Selectors, ApiError> {
        let labels =
            match q.non_empty("labelSelector") {
                Some(s) => Some(LabelSelector::parse(s).map_err(|e| {
                    ApiError::bad_request(format!("unable to parse requirement: {e}"))
                })?),
                None => None,
            };
        let fields = match q.non_empty("fieldSelector") {
            Some(s) => {
                let f = FieldSelector::parse(s).map_err(ApiError::bad_request)?;
                let supported = crate::watchcache::selectable_fields(resource);
                for req in f.requirements() {
                    let field = req.field.as_str();
                    if field != "metadata.name"
                        && field != "metadata.namespace"
                        && !supported.contains(&field)
                    {
                        return Err(ApiError::bad_request(format!(
                            "field label not supported: {field}"
                        )));
                    }
                }
                Some(f)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    pub fn matches(&self, o: &CachedObject) -> bool {
        self.labels.as_ref().is_none_or(|l| l.matches(&o.labels))
            && self
                .fields
                .as_ref()
                .is_none_or(|f| f.matches(|name| o.field(name)))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let output = call.output()?;
    let sel = Selectors::parse(r, &call.query)?;
    let limit = call
        .query
        .int("limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let start_after = match call.query.non_empty("continue") {
        Some(tok) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(tok)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(tok))
                .map_err(|_| {
                    ApiError::bad_request("continue key is not valid: illegal base64 data")
                })?;
            let t: ContinueToken = serde_json::from_slice(&raw)
                .map_err(|_| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
            Some(t.start)
        }
        None => None,
    };
    let rv_param = if start_after.is_some() {
        Some("0")
    } else {
        call.query.get("resourceVersion")
    };
    let (objs, rev) = call
        .registry()
        .list(r, call.namespace(), rv_param, start_after.as_deref())
        .await?;
    let mut items: Vec<&Arc<CachedObject>> = objs.iter().filter(|o| sel.matches(o)).collect();
    let mut cont = None;
    if let Some(limit) = limit {
        if items.len() > limit {
            items.truncate(limit);
            let last = items.last().map(|o| o.key.clone()).unwrap_or_default();
            let tok = ContinueToken {
                v: "meta.k8s.io/v1".into(),
                rv: rev,
                start: last,
            };
            cont = Some(
                base64::engine::general_purpose::STANDARD
                    .encode(serde_json::to_vec(&tok).unwrap_or_default()),
            );
        }
    }
    let rv = rev.to_string();
    let body = match output {
        Output::Table => {
            let values: Vec<Value> = items
                .iter()
                .map(|o| convert::for_output(r, o.value()))
                .collect();
            let refs: Vec<&Value> = values.iter().collect();
            let include = match call.query.get("includeObject") {
                Some("None") => table::IncludeObject::None,
                Some("Object") => table::IncludeObject::Object,
                _ => table::IncludeObject::Metadata,
            };
            let t = table::table(
                r.group,
                r.kind,
                refs.iter().copied(),
                &rv,
                cont.as_deref(),
                include,
                chrono::Utc::now(),
            );
            Bytes::from(serde_json::to_vec(&t).unwrap_or_default())
        }
        Output::PartialObjectMetadata | Output::PartialObjectMetadataList => {
            let items: Vec<Value> = items
                .iter()
                .map(|o| table::partial_object_metadata(&o.value()))
                .collect();
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = &cont {
                meta["continue"] = json!(c);
            }
            let v = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items});
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        Output::Yaml => {
            let items: Vec<Value> = items
                .iter()
                .map(|o| convert::for_output(r, o.value()))
                .collect();
            let v = list_value(r, &rv, cont.as_deref(), items);
            Bytes::from(serde_yaml::to_string(&v).unwrap_or_default())
        }
        Output::Json if convert::needs_conversion(r) => {
            let items: Vec<Value> = items
                .iter()
                .map(|o| convert::for_output(r, o.value()))
                .collect();
            Bytes::from(
                serde_json::to_vec(&list_value(r, &rv, cont.as_deref(), items)).unwrap_or_default(),
            )
        }
        Output::Json => {
            // Splice the cached encodings: no object is decoded or encoded again.
            let size: usize = items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 256;
            let mut b = BytesMut::with_capacity(size);
            b.put_slice(format!("{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rv}\"", r.list_kind(), r.api_version()).as_bytes());
            if let Some(c) = &cont {
                b.put_slice(format!(",\"continue\":\"{c}\"").as_bytes());
            }
            b.put_slice(b"},\"items\":[");
            for (i, o) in items.iter().enumerate() {
                if i > 0 {
                    b.put_u8(b',');
                }
                b.put_slice(&o.json);
            }
            b.put_slice(b"]}");
            b.freeze()
        }
    };
    let ct = if output == Output::Yaml {
        "application/yaml"
    } else {
        "application/json"
    };
    Ok(json_bytes(200, body, ct))
}

fn list_value(r: &Resource, rv: &str, cont: Option<&str>, items: Vec<Value>) -> Value {
    let mut meta = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": r.list_kind(), "apiVersion": r.api_version(), "metadata": meta, "items": items})
}

/// Decodes the body of a create or update.
fn body_object(call: &Call<'_>) -> Result<Value, ApiError> {
    let bt = negotiation::body_type(call.header("content-type"))?;
    decode::body_to_value(&call.body, bt)
}

async fn create(call: &Call<'_>) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let mut opts = call.write_options()?;
    let bt = negotiation::body_type(call.header("content-type"))?;
    let fast = if bt == BodyType::Json && !convert::needs_conversion(r) {
        call.registry()
            .create_from_json(r, call.namespace(), &call.body, &opts)
            .await?
    } else {
        None
    };
    let (storage_res, mut created, extra_warnings) = match fast {
        Some(created) => (r, created, Vec::new()),
        None => {
            let obj = decode::body_to_value(&call.body, bt)?;
            let (storage_res, obj, extra_warnings) =
                convert::for_storage(r, obj, opts.field_validation)?;
            if !std::ptr::eq(storage_res, r) {
                // The conversion checked the fields sent and its output has only known fields.
                opts.field_validation = FieldValidation::Ignore;
            }
            let created = call
                .registry()
                .create_stored(storage_res, call.namespace(), obj, &opts)
                .await?;
            (storage_res, created, extra_warnings)
        }
    };
    let mut warnings = std::mem::take(&mut created.written.warnings);
    warnings.extend(extra_warnings);
    let code = if created.written.created { 201 } else { 200 };
    let output = call.output()?;
    if let Some(reply) = stored_reply(code, &created.written, storage_res, r, output, &warnings) {
        return Ok(reply);
    }
    let object = created.into_written().object;
    Ok(object_reply(
        code,
        &convert::for_output(r, object),
        output,
        r,
        &warnings,
    ))
}

/// A plain JSON reply to a write is the stored JSON with its resourceVersion, as a GET of it would
/// return: no second encoding of the object. `None` when the client asked for another form, the
/// object was stored in another version, or the write has no stored JSON.
fn stored_reply(
    code: u16,
    written: &Written,
    storage_res: &Resource,
    r: &Resource,
    output: Output,
    warnings: &[String],
) -> Option<Reply> {
    let stored = written.stored.as_ref()?;
    if output != Output::Json || !std::ptr::eq(storage_res, r) {
        return None;
    }
    let rv = meta_str(&written.object, "resourceVersion");
    let body = jsonscan::with_resource_version(stored, rv)?;
    let mut reply = json_bytes(code, Bytes::from(body), "application/json");
    add_warnings(reply.headers_mut(), warnings);
    Some(reply)
}

async fn update(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let opts = call.write_options()?;
    let obj = body_object(call)?;
    let (storage_res, obj, extra_warnings) = convert::for_storage(r, obj, opts.field_validation)?;
    let sub = call.req.subresource.as_deref().filter(|s| *s == "status");
    let finalize = call.req.subresource.as_deref() == Some("finalize");
    let mut w = call
        .registry()
        .update_with(storage_res, call.namespace(), name, sub, &opts, |old| {
            let mut new = obj.clone();
            if finalize {
                // namespaces/finalize changes only spec.finalizers.
                if let Some(old) = old {
                    let fins = new
                        .pointer("/spec/finalizers")
                        .cloned()
                        .unwrap_or(json!([]));
                    new = old.clone();
                    new["spec"]["finalizers"] = fins;
                }
            }
            Ok(new)
        })
        .await?;
    let mut warnings = std::mem::take(&mut w.warnings);
    warnings.extend(extra_warnings);
    let code = if w.created { 201 } else { 200 };
    let output = call.output()?;
    if let Some(reply) = stored_reply(code, &w, storage_res, r, output, &warnings) {
        return Ok(reply);
    }
    Ok(object_reply(
        code,
        &convert::for_output(r, w.object),
        output,
        r,
        &warnings,
    ))
}

/// Applies a patch document of the given type to an object.
pub fn apply_patch(
    r: &Resource,
    pt: PatchType,
    old: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    match pt {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal into Go value of type map[string]interface {}",
                ));
            }
            let mut v = old.clone();
            skiff_api::patch::merge::apply(&mut v, patch);
            Ok(v)
        }
        PatchType::Json => {
            if !patch.is_array() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
                ));
            }
            let mut v = old.clone();
            skiff_api::patch::json::apply(&mut v, patch).map_err(|e| e.to_api_error())?;
            Ok(v)
        }
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal into Go value of type map[string]interface {}",
                ));
            }
            let ty = skiff_api::patch::schema::root_type(r.group, r.kind);
            skiff_api::patch::strategic::apply(old, patch, ty).map_err(|e| e.to_api_error())
        }
        PatchType::Apply => unreachable!("apply patches are handled by server-side apply"),
    }
}

async fn patch(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let pt = negotiation::patch_type(call.header("content-type"))?;
    let opts = call.write_options()?;
    let patch: Value = if pt == PatchType::Apply {
        decode::yaml_to_value(&call.body)?
    } else {
        serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    let sub = call.req.subresource.as_deref().filter(|s| *s == "status");
    if pt == PatchType::Apply {
        if call.query.non_empty("fieldManager").is_none() {
            return Err(ApiError::bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"));
        }
        let force = call.query.flag("force")?;
        return crate::apply::serve(call, r, name, sub, patch, force, &opts).await;
    }
    // Patches apply to the object as the client's version presents it; the result is stored converted.
    let storage_res = convert::storage_resource(r);
    let fv = opts.field_validation;
    let mut warnings_out = Vec::new();
    let mut w = call
        .registry()
        .update_with(storage_res, call.namespace(), name, sub, &opts, |old| {
            let Some(old) = old else {
                return Err(ApiError::not_found(r.group, r.plural, name));
            };
            let external = convert::for_output(r, old.clone());
            let patched = apply_patch(r, pt, &external, &patch)?;
            let (_, obj, w) = convert::for_storage(r, patched, fv)?;
            warnings_out = w;
            Ok(obj)
        })
        .await?;
    let mut warnings = std::mem::take(&mut w.warnings);
    warnings.extend(warnings_out);
    let output = call.output()?;
    if let Some(reply) = stored_reply(200, &w, storage_res, r, output, &warnings) {
        return Ok(reply);
    }
    Ok(object_reply(
        200,
        &convert::for_output(r, w.object),
        output,
        r,
        &warnings,
    ))
}

/// Parses DeleteOptions from the body (kubectl) and the query (Python, curl).
fn delete_options(call: &Call<'_>) -> Result<DeleteOptions, ApiError> {
    let mut o = DeleteOptions::default();
    if !call.body.is_empty() {
        let v: Value = serde_json::from_slice(&call.body)
            .or_else(|_| decode::yaml_to_value(&call.body))
            .map_err(|_| ApiError::bad_request("invalid DeleteOptions body"))?;
        if !v.is_object() {
            return Err(ApiError::bad_request("DeleteOptions must be an object"));
        }
        o.grace_period_seconds = v.get("gracePeriodSeconds").and_then(Value::as_i64);
        o.propagation_policy = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.precondition_uid = v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.precondition_rv = v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(d) = v.get("dryRun").and_then(Value::as_array) {
            o.dry_run = d.iter().any(|x| x == "All");
        }
    }
    if let Some(g) = call.query.int("gracePeriodSeconds")? {
        o.grace_period_seconds = Some(g);
    }
    if let Some(p) = call.query.non_empty("propagationPolicy") {
        o.propagation_policy = Some(p.to_string());
    }
    if call.query.get("dryRun") == Some("All") {
        o.dry_run = true;
    }
    if let Some(p) = &o.propagation_policy {
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::invalid(
                "",
                "DeleteOptions",
                "",
                &[skiff_api::FieldError::not_supported(
                    &skiff_api::Path::new("propagationPolicy"),
                    p,
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            ));
        }
    }
    Ok(o)
}

async fn delete(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let opts = delete_options(call)?;
    let obj = call
        .registry()
        .delete(convert::storage_resource(r), call.namespace(), name, &opts)
        .await?;
    Ok(object_reply(
        200,
        &convert::for_output(r, obj),
        Output::Json,
        r,
        &[],
    ))
}

async fn delete_collection(call: &Call<'_>) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let opts = delete_options(call)?;
    let sel = Selectors::parse(r, &call.query)?;
    let (objs, rev) = call
        .registry()
        .list(r, call.namespace(), None, None)
        .await?;
    let mut deleted = Vec::new();
    for o in objs.iter().filter(|o| sel.matches(o)) {
        let ns = if r.namespaced {
            Some(o.namespace.as_str())
        } else {
            None
        };
        match call
            .registry()
            .delete(convert::storage_resource(r), ns, &o.name, &opts)
            .await
        {
            Ok(v) => deleted.push(convert::for_output(r, v)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let v = list_value(r, &rev.to_string(), None, deleted);
    Ok(object_reply(200, &v, Output::Json, r, &[]))
}

/// `POST pods/{name}/binding`: sets `spec.nodeName` once, and the PodScheduled condition.
pub async fn bind(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let json = negotiation::body_type(call.header("content-type"))? == BodyType::Json;
    let binding = match json.then(|| BindingBody::from_json(&call.body)).flatten() {
        Some(binding) => binding,
        None => BindingBody::from_value(&body_object(call)?),
    };
    if !binding.name.is_empty() && binding.name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            binding.name
        )));
    }
    do_bind(
        call.registry(),
        r,
        call.namespace(),
        name,
        &binding,
        &call.write_options()?,
    )
    .await
}

pub async fn do_bind(
    reg: &Registry,
    r: &'static Resource,
    namespace: Option<&str>,
    name: &str,
    binding: &BindingBody,
    opts: &WriteOptions,
) -> Result<Reply, ApiError> {
    let target = binding.target.as_str();
    if target.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            name,
            &[skiff_api::FieldError::required(
                &skiff_api::Path::new("target").child("name"),
                "",
            )],
        ));
    }
    let now = crate::registry::now();
    // Upstream's BindingREST writes the pod with a storage-level GuaranteedUpdate: no pod strategy,
    // admission, generation bump or managed fields entry for the binding.
    // The Binding's uid and resourceVersion are preconditions on the pod (upstream's assignPod).
    fn precondition(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !v.is_empty())
    }
    let assignment = crate::binding::Assignment {
        name,
        node: target,
        annotations: binding.annotations.as_ref(),
        want_uid: precondition(&binding.uid),
        want_rv: precondition(&binding.resource_version),
        now: &now,
    };
    reg.guaranteed_update(r, namespace, name, opts.dry_run, |raw, rev| {
        crate::binding::assign(raw, rev, &assignment)
    })
    .await?;
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(json_bytes(
        201,
        Bytes::from(serde_json::to_vec(&status).unwrap_or_default()),
        "application/json",
    ))
}

/// `deployments/{name}/scale` and `replicasets/{name}/scale`: an autoscaling/v1 Scale view of
/// `spec.replicas`.
async fn scale(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let mut opts = call.write_options()?;
    opts.field_validation = FieldValidation::Ignore;
    let method = call.method.clone();
    let body = call.body.clone();
    let ct = call.header("content-type").map(str::to_string);
    let w = call
        .registry()
        .update_with(r, call.namespace(), name, None, &opts, |old| {
            let Some(old) = old else {
                return Err(ApiError::not_found(r.group, r.plural, name));
            };
            let cur = convert::scale_of(old);
            let new_scale = if method == Method::PUT {
                let bt = negotiation::body_type(ct.as_deref())?;
                decode::body_to_value(&body, bt)?
            } else {
                let pt = negotiation::patch_type(ct.as_deref())?;
                let patch: Value = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                let scale_res = skiff_api::resources::Resource {
                    kind: "Scale",
                    group: "autoscaling",
                    ..*r
                };
                apply_patch(&scale_res, pt, &cur, &patch)?
            };
            let sent_rv = meta_str(&new_scale, "resourceVersion");
            if !sent_rv.is_empty() && sent_rv != meta_str(old, "resourceVersion") {
                return Err(ApiError::stale(r.group, r.plural, name));
            }
            let replicas = match new_scale.pointer("/spec/replicas") {
                None => 0,
                Some(v) => v
                    .as_i64()
                    .filter(|n| *n >= 0 && *n <= i32::MAX as i64)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "autoscaling",
                            "Scale",
                            name,
                            &[skiff_api::FieldError::invalid_raw(
                                &skiff_api::Path::new("spec").child("replicas"),
                                v,
                                "must be greater than or equal to 0",
                            )],
                        )
                    })?,
            };
            let mut new = old.clone();
            new["spec"]["replicas"] = json!(replicas);
            Ok(new)
        })
        .await?;
    Ok(object_reply(
        200,
        &convert::scale_of(&w.object),
        Output::Json,
        r,
        &w.warnings,
    ))
}
