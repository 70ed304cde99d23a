//! Server-side apply (`PATCH` with `application/apply-patch+yaml`): the applied configuration is merged
//! into the live object by `skiff_api::managedfields::apply`, which tracks each manager's fields and
//! reports conflicts with other managers (409, unless `force=true`). A missing object is created.

use crate::convert;
use crate::handlers::{object_reply, Call, Reply};
use crate::registry::{meta_str, now, WriteOptions};
use serde_json::Value;
use skiff_api::managedfields;
use skiff_api::resources::Resource;
use skiff_api::ApiError;

pub async fn serve(
    call: &Call<'_>,
    r: &'static Resource,
    name: &str,
    sub: Option<&str>,
    applied: Value,
    force: bool,
    opts: &WriteOptions,
) -> Result<Reply, ApiError> {
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the applied configuration must be an object",
        ));
    }
    let body_name = meta_str(&applied, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let storage_res = convert::storage_resource(r);
    let reg = &call.state.registry;
    let ty = skiff_api::patch::schema::root_type(r.group, r.kind);
    let api_version = r.api_version();
    let manager = opts.field_manager.clone();
    let opts = WriteOptions {
        applied: true,
        ..opts.clone()
    };
    let ns = call.req.namespace.as_deref();
    let merge = |live: Option<&Value>| -> Result<Value, ApiError> {
        let mut out = managedfields::apply_to_subresource(
            live,
            &applied,
            &manager,
            force,
            &api_version,
            sub,
            ty,
            &now(),
        )
        .map_err(|e| e.to_api_error())?;
        if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("name".into(), Value::String(name.to_string()));
        }
        Ok(out)
    };
    let (w, created) = match reg.get(storage_res, ns, name).await {
        Err(e) if e.code == 404 && sub.is_none() => {
            let obj = merge(None)?;
            let (res, obj, _) = convert::for_storage(r, obj, opts.field_validation)?;
            (reg.create(res, ns, obj, &opts).await?, true)
        }
        Err(e) => return Err(e),
        Ok(_) => {
            let fv = opts.field_validation;
            let w = reg
                .update_with(storage_res, ns, name, sub, &opts, |old| {
                    let Some(old) = old else {
                        return Err(ApiError::not_found(r.group, r.plural, name));
                    };
                    let merged = merge(Some(&convert::for_output(r, old.clone())))?;
                    let (_, obj, _) = convert::for_storage(r, merged, fv)?;
                    Ok(obj)
                })
                .await?;
            (w, false)
        }
    };
    let code = if created { 201 } else { 200 };
    Ok(object_reply(
        code,
        &convert::for_output(r, w.object),
        call.output()?,
        r,
        &w.warnings,
    ))
}
