//! Skiff's node agent: the kubelet.
//!
//! It watches the pods bound to its node, pulls their images, runs their containers with runc and
//! reports their status, speaking to the API server like any client. One module per concept
//! (see `ARCHITECTURE.md`):
//!
//! - [`agent`]: the whole agent (`skiff agent`): opens everything below and runs it;
//! - [`node`]: Node registration, status and the Lease heartbeat;
//! - [`podmanager`] and [`pod_worker`]: the watch on this node's pods and one worker per pod
//!   (sandbox, init and app containers, restarts with back-off, graceful termination);
//! - [`admission`]: node-level admission (`OutOfcpu`, `OutOfmemory`, `OutOfpods`, `NodeAffinity`);
//! - [`container`]: a container's argv, environment and user from its pod and image;
//! - [`volumes`]: emptyDir, hostPath, configMap and secret volumes;
//! - [`status`] and [`events`]: what the pod's status and events say, as upstream;
//! - [`state`]: what the agent records on disk to adopt and clean up after a restart;
//! - [`image`]: the node's image store (pulls, blobs, layers, overlay root filesystems);
//! - [`network`]: network namespaces, CNI, and the pod's hosts/resolv.conf/hostname files;
//! - [`runtime`]: runc behind `trait Runtime`, the per-container shim, CRI-format logs;
//! - [`server`]: the log endpoint the API server proxies `kubectl logs` to.

pub mod admission;
pub mod agent;
pub mod container;
pub mod events;
pub mod image;
pub mod network;
pub mod node;
pub mod pod_worker;
pub mod podmanager;
pub mod runtime;
pub mod server;
pub mod state;
pub mod status;
pub mod volumes;
