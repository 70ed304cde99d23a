//! A throwaway API server that serves only what `kubectl explain` needs, to look at the OpenAPI v3
//! documents through the real kubectl: `/version`, aggregated discovery (`/api`, `/apis`, built from the
//! resource table), `/openapi/v3` and the group/version documents. Everything else is a 404.
//!
//! ```text
//! cargo run -p skiff-openapi --example openapi_probe -- 18099 &
//! kubectl --server http://127.0.0.1:18099 --cache-dir "$(mktemp -d)" explain pod.spec
//! kubectl --server http://127.0.0.1:18099 --cache-dir "$(mktemp -d)" explain deployment.spec.strategy
//! ```
//!
//! It prints each request it answers on stderr. Port 0 (the default) picks a free port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use serde_json::{json, Value};
use skiff_api::resources::{self, Resource};

const DISCOVERY_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("usage: openapi_probe [PORT]"))
        .unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on http://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(err) = serve(stream) {
                eprintln!("connection: {err}");
            }
        });
    }
    Ok(())
}

/// Answers the requests of one keep-alive connection until the client closes it.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        std::io::copy(
            &mut (&mut reader).take(content_length as u64),
            &mut std::io::sink(),
        )?;

        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        let (status, content_type, body) = respond(method, path);
        eprintln!("{method} {target} -> {status}");
        write!(
            writer,
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        writer.write_all(&body)?;
        writer.flush()?;
    }
}

fn respond(method: &str, path: &str) -> (&'static str, &'static str, Vec<u8>) {
    let ok_json = |v: Value| ("200 OK", "application/json", v.to_string().into_bytes());
    match (method, path) {
        ("GET", "/version") => ok_json(json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "", "gitTreeState": "clean",
            "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc", "platform": "linux/amd64",
        })),
        ("GET", "/api") => (
            "200 OK",
            DISCOVERY_TYPE,
            discovery(true).to_string().into_bytes(),
        ),
        ("GET", "/apis") => (
            "200 OK",
            DISCOVERY_TYPE,
            discovery(false).to_string().into_bytes(),
        ),
        ("GET", "/openapi/v3") => (
            "200 OK",
            "application/json",
            skiff_openapi::root_bytes().to_vec(),
        ),
        ("GET", _) if path.starts_with("/openapi/v3/") => {
            match skiff_openapi::group_version(&path["/openapi/v3/".len()..]) {
                Some(doc) => ("200 OK", "application/json", doc.to_vec()),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn not_found() -> (&'static str, &'static str, Vec<u8>) {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404,
    });
    (
        "404 Not Found",
        "application/json",
        status.to_string().into_bytes(),
    )
}

/// The aggregated discovery of the core group (`/api`) or of the named groups (`/apis`).
fn discovery(core: bool) -> Value {
    let items: Vec<Value> = resources::groups()
        .into_iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, version)| {
            let mut metadata = json!({ "creationTimestamp": null });
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            let resources: Vec<Value> = resources::in_group_version(group, version).map(discovery_resource).collect();
            json!({
                "metadata": metadata,
                "versions": [{ "version": version, "resources": resources, "freshness": "Current" }],
            })
        })
        .collect();
    json!({ "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items })
}

fn discovery_resource(r: &Resource) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            json!({
                "subresource": s.name,
                "responseKind": { "group": s.group, "version": s.version, "kind": s.kind },
                "verbs": s.verbs,
            })
        })
        .collect();
    let mut out = json!({
        "resource": r.plural,
        "responseKind": { "group": r.group, "version": r.version, "kind": r.kind },
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        out["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        out["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        out["subresources"] = json!(subresources);
    }
    out
}
