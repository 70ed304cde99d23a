//! Server-side apply (`PATCH` with `application/apply-patch+yaml`).
//!
//! Creates the object when it does not exist; otherwise merges the applied configuration into the live
//! object and records the manager's ownership with operation `Apply`.

use crate::convert;
use crate::handlers::{object_reply, Call, Reply};
use crate::registry::{meta_str, WriteOptions};
use serde_json::Value;
use skiff_api::resources::Resource;
use skiff_api::ApiError;

pub async fn serve(
    call: &Call<'_>,
    r: &'static Resource,
    name: &str,
    sub: Option<&str>,
    applied: Value,
    _force: bool,
    opts: &WriteOptions,
) -> Result<Reply, ApiError> {
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the applied configuration must be an object",
        ));
    }
    let body_name = meta_str(&applied, "name");
    if body_name.is_empty() {
        return Err(ApiError::bad_request(
            "metadata.name: Required value: name is required for apply",
        ));
    }
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let storage_res = convert::storage_resource(r);
    let reg = &call.state.registry;
    let mut created = false;
    let w = match reg
        .get(storage_res, call.req.namespace.as_deref(), name)
        .await
    {
        Err(e) if e.code == 404 && sub.is_none() => {
            created = true;
            let (res, obj, _) = convert::for_storage(r, applied.clone(), opts.field_validation)?;
            let mut o = opts.clone();
            o.field_manager = opts.field_manager.clone();
            reg.create(res, call.req.namespace.as_deref(), obj, &o)
                .await?
        }
        Err(e) => return Err(e),
        Ok(_) => {
            let fv = opts.field_validation;
            reg.update_with(
                storage_res,
                call.req.namespace.as_deref(),
                name,
                sub,
                opts,
                "Apply",
                |old| {
                    let Some(old) = old else {
                        return Err(ApiError::not_found(r.group, r.plural, name));
                    };
                    let external = convert::for_output(r, old.clone());
                    let ty = skiff_api::patch::schema::root_type(r.group, r.kind);
                    let merged = skiff_api::patch::strategic::apply(&external, &applied, ty)
                        .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
                    let (_, obj, _) = convert::for_storage(r, merged, fv)?;
                    Ok(obj)
                },
            )
            .await?
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
