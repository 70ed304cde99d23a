//! The kubelet's images: pulling from OCI registries, a content-addressed store shared by every
//! image on the node, layers unpacked once, and container root filesystems on overlayfs.
//!
//! # Why this shape
//!
//! - **Content-addressed.** Every blob (manifest, config, layer) is stored once under its digest,
//!   whatever number of images refer to it, and is written only after its digest was verified. Two
//!   tags of one image, or two images on the same base, share the bytes; an image pulled again
//!   costs one manifest request.
//! - **Unpacked once.** Each layer is unpacked once into its own directory named by its DiffID (the
//!   digest of the uncompressed tar, checked while unpacking). Containers never copy layers: their
//!   root filesystem is an overlay mount with the image's layer directories as read-only lower
//!   directories and a private upper directory ([`overlay`]).
//! - **Whiteouts in overlayfs form.** Because layers are overlay lower directories rather than being
//!   applied onto one tree, a layer's deletions must be expressed the way overlayfs reads them: OCI
//!   `.wh.name` files become 0/0 character devices and `.wh..wh..opq` becomes the
//!   `trusted.overlay.opaque` xattr ([`unpack`]).
//! - **Hostile input.** Registries are not trusted: digests are checked before they become paths,
//!   and no layer entry can write outside its directory ([`unpack`]).
//! - **Pulls that behave under load** ([`pull`]): one download per digest however many pods want it,
//!   layers in parallel, progress for events, stalled downloads resumed, errors with a kind.
//! - **No registry needed** ([`archive`], [`build`]): OCI and docker-archive tarballs are imported,
//!   and directories packed into images, into the same store, verified the same way.
//!
//! `oci-client` speaks the distribution protocol (auth challenges, manifests, blob streams with
//! ranges); the store, single-flight, stall handling and unpacking are ours.

pub mod archive;
pub mod auth;
pub mod build;
pub mod error;
pub mod overlay;
pub mod pull;
pub mod reference;
pub mod store;
pub mod unpack;

#[cfg(feature = "test-util")]
pub mod test_util;

pub use archive::{ImportError, ImportOptions, ImportedImage};
pub use auth::{parse_docker_config_json, Credentials};
pub use build::BuildOptions;
pub use error::{PullError, PullErrorKind, StoreError};
pub use pull::{ProgressFn, PullOptions, PullPolicy, PullProgress};
pub use reference::{ImageRef, InvalidReference};
pub use store::{
    ImageConfig, ImageRecord, ImageStore, LayerRecord, Platform, StoreConfig,
    MAX_NAMES_PER_IMAGE_IN_NODE_STATUS, NODE_STATUS_MAX_IMAGES,
};
