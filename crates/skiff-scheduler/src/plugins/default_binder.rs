//! `DefaultBinder` (Bind): creates the pod's `Binding` through a [`Binder`] the caller implements.
//!
//! The scheduling core does no I/O; the component around it supplies a `Binder` that POSTs the
//! `pods/<name>/binding` subresource (or, in tests, records the binding).

use crate::framework::{BindPlugin, Code, CycleState, Plugin, PodInfo, Status};
use k8s_openapi::api::core::v1::{Binding, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::sync::Arc;

/// Carries out a binding (`POST /api/v1/namespaces/<ns>/pods/<name>/binding`).
pub trait Binder: Send + Sync {
    /// Binds; an error message is reported as the Bind plugin's error.
    fn bind(&self, binding: &Binding) -> Result<(), String>;
}

/// The `Binding` object upstream's DefaultBinder sends.
pub fn binding_for(pod: &PodInfo, node_name: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            namespace: pod.pod.metadata.namespace.clone(),
            name: pod.pod.metadata.name.clone(),
            uid: pod.pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            kind: Some("Node".into()),
            name: Some(node_name.to_string()),
            ..Default::default()
        },
    }
}

/// Binds through the configured [`Binder`].
#[derive(Default)]
pub struct DefaultBinder {
    binder: Option<Arc<dyn Binder>>,
}

impl DefaultBinder {
    pub fn new(binder: Option<Arc<dyn Binder>>) -> Self {
        DefaultBinder { binder }
    }
}

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        super::names::DEFAULT_BINDER
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        Some(self)
    }
}

impl BindPlugin for DefaultBinder {
    fn bind(&self, _state: &mut CycleState, pod: &PodInfo, node_name: &str) -> Status {
        let Some(binder) = self.binder.as_ref() else {
            return Status::new(Code::Error, "no binder configured");
        };
        match binder.bind(&binding_for(pod, node_name)) {
            Ok(()) => Status::success(),
            Err(e) => Status::error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Binding>>);
    impl Binder for Recorder {
        fn bind(&self, b: &Binding) -> Result<(), String> {
            self.0.lock().unwrap().push(b.clone());
            Ok(())
        }
    }

    #[test]
    fn binds_through_binder() {
        let rec = Arc::new(Recorder::default());
        let b = DefaultBinder::new(Some(rec.clone()));
        let p = PodInfo::new(pod("p").uid("u1").build());
        assert!(b.bind(&mut CycleState::new(), &p, "n1").is_success());
        let got = rec.0.lock().unwrap();
        assert_eq!(got[0].target.name.as_deref(), Some("n1"));
        assert_eq!(got[0].target.kind.as_deref(), Some("Node"));
        assert_eq!(got[0].metadata.uid.as_deref(), Some("u1"));
        assert_eq!(
            DefaultBinder::default()
                .bind(&mut CycleState::new(), &p, "n1")
                .code(),
            Code::Error
        );
    }
}
