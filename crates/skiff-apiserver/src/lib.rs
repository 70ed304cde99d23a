//! Skiff's Kubernetes API server.
//!
//! Serves the Kubernetes REST API that the real kubectl, client-go, kube-rs and the Python client use:
//! discovery, OpenAPI, CRUD, patch, watch and the subresources of the resources in
//! [`skiff_api::resources::RESOURCES`], on top of a [`skiff_store::Store`]. Steps 1-3 of a pod's path: a
//! request arrives ([`server`]), is decoded, defaulted, validated and stored ([`registry`]), and every
//! watcher hears of it ([`watchcache`], [`watch`]).

mod apply;
pub mod auth;
pub mod authz;
mod binding;
mod body;
mod bootstrap;
mod controllers;
mod convert;
mod credentials;
mod decode;
mod discovery;
mod handlers;
use skiff_api::jsonscan;
mod metrics;
mod negotiation;
mod podlogs;
pub mod registry;
mod request;
mod server;
mod services;
mod strategy;
mod watch;
pub mod watchcache;

pub use auth::{IssuedNodeCredentials, NodeCredentialIssuer, Security, User};
pub use body::Body as ResponseBody;
pub use server::{serve_local, start, Config, RequestBody, Running};

/// What every request handler shares.
pub struct State {
    pub registry: registry::Registry,
    pub metrics: metrics::Metrics,
    /// The address the server listens on, for legacy discovery's `serverAddressByClientCIDRs`.
    pub address: String,
    /// TLS, authentication and the kubelet client; `None` serves plain HTTP where every request is
    /// `system:admin` (`skiff server --plain-http`, loopback only).
    pub security: Option<std::sync::Arc<auth::Security>>,
}

/// The Kubernetes version Skiff serves (the API types are k8s-openapi's `v1_32`); kubectl's dispatcher
/// picks its binary by this minor version.
pub const KUBERNETES_VERSION: (&str, &str, &str) = ("1", "32", "v1.32.0");
