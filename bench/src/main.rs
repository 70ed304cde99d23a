//! `apiserver-bench`: measures a real `skiff server` process that it starts itself, in a fresh data
//! directory on a free loopback port, with its default store (SQLite, durable writes):
//!
//! - `creates`: pod creates from concurrent keep-alive clients; throughput and latency percentiles.
//! - `watch`: watch fan-out to many watchers; delivery latency per (watcher, event) and exactly-once.
//! - `memory`: server RSS idle, after N stored pods, and after a full LIST of them.
//! - `all`: the three in turn, each against its own fresh server.
//! - `scheduler`: scheduler_perf-style workloads bound through the server (pods/s, create → bound latency).
//! - `scheduler-memory`: RSS of a separate `skiff scheduler` process holding N nodes and M bound pods.
//!
//! Every loop is bounded in count and time, and all traffic goes to 127.0.0.1. Results print as a table
//! (or JSON with `--json`) with the machine's facts, since the numbers only mean something beside them.

mod client;
mod creates;
mod memory;
mod scheduler;
mod server;
mod stats;
mod watch;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    Creates,
    Watch,
    Memory,
    All,
    /// scheduler_perf-style workloads, each against its own fresh server (not part of `all`).
    Scheduler,
    /// RSS of a separate `skiff scheduler` process at N nodes / M bound pods (not part of `all`).
    SchedulerMemory,
}

/// Benchmarks a `skiff server` that it starts itself (pod creates, watch fan-out, memory).
#[derive(Parser, Debug)]
#[command(name = "apiserver-bench", version)]
struct Cli {
    /// Which benchmark to run.
    #[arg(value_enum, default_value_t = Part::All)]
    part: Part,
    /// The skiff binary [default: target/release/skiff, else the skiff beside this binary].
    #[arg(long)]
    skiff: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Where the server's temporary data directories go [default: the system temp dir]. Put it on a real
    /// disk: on tmpfs, durable commits cost nothing and the figures flatter the server.
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Keep the server's data directories (and server.log) after the run.
    #[arg(long)]
    keep_data: bool,
    /// An extra argument for `skiff server` (repeatable), e.g. `--server-arg=-v1`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// An environment variable for `skiff server` only (repeatable), e.g. `--server-env SKIFF_LOG=debug`.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Tokio worker threads of this benchmark [default: one per core].
    #[arg(long)]
    client_threads: Option<usize>,
    /// Before each benchmark, wait up to this many seconds for the rest of the machine to go quiet (below
    /// 0.15 cores busy over 2 s), so that other work does not skew the figures; 0 does not wait.
    #[arg(long, default_value_t = 0)]
    wait_quiet_secs: u64,
    /// Upper bound on each phase of a benchmark, in seconds.
    #[arg(long, default_value_t = 600)]
    time_limit_secs: u64,

    /// creates: pods to create in all.
    #[arg(long, default_value_t = 20_000)]
    pods: usize,
    /// Leave the benchmark pods to the default scheduler (skiff server runs one in-process; with no nodes it
    /// marks each pod unschedulable). By default their schedulerName is one no scheduler serves, so the
    /// figures are the API server's alone.
    #[arg(long)]
    default_scheduler: bool,
    /// creates and memory: concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 32)]
    clients: usize,

    /// watch: concurrent watchers, each with its own connection.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// watch: writes (creates, then updates) in all.
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// watch: writes per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// watch: distinct objects written (the first write of each creates it, later ones update it).
    #[arg(long, default_value_t = 100)]
    objects: usize,
    /// watch: what to watch and write.
    #[arg(long, value_enum, default_value_t = watch::WatchResource::Configmaps)]
    watch_resource: watch::WatchResource,
    /// watch: connections the writer spreads its writes over, so that slow commits do not slow its pace.
    #[arg(long, default_value_t = 16)]
    writer_conns: usize,
    /// watch: how long watchers may take, after the last write, to receive everything.
    #[arg(long, default_value_t = 10)]
    grace_secs: u64,

    /// memory: pods to store before reading the RSS.
    #[arg(long, default_value_t = 10_000)]
    memory_pods: usize,
    /// memory: pause before each RSS reading, in seconds.
    #[arg(long, default_value_t = 2)]
    settle_secs: u64,

    /// scheduler: a workload to run (repeatable; default all): SchedulingBasic, SchedulingPodAntiAffinity,
    /// SchedulingPodAffinity, TopologySpreading, SchedulingNodeAffinity, PreemptionBasic.
    #[arg(long = "workload")]
    workloads: Vec<String>,
    /// scheduler: multiply every node and pod count by this (for quick checks).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// scheduler: run `skiff server --disable-scheduler` and a separate `skiff scheduler` process
    /// instead of the in-process scheduler.
    #[arg(long)]
    separate_scheduler: bool,
    /// scheduler-memory: nodes to store.
    #[arg(long, default_value_t = 5000)]
    sched_memory_nodes: usize,
    /// scheduler-memory: pods to store (created bound to the nodes, round-robin).
    #[arg(long, default_value_t = 50_000)]
    sched_memory_pods: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let fd_limit = raise_fd_limit(cli.watchers + cli.clients + 512);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.client_threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(cli, fd_limit))
}

/// Raises the soft NOFILE limit (inherited by the server) to at least `want`, as far as the hard limit
/// allows; returns the limit in force.
fn raise_fd_limit(want: usize) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let cur = getrlimit(Resource::Nofile);
    let soft = cur.current.unwrap_or(u64::MAX);
    let want = want as u64;
    if soft >= want {
        return soft;
    }
    let new = cur.maximum.map_or(want, |hard| hard.min(want.max(soft)));
    match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(new),
            maximum: cur.maximum,
        },
    ) {
        Ok(()) => new,
        Err(e) => {
            eprintln!("warning: could not raise the open-file limit from {soft} to {new}: {e}");
            soft
        }
    }
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// Waits, up to `limit`, until the machine is busy for less than 0.15 cores over a 2 s window.
async fn wait_quiet(limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        let before = server::machine_busy().ok();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let busy = match (before, server::machine_busy().ok()) {
            (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / 2.0,
            _ => return,
        };
        if busy < 0.15 {
            eprintln!("   machine quiet ({busy:.2} cores busy)");
            return;
        }
        if started.elapsed() >= limit {
            eprintln!("   machine still busy ({busy:.2} cores) after {limit:?}; measuring anyway");
            return;
        }
    }
}

fn find_skiff(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let default = PathBuf::from("target/release/skiff");
    if default.exists() {
        return Ok(default);
    }
    if let Some(sibling) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("skiff")))
    {
        if sibling.exists() {
            return Ok(sibling);
        }
    }
    anyhow::bail!("no skiff binary at target/release/skiff: build it (cargo build --release -p skiff) or pass --skiff PATH")
}

async fn run(cli: Cli, fd_limit: u64) -> anyhow::Result<()> {
    let skiff = find_skiff(cli.skiff.as_deref())?;
    let data_root = cli.data_root.clone().unwrap_or_else(std::env::temp_dir);
    let mut server_env = Vec::new();
    for kv in &cli.server_env {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--server-env {kv}: expected KEY=VALUE"))?;
        server_env.push((k.to_string(), v.to_string()));
    }
    let opts = server::Options {
        env: &server_env,
        skiff: &skiff,
        data_root: &data_root,
        extra_args: &cli.server_args,
        keep_data: cli.keep_data,
    };
    let machine = machine_facts(&skiff, &data_root, fd_limit);
    if !cli.json {
        print_machine(&machine);
    }
    let time_limit = Duration::from_secs(cli.time_limit_secs);
    let parts: &[Part] = match cli.part {
        Part::All => &[Part::Creates, Part::Watch, Part::Memory],
        p => match p {
            Part::Creates => &[Part::Creates],
            Part::Watch => &[Part::Watch],
            Part::Scheduler => &[Part::Scheduler],
            Part::SchedulerMemory => &[Part::SchedulerMemory],
            _ => &[Part::Memory],
        },
    };
    let mut doc = json!({"machine": machine});
    let mut failed = false;
    for part in parts {
        let name = format!("{part:?}").to_lowercase();
        // The scheduler part waits before each workload itself.
        if cli.wait_quiet_secs > 0 && *part != Part::Scheduler {
            wait_quiet(Duration::from_secs(cli.wait_quiet_secs)).await;
        }
        eprintln!("== {name}: starting {}", skiff.display());
        // On Ctrl-C or SIGTERM the benchmark stops here; dropping it stops its server.
        let result = tokio::select! {
            r = run_part(*part, &cli, &opts, time_limit) => Some(r),
            s = interrupted() => {
                eprintln!("== {name}: interrupted by {s}; stopping the server");
                None
            }
        };
        // The select has dropped the benchmark, and with it the server.
        let Some(result) = result else {
            std::process::exit(130)
        };
        match result {
            Ok(v) => {
                if !cli.json {
                    print_part(*part, &v);
                }
                doc[&name] = v;
            }
            Err(e) => {
                failed = true;
                eprintln!("== {name} failed: {e:#}");
                if !cli.json {
                    println!("\n{name}: FAILED: {e:#}");
                }
                doc[&name] = json!({"error": format!("{e:#}")});
            }
        }
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

async fn run_part(
    part: Part,
    cli: &Cli,
    opts: &server::Options<'_>,
    time_limit: Duration,
) -> anyhow::Result<Value> {
    match part {
        Part::Scheduler => {
            let cfg = scheduler::SchedConfig {
                workloads: cli.workloads.clone(),
                clients: cli.clients,
                scale: cli.scale,
                separate: cli.separate_scheduler,
                time_limit,
                wait_quiet: (cli.wait_quiet_secs > 0)
                    .then(|| Duration::from_secs(cli.wait_quiet_secs)),
            };
            return Ok(serde_json::to_value(scheduler::run(opts, &cfg).await?)?);
        }
        Part::SchedulerMemory => {
            let cfg = scheduler::SchedMemoryConfig {
                nodes: cli.sched_memory_nodes,
                pods: cli.sched_memory_pods,
                clients: cli.clients,
                settle: Duration::from_secs(cli.settle_secs.max(3)),
                time_limit,
            };
            return Ok(serde_json::to_value(
                scheduler::run_memory(opts, &cfg).await?,
            )?);
        }
        _ => {}
    }
    let srv = server::Server::start(opts).await?;
    eprintln!(
        "   server pid {} on http://{} (data in {})",
        srv.pid,
        srv.addr,
        srv.data_dir.display()
    );
    let scheduler = (!cli.default_scheduler).then(|| creates::NO_SCHEDULER.to_string());
    let out = match part {
        Part::Creates => {
            let cfg = creates::CreatesConfig {
                pods: cli.pods,
                clients: cli.clients,
                scheduler: scheduler.clone(),
                time_limit,
            };
            serde_json::to_value(creates::run(&srv, &cfg).await?)?
        }
        Part::Watch => {
            let cfg = watch::WatchConfig {
                watchers: cli.watchers,
                events: cli.events,
                rate: cli.rate,
                objects: cli.objects,
                resource: cli.watch_resource,
                scheduler: scheduler.clone(),
                writer_conns: cli.writer_conns,
                grace: Duration::from_secs(cli.grace_secs),
            };
            serde_json::to_value(watch::run(&srv, &cfg).await?)?
        }
        Part::Scheduler | Part::SchedulerMemory => unreachable!("handled above"),
        Part::Memory | Part::All => {
            let cfg = memory::MemoryConfig {
                pods: cli.memory_pods,
                clients: cli.clients,
                scheduler: scheduler.clone(),
                settle: Duration::from_secs(cli.settle_secs),
                time_limit,
            };
            serde_json::to_value(memory::run(&srv, &cfg).await?)?
        }
    };
    drop(srv);
    Ok(out)
}

fn first_line_with(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine_facts(skiff: &Path, data_root: &Path, fd_limit: u64) -> Value {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kib: u64 = first_line_with("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    json!({
        "date_utc": utc_now(),
        "nproc": nproc,
        "cpu_model": first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default(),
        "mem_total_gib": mem_kib as f64 / (1024.0 * 1024.0),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default(),
        "skiff": skiff.display().to_string(),
        "skiff_version": command_output(&skiff.to_string_lossy(), &["--version"]).unwrap_or_default(),
        "skiff_built_utc": std::fs::metadata(skiff).and_then(|m| m.modified()).map(utc).unwrap_or_default(),
        "git_head_at_run": command_output("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_default(),
        "data_root": data_root.display().to_string(),
        "store": "SQLite (server default: WAL, synchronous=FULL)",
        "fd_limit": fd_limit,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    })
}

fn utc_now() -> String {
    utc(SystemTime::now())
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, proleptic Gregorian).
fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn print_machine(m: &Value) {
    let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
    println!("Skiff API server benchmark, {}", s("date_utc"));
    println!(
        "machine: {} cores (nproc), {}, kernel {}, {:.1} GiB RAM, load average at start {}",
        m["nproc"],
        s("cpu_model"),
        s("kernel"),
        m["mem_total_gib"].as_f64().unwrap_or(0.0),
        s("loadavg_at_start")
    );
    println!(
        "server: {} ({}, built {}; git HEAD now {}), store {}",
        s("skiff"),
        s("skiff_version"),
        s("skiff_built_utc"),
        s("git_head_at_run"),
        s("store")
    );
    println!(
        "data under {}, open-file limit {}",
        s("data_root"),
        m["fd_limit"]
    );
    println!("command: {}", s("command"));
}

struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    fn new() -> Table {
        Table {
            rows: vec![[
                "figure".into(),
                "measured".into(),
                "target".into(),
                "".into(),
            ]],
        }
    }
    fn row(&mut self, name: &str, value: String, target: &str, ok: Option<bool>) {
        let verdict = match ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        self.rows
            .push([name.into(), value, target.into(), verdict.into()]);
    }
    fn print(&self) {
        let mut w = [0usize; 4];
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for (n, r) in self.rows.iter().enumerate() {
            println!(
                "  {:<w0$}  {:<w1$}  {:<w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            );
            if n == 0 {
                println!("  {}", "-".repeat(w[0] + w[1] + w[2] + w[3] + 6));
            }
        }
    }
}

fn lat(v: &Value) -> String {
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    format!(
        "{:.2} / {:.2} / {:.2} / {:.2} ms",
        f("p50_ms"),
        f("p90_ms"),
        f("p99_ms"),
        f("max_ms")
    )
}

/// Cores used by the server, this benchmark and the rest of the machine.
fn cpu(v: &Value) -> String {
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    format!(
        "{:.2} / {:.2} / {:.2} cores",
        f("server_cores"),
        f("client_cores"),
        f("other_cores")
    )
}

fn mib(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0) / MIB
}

fn print_part(part: Part, v: &Value) {
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    let u = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut t = Table::new();
    match part {
        Part::Creates => {
            println!(
                "\n1. Pod creates: {} pods from {} concurrent keep-alive clients",
                u("pods"),
                u("clients")
            );
            let rate = f("creates_per_s");
            let p99 = v["latency"]["p99_ms"].as_f64().unwrap_or(f64::MAX);
            t.row(
                "created / errors",
                format!("{} / {}", u("created"), u("errors")),
                "",
                Some(u("errors") == 0),
            );
            t.row("wall time", format!("{:.2} s", f("elapsed_s")), "", None);
            t.row(
                "creates/s",
                format!("{rate:.0}"),
                ">= 5000/s",
                Some(rate >= 5000.0),
            );
            t.row(
                "latency p50/p90/p99/max",
                lat(&v["latency"]),
                "p99 <= 10 ms",
                Some(p99 <= 10.0),
            );
            t.row(
                "latency p99.9 / mean",
                format!(
                    "{:.2} / {:.2} ms",
                    v["latency"]["p999_ms"].as_f64().unwrap_or(0.0),
                    v["latency"]["mean_ms"].as_f64().unwrap_or(0.0)
                ),
                "",
                None,
            );
            if let (Some(m), Some(le5)) = (
                v["server_side_mean_ms"].as_f64(),
                v["server_side_le_5ms"].as_f64(),
            ) {
                t.row(
                    "server-side mean / share <= 5 ms",
                    format!("{m:.2} ms / {:.1}%", le5 * 100.0),
                    "",
                    None,
                );
            }
            t.row(
                "CPU used: server / benchmark / others",
                cpu(&v["cpu"]),
                "",
                None,
            );
            t.row(
                "server RSS after / DB size",
                format!(
                    "{:.1} MiB / {:.1} MiB",
                    mib(&v["server_rss_after_bytes"]),
                    mib(&v["db_bytes_after"])
                ),
                "",
                None,
            );
            t.print();
            print_errors(&v["first_errors"]);
        }
        Part::Watch => {
            println!(
                "\n2. Watch fan-out: {} watchers on {}, {} writes to {} objects at {}/s over {} connections",
                u("watchers"),
                v["resource"].as_str().unwrap_or(""),
                u("writes"),
                u("objects"),
                f("target_rate"),
                u("writer_conns")
            );
            let p99 = v["delivery_from_ack"]["p99_ms"]
                .as_f64()
                .unwrap_or(f64::MAX);
            t.row(
                "watchers open / time to open",
                format!("{} / {:.2} s", u("watchers_started"), f("open_s")),
                "",
                Some(u("watchers_started") == u("watchers")),
            );
            t.row(
                "writes ok / achieved rate",
                format!("{} / {:.1}/s", u("writes_ok"), f("achieved_rate")),
                "",
                Some(u("writes_ok") == u("writes")),
            );
            t.row(
                "write latency p50/p90/p99/max",
                lat(&v["write_latency"]),
                "",
                None,
            );
            t.row(
                "delivery from ack p50/p90/p99/max",
                lat(&v["delivery_from_ack"]),
                "p99 <= 50 ms",
                Some(p99 <= 50.0),
            );
            t.row(
                "delivery from send p50/p90/p99/max",
                lat(&v["delivery_from_send"]),
                "",
                None,
            );
            t.row(
                "last watcher from ack p50/p90/p99/max",
                lat(&v["all_watchers_from_ack"]),
                "",
                None,
            );
            t.row(
                "delivered / expected",
                format!(
                    "{} / {} ({} before the ack)",
                    u("delivered"),
                    u("expected_deliveries"),
                    u("before_ack")
                ),
                "",
                None,
            );
            t.row(
                "missing / duplicate / wrong type / error",
                format!(
                    "{} / {} / {} / {}",
                    u("missing"),
                    u("duplicates"),
                    u("wrong_type"),
                    u("error_events")
                ),
                "0 / 0 / 0 / 0",
                None,
            );
            t.row(
                "streams ended early",
                u("streams_ended_early").to_string(),
                "0",
                None,
            );
            t.row(
                "every watcher got every event once",
                v["exactly_once"].to_string(),
                "true",
                v["exactly_once"].as_bool(),
            );
            t.row(
                "CPU during writes: server / benchmark / others",
                cpu(&v["cpu_during_writes"]),
                "",
                None,
            );
            t.row(
                "server RSS with watchers open",
                format!("{:.1} MiB", mib(&v["server_rss_with_watchers_bytes"])),
                "",
                None,
            );
            t.print();
            print_errors(&v["watcher_start_errors"]);
            print_errors(&v["stream_errors"]);
            print_errors(&v["write_errors"]);
        }
        Part::Scheduler => print_scheduler(v),
        Part::SchedulerMemory => {
            println!(
                "\n5. Scheduler memory: a separate `skiff scheduler` process (VmRSS; peak VmHWM)"
            );
            let both = |m: &Value| {
                format!(
                    "{:.1} MiB (peak {:.1})",
                    mib(&m["rss_bytes"]),
                    mib(&m["peak_rss_bytes"])
                )
            };
            t.row("scheduler idle", both(&v["scheduler_idle"]), "", None);
            t.row(
                &format!("after {} nodes", u("nodes")),
                both(&v["scheduler_after_nodes"]),
                "",
                None,
            );
            t.row(
                &format!(
                    "after {} bound pods ({} created in {:.1} s)",
                    u("pods"),
                    u("pods_created"),
                    f("create_s")
                ),
                both(&v["scheduler_after_pods"]),
                "",
                None,
            );
            t.row(
                "restarted against the full cluster",
                both(&v["scheduler_restarted"]),
                "",
                None,
            );
            t.row("API server then", both(&v["server_after_pods"]), "", None);
            t.print();
            print_errors(&v["create_errors"]);
        }
        Part::Memory | Part::All => {
            println!("\n3. Memory: server resident set (VmRSS; peak VmHWM)");
            let at = mib(&v["after_pods"]["rss_bytes"]);
            let both = |m: &Value| {
                format!(
                    "{:.1} MiB (peak {:.1})",
                    mib(&m["rss_bytes"]),
                    mib(&m["peak_rss_bytes"])
                )
            };
            t.row("idle after start", both(&v["idle"]), "", None);
            t.row(
                &format!("after {} stored pods", u("pods")),
                both(&v["after_pods"]),
                "<= 150 MiB",
                Some(at <= 150.0),
            );
            t.row(
                "after a full LIST of them",
                both(&v["after_list"]),
                "",
                None,
            );
            t.row(
                "LIST: items / size / time",
                format!(
                    "{} / {:.1} MiB / {:.0} ms",
                    u("list_items"),
                    mib(&v["list_bytes"]),
                    f("list_s") * 1000.0
                ),
                "",
                Some(u("list_items") == u("pods")),
            );
            t.row(
                "DB size",
                format!("{:.1} MiB", mib(&v["db_bytes"])),
                "",
                None,
            );
            t.print();
            print_errors(&v["create_errors"]);
        }
    }
}

fn print_scheduler(v: &Value) {
    println!(
        "\n4. Scheduler through the API server ({} scheduler, {} clients, scale {}): pods/s from the first \
         measured create to the last bind; latency from create sent to bound seen on a watch",
        if v["separate_scheduler"].as_bool().unwrap_or(false) {
            "separate"
        } else {
            "in-process"
        },
        v["clients"],
        v["scale"]
    );
    println!(
        "  {:<26} {:>5} {:>6} {:>6} {:>8} {:>7} {:>9} {:>9} {:>9}  {:<20} {:<14}",
        "workload",
        "nodes",
        "init",
        "pods",
        "bound",
        "pods/s",
        "target",
        "p50 ms",
        "p99 ms",
        "CPU srv/bench/other",
        "load before"
    );
    for w in v["workloads"].as_array().into_iter().flatten() {
        let f = |k: &str| w[k].as_f64().unwrap_or(0.0);
        let u = |k: &str| w[k].as_u64().unwrap_or(0);
        let name = w["name"].as_str().unwrap_or("");
        if let Some(e) = w["error"].as_str() {
            println!("  {name:<26} FAILED: {e}");
            continue;
        }
        let c = &w["cpu"];
        let mut cpu = format!(
            "{:.2}/{:.2}/{:.2}",
            c["server_cores"].as_f64().unwrap_or(0.0),
            c["client_cores"].as_f64().unwrap_or(0.0),
            c["other_cores"].as_f64().unwrap_or(0.0)
        );
        if let Some(s) = w["scheduler_cores"].as_f64() {
            cpu.push_str(&format!(" +sched {s:.2}"));
        }
        let rate = f("pods_per_s");
        println!(
            "  {:<26} {:>5} {:>6} {:>6} {:>8} {:>7.0} {:>9} {:>9.1} {:>9.1}  {:<20} {:<14} {}",
            name,
            u("nodes"),
            u("init_pods"),
            u("measured_pods"),
            u("bound"),
            rate,
            format!(">= {:.0}", f("target_pods_per_s")),
            w["latency"]["p50_ms"].as_f64().unwrap_or(0.0),
            w["latency"]["p99_ms"].as_f64().unwrap_or(0.0),
            cpu,
            w["loadavg_before"].as_str().unwrap_or(""),
            if rate >= f("target_pods_per_s") && u("bound") == u("measured_pods") {
                "met"
            } else {
                "MISSED"
            }
        );
        if let Some(e) = w["watch_error"].as_str() {
            println!("    watch: {e}");
        }
        print_errors(&w["create_errors"]);
    }
}

fn print_errors(v: &Value) {
    if let Some(errs) = v.as_array() {
        for e in errs {
            println!("  error: {}", e.as_str().unwrap_or(""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_now_is_well_formed() {
        let s = utc_now();
        assert_eq!(s.len(), "2026-01-01 00:00:00 UTC".len(), "{s}");
        assert!(s.starts_with("20"));
    }
}
