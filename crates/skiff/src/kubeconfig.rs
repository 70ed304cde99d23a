//! The admin kubeconfig that kubectl and client libraries use as it is.

/// A kubeconfig with one cluster, user and context, all named `skiff`.
pub fn admin(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n    server: {server}\nusers:\n- name: skiff-admin\n  user: {{}}\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: skiff-admin\n    namespace: default\ncurrent-context: skiff\npreferences: {{}}\n"
    )
}
