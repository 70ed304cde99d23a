//! Records the request bodies that the real kubectl sends for its typed `create` commands, to refresh
//! `tests/fixtures`.
//!
//! For every scenario it runs the same command twice against a tiny recording API server (std only):
//! once while `/version` reports minor "32", so that the kubectl dispatcher on PATH runs kubectl 1.32, which
//! sends `application/vnd.kubernetes.protobuf` (saved as `<name>.pb`), and once reporting minor "31", so that
//! it runs kubectl 1.31, which sends JSON for the same command (saved pretty-printed as `<name>.json`). The
//! tests decode the first and compare it with the second.
//!
//! ```text
//! cargo run -p skiff-protobuf --example record_kubectl [-- OUT_DIR]   # default: tests/fixtures
//! ```
//!
//! Discovery answers come from the aggregated-discovery samples in `$KUBECTL_SAMPLES` (default
//! `/work/shared/reference/kubectl-samples`). kubectl runs with a throw-away kubeconfig and cache directory.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};

/// One kubectl invocation and the object the fake server answers with.
struct Scenario {
    name: &'static str,
    args: &'static [&'static str],
    /// `(apiVersion, kind, name)` of the 201 reply; namespaced objects get `namespace: default`.
    reply: (&'static str, &'static str, &'static str),
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "namespace",
        args: &["create", "namespace", "ns1"],
        reply: ("v1", "Namespace", "ns1"),
    },
    Scenario {
        name: "configmap",
        args: &[
            "create",
            "configmap",
            "cm1",
            "--from-literal=a=b",
            "--from-literal=c=d",
        ],
        reply: ("v1", "ConfigMap", "cm1"),
    },
    Scenario {
        name: "secret",
        args: &["create", "secret", "generic", "s1", "--from-literal=k=v"],
        reply: ("v1", "Secret", "s1"),
    },
    Scenario {
        name: "deployment",
        args: &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.25",
            "--replicas=2",
            "--port=80",
        ],
        reply: ("apps/v1", "Deployment", "web"),
    },
    Scenario {
        name: "deployment_zero_replicas",
        args: &[
            "create",
            "deployment",
            "idle",
            "--image=nginx",
            "--replicas=0",
        ],
        reply: ("apps/v1", "Deployment", "idle"),
    },
    Scenario {
        name: "service",
        args: &["create", "service", "clusterip", "svc1", "--tcp=80:8080"],
        reply: ("v1", "Service", "svc1"),
    },
    Scenario {
        name: "serviceaccount",
        args: &["create", "serviceaccount", "sa1"],
        reply: ("v1", "ServiceAccount", "sa1"),
    },
    Scenario {
        name: "job",
        args: &["create", "job", "j1", "--image=busybox", "--", "echo", "hi"],
        reply: ("batch/v1", "Job", "j1"),
    },
    Scenario {
        name: "quota",
        args: &[
            "create",
            "quota",
            "q1",
            "--hard=cpu=1500m,memory=1Gi,pods=10",
        ],
        reply: ("v1", "ResourceQuota", "q1"),
    },
    Scenario {
        name: "priorityclass",
        args: &[
            "create",
            "priorityclass",
            "high",
            "--value=1000",
            "--description=important",
        ],
        reply: ("scheduling.k8s.io/v1", "PriorityClass", "high"),
    },
    Scenario {
        name: "pdb",
        args: &[
            "create",
            "pdb",
            "pdb1",
            "--selector=app=web",
            "--min-available=50%",
        ],
        reply: ("policy/v1", "PodDisruptionBudget", "pdb1"),
    },
    Scenario {
        name: "ingress",
        args: &["create", "ingress", "ing1", "--rule=foo.com/bar=svc1:8080"],
        reply: ("networking.k8s.io/v1", "Ingress", "ing1"),
    },
    Scenario {
        name: "can_i",
        args: &["auth", "can-i", "create", "pods"],
        reply: ("authorization.k8s.io/v1", "SelfSubjectAccessReview", ""),
    },
];

const DEFAULT_SAMPLES: &str = "/work/shared/reference/kubectl-samples";
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// What the server reports and answers right now, and what it recorded.
#[derive(Default)]
struct State {
    minor: String,
    reply: Value,
    /// `(content type, body)` of every POST, in order.
    posts: Vec<(String, Vec<u8>)>,
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    std::fs::create_dir_all(&out).expect("create output directory");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    let state = Arc::new(Mutex::new(State::default()));
    {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&state);
                thread::spawn(move || serve(stream, &state));
            }
        });
    }

    let work = std::env::temp_dir().join(format!("skiff-record-kubectl-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create work dir");
    let kubeconfig = work.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: rec\n  cluster: {{server: \"http://{addr}\"}}\n\
             users:\n- name: rec\n  user: {{}}\ncontexts:\n- name: rec\n  context: {{cluster: rec, user: rec, \
             namespace: default}}\ncurrent-context: rec\n"
        ),
    )
    .expect("write kubeconfig");

    let mut failures = 0;
    for scenario in SCENARIOS {
        for (minor, want_protobuf) in [("32", true), ("31", false)] {
            match record(scenario, minor, &state, &kubeconfig, &work) {
                Ok((content_type, body)) => {
                    let is_pb = content_type.starts_with("application/vnd.kubernetes.protobuf");
                    if is_pb != want_protobuf {
                        eprintln!(
                            "{} (minor {minor}): unexpected Content-Type {content_type}",
                            scenario.name
                        );
                        failures += 1;
                        continue;
                    }
                    let (file, bytes) = if is_pb {
                        (out.join(format!("{}.pb", scenario.name)), body)
                    } else {
                        let value: Value =
                            serde_json::from_slice(&body).expect("kubectl sent JSON");
                        let mut text = serde_json::to_vec_pretty(&value).expect("serialize");
                        text.push(b'\n');
                        (out.join(format!("{}.json", scenario.name)), text)
                    };
                    std::fs::write(&file, &bytes).expect("write fixture");
                    println!(
                        "{:>30}  kubectl 1.{minor}  {} bytes  {}",
                        scenario.name,
                        bytes.len(),
                        file.display()
                    );
                }
                Err(e) => {
                    eprintln!("{} (minor {minor}): {e}", scenario.name);
                    failures += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    if failures > 0 {
        eprintln!("{failures} recordings failed");
        std::process::exit(1);
    }
}

/// Runs one scenario with the server reporting `minor`; returns the POST that kubectl made.
fn record(
    scenario: &Scenario,
    minor: &str,
    state: &Mutex<State>,
    kubeconfig: &Path,
    work: &Path,
) -> Result<(String, Vec<u8>), String> {
    let (api_version, kind, name) = scenario.reply;
    let mut reply = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "uid": "00000000-0000-0000-0000-000000000001", "resourceVersion": "1"},
    });
    if !matches!(
        kind,
        "Namespace" | "PriorityClass" | "SelfSubjectAccessReview"
    ) {
        reply["metadata"]["namespace"] = json!("default");
    }
    if kind == "SelfSubjectAccessReview" {
        reply["status"] = json!({"allowed": true});
    }
    {
        let mut s = state.lock().unwrap();
        s.minor = minor.to_string();
        s.reply = reply;
        s.posts.clear();
    }
    let output = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!(
            "--cache-dir={}",
            work.join(format!("cache-{minor}")).display()
        ))
        .args(scenario.args)
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "kubectl failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let mut s = state.lock().unwrap();
    match s.posts.len() {
        1 => Ok(s.posts.pop().unwrap()),
        n => Err(format!("expected one POST, saw {n}")),
    }
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let (status, content_type, body) = respond(&request, state);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body); `None` at EOF or on garbage.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let path = target.split('?').next().unwrap_or(target).to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let mut body = Vec::new();
    if let Some(len) = headers.get("content-length") {
        body.resize(len.parse().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn respond(request: &Request, state: &Mutex<State>) -> (&'static str, String, Vec<u8>) {
    let json_reply = |status, value: &Value| {
        (
            status,
            "application/json".to_string(),
            value.to_string().into_bytes(),
        )
    };
    let samples = std::env::var("KUBECTL_SAMPLES").unwrap_or_else(|_| DEFAULT_SAMPLES.to_string());
    let sample = |file: &str| std::fs::read(Path::new(&samples).join(file)).unwrap_or_default();
    let aggregated = request
        .headers
        .get("accept")
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList"));
    let mut s = state.lock().unwrap();
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/version") => {
            let version = json!({
                "major": "1",
                "minor": s.minor,
                "gitVersion": format!("v1.{}.0", s.minor),
                "platform": "linux/amd64",
            });
            json_reply("200 OK", &version)
        }
        ("GET", "/api") if aggregated => ("200 OK", AGGREGATED.to_string(), sample("api_agg.json")),
        ("GET", "/apis") if aggregated => {
            ("200 OK", AGGREGATED.to_string(), sample("apis_agg.json"))
        }
        ("GET", "/api") => (
            "200 OK",
            "application/json".to_string(),
            sample("api_legacy.json"),
        ),
        ("GET", "/apis") => (
            "200 OK",
            "application/json".to_string(),
            sample("apis_legacy.json"),
        ),
        ("GET", "/api/v1") => (
            "200 OK",
            "application/json".to_string(),
            sample("api_v1.json"),
        ),
        ("POST", _) => {
            let content_type = request
                .headers
                .get("content-type")
                .cloned()
                .unwrap_or_default();
            s.posts.push((content_type, request.body.clone()));
            json_reply("201 Created", &s.reply)
        }
        _ => json_reply(
            "404 Not Found",
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                    "message": format!("{} not found", request.path)}),
        ),
    }
}
