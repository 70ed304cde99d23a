//! Integration tests of the image store: unpacking (hostile layers, whiteouts), overlay root
//! filesystems, and pulls from a real local registry (Debian `docker-registry`) of images built
//! from Debian's `busybox-static`. Run as root, as CI does; missing prerequisites fail loudly.

mod import;
mod overlay;
mod pull;
mod support;
mod unpack;
