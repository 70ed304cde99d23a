//! The OpenAPI v3 documents Skiff's API server serves: `GET /openapi/v3` (the index, [`root`]) and
//! `GET /openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>` (one document per group/version,
//! [`group_version`]).
//!
//! Clients need them for two things. kubectl's default `--validate=strict` looks in the group/version
//! document for the PATCH operation of the object's kind and, if it lists a `fieldValidation` parameter,
//! sends `fieldValidation=Strict` and leaves validation to the server; without the documents `create -f`
//! and `apply` fail with "failed to download openapi". `kubectl explain` renders `components.schemas`.
//!
//! # How the documents are made
//!
//! The paths come from the resource table (`skiff_api::resources::RESOURCES`), laid out the way
//! kube-apiserver's installer does (module `paths`). The schemas are generated, not written: the
//! `k8s-openapi` types implement `schemars::JsonSchema` (its `schemars` feature) with upstream's schema
//! names, descriptions, types, formats and required lists, so one `SchemaGenerator` per document collects
//! every schema reachable from the served kinds (module `schemas`). Generation keeps the documents
//! exactly in step with the types the server decodes into, for every nested type (`PodSpec` alone reaches
//! over a hundred), which no hand-written copy would stay. A few things the generator does not know
//! are added afterwards: the `x-kubernetes-group-version-kind` of each kind, the `<Kind>List` schemas,
//! upstream's `allOf` wrapping of described references, and the list/map extensions of the most patched
//! fields (module `extensions`).
//!
//! Every document is built once, on first use, and kept as encoded JSON: serving one is a clone of
//! [`bytes::Bytes`]. The index points at each document with `?hash=<SHA-512 of its bytes>` (uppercase hex,
//! as upstream), so clients may cache a document for as long as its URL stays the same.
//!
//! There is no `/openapi/v2`: kubectl falls back to it only when v3 is missing, and a 404 there is fine.

mod extensions;
mod paths;
mod schemas;

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};
use skiff_api::resources::{self, Resource};

/// The Kubernetes version the documents describe (the `k8s-openapi` feature the workspace pins).
pub const KUBERNETES_VERSION: &str = "v1.32.0";

/// One built group/version document.
struct Document {
    /// `api/v1`, `apis/apps/v1`: the path under `/openapi/v3/`.
    path: String,
    hash: String,
    body: Bytes,
}

struct Documents {
    documents: Vec<Document>,
    root: Bytes,
}

fn documents() -> &'static Documents {
    static DOCUMENTS: OnceLock<Documents> = OnceLock::new();
    DOCUMENTS.get_or_init(build_all)
}

/// The body of `GET /openapi/v3`: one entry per served group/version,
/// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}`.
pub fn root() -> Value {
    index(&documents().documents)
}

/// [`root`], encoded once.
pub fn root_bytes() -> Bytes {
    documents().root.clone()
}

/// The encoded document of one group/version, by its path under `/openapi/v3/`: `api/v1` or
/// `apis/apps/v1` (a leading `/` is ignored). `None` for a group/version Skiff does not serve.
pub fn group_version(path: &str) -> Option<Bytes> {
    let path = path.trim_start_matches('/');
    documents()
        .documents
        .iter()
        .find(|d| d.path == path)
        .map(|d| d.body.clone())
}

/// The content hash of one group/version document, as [`root`] puts it in the URL. A request whose
/// `hash` matches may be answered with `Cache-Control: public, immutable`, as kube-apiserver does.
pub fn group_version_hash(path: &str) -> Option<&'static str> {
    let path = path.trim_start_matches('/');
    documents()
        .documents
        .iter()
        .find(|d| d.path == path)
        .map(|d| d.hash.as_str())
}

fn build_all() -> Documents {
    let documents: Vec<Document> = resources::groups()
        .into_iter()
        .map(|(group, version)| {
            let body = Bytes::from(
                serde_json::to_vec(&build(group, version)).expect("a JSON value always encodes"),
            );
            let path = gv_path(group, version);
            Document {
                path,
                hash: hash(&body),
                body,
            }
        })
        .collect();
    let root =
        Bytes::from(serde_json::to_vec(&index(&documents)).expect("a JSON value always encodes"));
    Documents { documents, root }
}

fn index(documents: &[Document]) -> Value {
    let mut paths = Map::new();
    for doc in documents {
        let url = format!("/openapi/v3/{}?hash={}", doc.path, doc.hash);
        paths.insert(doc.path.clone(), json!({ "serverRelativeURL": url }));
    }
    json!({ "paths": paths })
}

/// `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    paths::gv_prefix(group, version)
        .trim_start_matches('/')
        .to_string()
}

/// Builds the document of one group/version.
fn build(group: &str, version: &str) -> Value {
    let resources: Vec<&Resource> = resources::in_group_version(group, version).collect();
    let mut schemas = schemas::Schemas::new();
    let mut paths = paths::build(group, version, &resources, &mut schemas);
    paths.sort_keys();
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": paths,
        "components": { "schemas": schemas.finish() },
    })
}

/// SHA-512 of the body in uppercase hex, as kube-apiserver computes its `hash` query parameter.
fn hash(body: &[u8]) -> String {
    Sha512::digest(body)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests;
