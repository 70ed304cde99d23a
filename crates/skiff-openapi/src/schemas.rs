//! `components.schemas`: the schemas of the served kinds and of everything they reference, generated
//! from the `k8s-openapi` types by `schemars`, then brought to the shape kube-apiserver serves.
//!
//! What the generator gives as is: upstream schema names (`io.k8s.api.core.v1.PodSpec`), descriptions,
//! `type`/`format`, `required`, `Time` as a `date-time` string, the `x-kubernetes-int-or-string` marker
//! on `IntOrString` and `Quantity`. What this module adds or changes:
//! - `$ref` with a sibling `description` becomes `allOf: [{$ref}]` beside it, as upstream v3 writes it
//!   (schemars' `RemoveRefSiblings` transform);
//! - `x-kubernetes-group-version-kind` on the kinds, their lists, and the meta kinds (`Status`, `DeleteOptions`);
//! - the `<Kind>List` schemas (`k8s_openapi::List<T>` has no schema of its own);
//! - `metadata` dropped from `required` where `k8s-openapi` adds it only because its Rust field is not
//!   optional (upstream requires it on `core/v1` `Event` alone);
//! - `IntOrString` and `Quantity` carry upstream's `oneOf` alternatives;
//! - the list and map extensions of [`crate::extensions`].

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v1 as autoscaling, coordination::v1 as coordination,
    core::v1 as core, events::v1 as events, policy::v1 as policy, scheduling::v1 as scheduling,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use schemars::transform::RemoveRefSiblings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::extensions;

/// Where the schemas live in the document, and so the prefix of every `$ref`.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";

/// A group/version/kind, as the `x-kubernetes-group-version-kind` extension spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub(crate) fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// Upstream writes the keys in sorted order: group, kind, version.
    pub(crate) fn to_json(&self) -> Value {
        json!({ "group": self.group, "kind": self.kind, "version": self.version })
    }
}

/// A kind `k8s-openapi` has a type (and so a schema) for.
struct KnownKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    register: fn(&mut SchemaGenerator) -> String,
}

fn known<T: k8s_openapi::Resource + JsonSchema>() -> KnownKind {
    KnownKind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        register: |generator| {
            generator.subschema_for::<T>();
            T::schema_name().into_owned()
        },
    }
}

/// Every kind that a served resource or subresource can answer with. The group, version and kind come
/// from the type itself, so this table cannot misspell them; a resource added to
/// `skiff_api::resources::RESOURCES` needs its type here (a test checks that each one has it).
fn known_kinds() -> [KnownKind; 16] {
    [
        known::<core::Pod>(),
        known::<core::Namespace>(),
        known::<core::Node>(),
        known::<core::Event>(),
        known::<core::ConfigMap>(),
        known::<core::Secret>(),
        known::<core::ServiceAccount>(),
        known::<core::Service>(),
        known::<core::Binding>(),
        known::<apps::Deployment>(),
        known::<apps::ReplicaSet>(),
        known::<autoscaling::Scale>(),
        known::<coordination::Lease>(),
        known::<events::Event>(),
        known::<scheduling::PriorityClass>(),
        known::<policy::Eviction>(),
    ]
}

/// Whether `k8s-openapi` has a schema for this kind.
#[cfg(test)]
pub(crate) fn is_known(group: &str, version: &str, kind: &str) -> bool {
    known_kinds()
        .iter()
        .any(|k| k.group == group && k.version == version && k.kind == kind)
}

/// Schemas whose `required` list upstream does include `metadata`.
const METADATA_REQUIRED: &[&str] = &["io.k8s.api.core.v1.Event"];

/// The schemas of one group/version document, collected while its paths are built.
pub(crate) struct Schemas {
    generator: SchemaGenerator,
    /// Schema name → the GVKs it is the schema of.
    gvks: BTreeMap<String, Vec<Gvk>>,
}

impl Schemas {
    pub(crate) fn new() -> Self {
        let settings = SchemaSettings::openapi3().with(|s| {
            s.meta_schema = None;
            s.transforms = vec![Box::new(RemoveRefSiblings::default())];
        });
        Schemas {
            generator: settings.into_generator(),
            gvks: BTreeMap::new(),
        }
    }

    /// Registers the schema of a kind (and everything it references); returns its name, or `None` when
    /// `k8s-openapi` has no type for the kind.
    pub(crate) fn kind(&mut self, group: &str, version: &str, kind: &str) -> Option<String> {
        let known = known_kinds()
            .into_iter()
            .find(|k| k.group == group && k.version == version && k.kind == kind)?;
        let name = (known.register)(&mut self.generator);
        self.tag(&name, Gvk::new(group, version, kind));
        Some(name)
    }

    /// Registers `<Kind>List` for a kind registered with [`Schemas::kind`]; returns its name.
    pub(crate) fn list(&mut self, item: &str, group: &str, version: &str, kind: &str) -> String {
        let name = format!("{item}List");
        if !self.generator.definitions().contains_key(&name) {
            let list_meta = self.meta::<meta::ListMeta>();
            let item_props = self
                .generator
                .definitions()
                .get(item)
                .and_then(|s| s.get("properties"));
            let api_version = item_props
                .and_then(|p| p.get("apiVersion"))
                .cloned()
                .unwrap_or(json!({"type": "string"}));
            let kind_prop = item_props
                .and_then(|p| p.get("kind"))
                .cloned()
                .unwrap_or(json!({"type": "string"}));
            let schema = json!({
                "description": format!("{kind}List is a list of {kind} objects."),
                "type": "object",
                "properties": {
                    "apiVersion": api_version,
                    "items": {
                        "description": format!("List of {kind} objects."),
                        "type": "array",
                        "items": { "$ref": format!("{REF_PREFIX}{item}") },
                    },
                    "kind": kind_prop,
                    "metadata": {
                        "$ref": format!("{REF_PREFIX}{list_meta}"),
                        "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                    },
                },
                "required": ["items"],
            });
            self.generator
                .definitions_mut()
                .insert(name.clone(), schema);
        }
        self.tag(&name, Gvk::new(group, version, &format!("{kind}List")));
        name
    }

    /// Registers a schema that is not a served kind (`Status`, `DeleteOptions`, `Patch`, ...); returns its name.
    pub(crate) fn meta<T: JsonSchema>(&mut self) -> String {
        self.generator.subschema_for::<T>();
        T::schema_name().into_owned()
    }

    /// Records that the named schema is the schema of this GVK.
    pub(crate) fn tag(&mut self, name: &str, gvk: Gvk) {
        let gvks = self.gvks.entry(name.to_string()).or_default();
        if !gvks.contains(&gvk) {
            gvks.push(gvk);
        }
    }

    /// The finished `components.schemas`, sorted by name as upstream serves them.
    pub(crate) fn finish(mut self) -> Map<String, Value> {
        let definitions = self.generator.take_definitions(true);
        let mut sorted: BTreeMap<String, Value> = definitions.into_iter().collect();
        for (name, schema) in &mut sorted {
            let Some(object) = schema.as_object_mut() else {
                continue;
            };
            if let Some(gvks) = self.gvks.get(name) {
                if !METADATA_REQUIRED.contains(&name.as_str()) {
                    drop_required(object, "metadata");
                }
                let mut gvks = gvks.clone();
                gvks.sort();
                object.insert(
                    "x-kubernetes-group-version-kind".into(),
                    Value::Array(gvks.iter().map(Gvk::to_json).collect()),
                );
            }
            upstream_shape(name, object);
            extensions::apply(name, object);
        }
        sorted.into_iter().collect()
    }
}

fn drop_required(object: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(required)) = object.get_mut("required") {
        required.retain(|r| r != field);
        if required.is_empty() {
            object.remove("required");
        }
    }
}

/// The scalar schemas whose upstream shape differs from what `k8s-openapi` generates.
fn upstream_shape(name: &str, object: &mut Map<String, Value>) {
    match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            object.insert("format".into(), "int-or-string".into());
            object.insert(
                "oneOf".into(),
                json!([{ "type": "integer" }, { "type": "string" }]),
            );
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            object.insert(
                "oneOf".into(),
                json!([{ "type": "string" }, { "type": "number" }]),
            );
        }
        _ => {}
    }
}

/// A `$ref` to a named schema.
pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}
