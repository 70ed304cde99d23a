//! `POST /v1-skiff/node-credentials`: a joining node obtains its credentials (as k3s' `/v1-k3s/client-kubelet.crt`
//! and `serving-kubelet.crt`). The body is `{"nodeName": "n1", "addresses": ["10.0.0.5"]}`; the answer
//! is [`IssuedNodeCredentials`]: the CA, a client certificate for `system:node:n1` in `system:nodes`,
//! and a kubelet serving certificate for the node's name and addresses.
//!
//! Who may ask: the join token's holder (`system:bootstrappers`) for any node name, `system:masters`
//! for any, and a node for itself (to renew, or when an agent runs with a node kubeconfig). Like k3s
//! without its node-password check, a join token holder can obtain the credentials of an existing node
//! name: the join token is a cluster secret.

use crate::server::RequestBody;
use bytes::Bytes;
use http::Method;
use serde_json::Value;
use skiff_api::ApiError;
use std::net::IpAddr;

use crate::auth::{User, BOOTSTRAPPERS, MASTERS};
use crate::handlers::{json_bytes, Reply};
use crate::State;

pub const PATH: &str = "/v1-skiff/node-credentials";

fn valid_node_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

pub async fn serve(
    state: &State,
    user: &User,
    method: &Method,
    body: RequestBody,
) -> Result<Reply, ApiError> {
    let Some(security) = &state.security else {
        return Err(ApiError::not_found("", "", ""));
    };
    if *method != Method::POST {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let body = crate::server::read_body(body).await?;
    let req: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("decoding the request: {e}")))?;
    let node = req["nodeName"].as_str().unwrap_or("");
    if !valid_node_name(node) {
        return Err(ApiError::bad_request(format!(
            "nodeName {node:?} is not a valid node name"
        )));
    }
    let mut addresses = Vec::new();
    for a in req["addresses"].as_array().into_iter().flatten() {
        let ip: IpAddr = a
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ApiError::bad_request(format!("address {a} is not an IP address")))?;
        addresses.push(ip);
    }
    let allowed =
        user.in_group(MASTERS) || user.in_group(BOOTSTRAPPERS) || user.node_name() == Some(node);
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "User \"{}\" cannot obtain the credentials of node \"{node}\"",
            user.name
        )));
    }
    let issued = security
        .issuer
        .issue(node, &addresses)
        .map_err(ApiError::internal)?;
    tracing::info!(node, user = %user.name, "issued node credentials");
    let bytes = serde_json::to_vec(&issued).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json_bytes(200, Bytes::from(bytes), "application/json"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_names() {
        assert!(super::valid_node_name("n1.example"));
        assert!(!super::valid_node_name("N1"));
        assert!(!super::valid_node_name("-a"));
        assert!(!super::valid_node_name("a/b"));
        assert!(!super::valid_node_name(""));
    }
}
