//! The admin kubeconfig that kubectl and client libraries use as it is.

/// A kubeconfig with one cluster, user and context, all named `skiff`.
pub fn admin(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n    server: {server}\nusers:\n- name: skiff-admin\n  user: {{}}\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: skiff-admin\n    namespace: default\ncurrent-context: skiff\npreferences: {{}}\n"
    )
}

/// A kubeconfig with one cluster, user and context (all `skiff`, the user named `user`): the server
/// verified against `ca_pem`, the user a client certificate, all embedded as `*-data`.
pub fn with_certificates(
    server: &str,
    user: &str,
    ca_pem: &str,
    client: &crate::pki::Pair,
) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: {user}\n    namespace: default\ncurrent-context: skiff\npreferences: {{}}\n",
        b64(ca_pem),
        b64(&client.cert),
        b64(&client.key),
    )
}
