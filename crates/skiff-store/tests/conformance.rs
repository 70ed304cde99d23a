//! The conformance suite against both backends.

use skiff_store::{MemoryStore, SqliteStore, Store};
use std::sync::Arc;

mod memory {
    use super::*;

    skiff_store::conformance_tests!(|| async {
        (Arc::new(MemoryStore::new()) as Arc<dyn Store>, ())
    });
}

mod sqlite {
    use super::*;

    skiff_store::conformance_tests!(|| async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("store.db")).unwrap();
        (Arc::new(store) as Arc<dyn Store>, dir)
    });
}
