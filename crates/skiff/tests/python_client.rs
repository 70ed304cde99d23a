//! The official Python client (`kubernetes` from PyPI, installed by scripts/install-deps.sh into .venv)
//! against a real `skiff server`: create, read, list, patch, watch and delete without validation errors.

mod common;
use common::Server;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SKIFF_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "the Python client is not installed: run scripts/install-deps.sh (or set SKIFF_PYTHON)"
    );
    venv
}

#[test]
fn python_client_works_unchanged() {
    // The script asserts exact watch sequences on pods: no scheduler may write to them.
    let s = Server::start_with(
        tempfile::tempdir().expect("temp dir"),
        &["--disable-scheduler"],
    );
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/client_test.py");
    let out = Command::new(python())
        .arg(script)
        .arg(&s.kubeconfig)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Python client test failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
