//! `GET pods/{name}/log`: proxied to the agent of the pod's node (the Node's InternalIP and
//! `status.daemonEndpoints.kubeletEndpoint.Port`), as kube-apiserver proxies to the kubelet. The
//! container is chosen as upstream (the only one, else the `kubectl.kubernetes.io/default-container`
//! annotation, else an error listing them); `follow`, `tailLines`, `timestamps`, `previous`,
//! `limitBytes`, `sinceSeconds` and `sinceTime` pass through, and the agent's answer streams back.
//! With TLS on (the default), the agent's certificate is verified against the cluster CA and the API
//! server presents its `kube-apiserver-kubelet-client` certificate, the only client the agent accepts.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use serde_json::Value;
use skiff_api::resources::find;
use skiff_api::ApiError;
use tokio::sync::mpsc;

use crate::body::Body;
use crate::handlers::{Call, Reply};

const PASSED_PARAMS: &[&str] = &[
    "follow",
    "tailLines",
    "timestamps",
    "previous",
    "limitBytes",
    "sinceSeconds",
    "sinceTime",
];

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The container whose log is wanted.
fn pick_container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let containers = names(&pod["spec"]["containers"]);
    let inits = names(&pod["spec"]["initContainers"]);
    if let Some(c) = asked {
        if containers.iter().chain(&inits).any(|n| n == c) {
            return Ok(c.to_string());
        }
        return Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        )));
    }
    if containers.len() == 1 {
        return Ok(containers[0].clone());
    }
    if let Some(d) =
        pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].as_str()
    {
        if containers.iter().any(|n| n == d) {
            return Ok(d.to_string());
        }
    }
    let mut msg = format!(
        "a container name must be specified for pod {name}, choose one of: [{}]",
        containers.join(" ")
    );
    if !inits.is_empty() {
        msg.push_str(&format!(
            " or one of the init containers: [{}]",
            inits.join(" ")
        ));
    }
    Err(ApiError::bad_request(msg))
}

/// Sends one HTTP/1.1 request on a connection.
async fn send<S>(
    stream: S,
    req: Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await
}

/// Serves `GET pods/{name}/log`.
pub async fn serve(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    let pods = find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
    let nodes =
        find("", "v1", "nodes").ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let ns = call
        .req
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let pod = call.state.registry.get(pods, Some(&ns), name).await?;
    let container = pick_container(&pod, name, call.query.non_empty("container"))?;
    let node_name = pod["spec"]["nodeName"].as_str().unwrap_or("");
    if node_name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let node = call
        .state
        .registry
        .get(nodes, None, node_name)
        .await
        .map_err(|_| {
            ApiError::bad_request(format!("node {node_name} of pod {name} is not registered"))
        })?;
    let address = node["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| a["address"].as_str())
        .ok_or_else(|| ApiError::bad_request(format!("node {node_name} has no InternalIP")))?;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .unwrap_or(10250);
    let mut query = String::new();
    for p in PASSED_PARAMS {
        if let Some(v) = call.query.non_empty(p) {
            let v = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
            query.push_str(&format!(
                "{}{p}={v}",
                if query.is_empty() { "?" } else { "&" }
            ));
        }
    }
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    };
    let path = format!("/containerLogs/{ns}/{name}/{container}{query}");
    let tls = call
        .state
        .security
        .as_ref()
        .map(|s| s.kubelet_client.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("Get \"{scheme}://{host}:{port}{path}\": {e}"),
        )
    };
    let stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(format!("{host}:{port}")),
    )
    .await
    .map_err(|_| unreachable(&"dial timeout"))?
    .map_err(|e| unreachable(&e))?;
    let req = Request::get(&path)
        .header("host", format!("{host}:{port}"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let resp = match tls {
        None => send(stream, req).await.map_err(|e| unreachable(&e))?,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(address.to_string())
                .map_err(|e| unreachable(&e))?;
            let stream = tokio::time::timeout(
                Duration::from_secs(10),
                tokio_rustls::TlsConnector::from(config).connect(name, stream),
            )
            .await
            .map_err(|_| unreachable(&"TLS handshake timeout"))?
            .map_err(|e| unreachable(&e))?;
            send(stream, req).await.map_err(|e| unreachable(&e))?
        }
    };
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let msg = String::from_utf8_lossy(&bytes).trim().to_string();
        return Err(match status.as_u16() {
            404 => ApiError::new(404, "NotFound", msg),
            400 => ApiError::bad_request(msg),
            code => ApiError::new(code, "InternalError", msg),
        });
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            if let Ok(data) = frame.into_data() {
                if tx.send(data).await.is_err() {
                    return;
                }
            }
        }
    });
    let mut reply = crate::handlers::json_bytes(200, Bytes::new(), "text/plain");
    *reply.body_mut() = Body::Stream(rx);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_choice_as_upstream() {
        let one = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(pick_container(&one, "p", None).unwrap(), "a");
        let two = json!({"metadata": {}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}});
        assert_eq!(
            pick_container(&two, "p", None).unwrap_err().message,
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
        assert_eq!(pick_container(&two, "p", Some("i")).unwrap(), "i");
        assert_eq!(
            pick_container(&two, "p", Some("z")).unwrap_err().message,
            "container z is not valid for pod p"
        );
        let annotated = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/default-container": "b"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(pick_container(&annotated, "p", None).unwrap(), "b");
    }
}
