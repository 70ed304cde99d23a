//! Skiff's node agent: the kubelet.
//!
//! It watches the pods bound to its node, pulls their images, runs their containers and reports
//! their status, speaking to the API server like any client. This crate grows one module per
//! concept (see `ARCHITECTURE.md`): so far [`image`], the node's image store (pulls, the
//! content-addressed blob store, layer unpacking, overlay root filesystems).

pub mod image;
pub mod network;
pub mod runtime;
