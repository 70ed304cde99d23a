//! Kubernetes API machinery for Skiff, with no I/O (the kube-core of this project).
//!
//! The API server, scheduler, kubelet and controllers share these pieces: the resource table, label and
//! field selectors, quantities, the patch engines (JSON merge, JSON patch, strategic merge, server-side
//! apply), defaulting and validation with field paths, server-side Tables, and `Status` errors.

pub mod defaults;
pub mod field;
pub mod fields;
pub mod jsonscan;
pub mod labels;
pub mod managedfields;
pub mod names;
pub mod patch;
pub mod quantity;
pub mod resources;
pub mod status;
pub mod table;
pub mod validation;

pub use field::{ErrorList, FieldError, Path};
pub use status::ApiError;
