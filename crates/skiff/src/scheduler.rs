//! `skiff scheduler` and the in-process scheduler of `skiff server`: configuration loading and the
//! API client, around [`skiff_scheduler::server::run`].

use anyhow::Context;
use skiff_scheduler::server::SchedulerOptions;
use skiff_scheduler::KubeSchedulerConfiguration;
use std::future::Future;
use std::path::Path;

/// Reads and validates a `KubeSchedulerConfiguration` file.
pub fn load_config(path: &Path) -> anyhow::Result<KubeSchedulerConfiguration> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut cfg = KubeSchedulerConfiguration::from_yaml(&text)
        .with_context(|| format!("parsing {}", path.display()))?;
    cfg.set_defaults();
    cfg.validate()
        .with_context(|| format!("validating {}", path.display()))?;
    Ok(cfg)
}

/// A client for the API server a kubeconfig names.
pub async fn client_for(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading {}", kubeconfig.display()))?;
    kube::Client::try_from(config).context("building the API client")
}

/// `skiff scheduler`: runs until `shutdown`.
pub async fn run_standalone(
    kubeconfig: &Path,
    options: SchedulerOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = client_for(kubeconfig).await?;
    eprintln!(
        "skiff scheduler: scheduling for the API server of {}",
        kubeconfig.display()
    );
    skiff_scheduler::server::run(client, options, shutdown).await?;
    eprintln!("skiff scheduler: shutting down");
    Ok(())
}
