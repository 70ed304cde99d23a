//! Watch fan-out: W watchers, each on its own connection, watch one namespace's configmaps (or pods) from
//! a known resourceVersion; then one writer creates K objects and updates them, M writes in all, at a
//! steady R writes/s. Every write carries its sequence number in the annotation `bench.skiff.dev/seq`, so
//! each watcher stamps the moment each event arrives; afterwards each (watcher, event) pair gives a
//! delivery latency, from the writer's acknowledgement (response fully read) and from the moment it sent
//! the request. Also checked: every watcher got every event exactly once, with the right type (ADDED for
//! the first write of an object, MODIFIED after).

use crate::client::{ensure_namespace, excerpt, resource_version, Conn, REQUEST_TIMEOUT};
use crate::server::{self, Server};
use crate::stats::{self, Latency};
use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Mutex, Semaphore};
use tokio::task::JoinSet;

const NAMESPACE: &str = "bench-watch";
const SEQ_ANNOTATION: &str = "bench.skiff.dev/seq";
/// Watch connections being opened at once.
const CONNECT_PARALLELISM: usize = 64;
/// Bound on opening all watchers.
const OPEN_TIMEOUT: Duration = Duration::from_secs(120);
const NOT_RECEIVED: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchResource {
    Configmaps,
    Pods,
}

impl WatchResource {
    fn plural(self) -> &'static str {
        match self {
            WatchResource::Configmaps => "configmaps",
            WatchResource::Pods => "pods",
        }
    }
}

pub struct WatchConfig {
    pub watchers: usize,
    pub events: usize,
    pub rate: f64,
    pub objects: usize,
    pub resource: WatchResource,
    /// `spec.schedulerName` of the pods written (with `--watch-resource pods`).
    pub scheduler: Option<String>,
    /// Connections the writer spreads its writes over (each carries one request at a time).
    pub writer_conns: usize,
    /// How long watchers may still take to receive everything once the writer is done.
    pub grace: Duration,
}

#[derive(Debug, Serialize)]
pub struct WatchResult {
    pub resource: WatchResource,
    pub watchers: usize,
    pub watchers_started: usize,
    pub watcher_start_errors: Vec<String>,
    pub open_s: f64,
    pub writes: usize,
    pub writes_ok: usize,
    pub write_errors: Vec<String>,
    pub objects: usize,
    pub writer_conns: usize,
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub write_latency: Latency,
    /// Per (watcher, event): received − writer's acknowledgement (0 when the event came first).
    pub delivery_from_ack: Latency,
    /// Per (watcher, event): received − writer sent the request.
    pub delivery_from_send: Latency,
    /// Per event: the last watcher's receipt − acknowledgement.
    pub all_watchers_from_ack: Latency,
    /// Events that reached a watcher before the writer had read its own response.
    pub before_ack: u64,
    pub expected_deliveries: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub wrong_type: u64,
    pub error_events: u64,
    pub streams_ended_early: usize,
    pub stream_errors: Vec<String>,
    pub exactly_once: bool,
    pub cpu_during_writes: server::CpuUse,
    pub server_rss_with_watchers_bytes: u64,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    object: EventObject<'a>,
}

#[derive(Deserialize)]
struct EventObject<'a> {
    #[serde(borrow, default)]
    metadata: Option<EventMeta<'a>>,
}

#[derive(Deserialize)]
struct EventMeta<'a> {
    #[serde(borrow, default)]
    annotations: Option<EventAnnotations<'a>>,
}

#[derive(Deserialize)]
struct EventAnnotations<'a> {
    #[serde(rename = "bench.skiff.dev/seq", borrow, default)]
    seq: Option<&'a str>,
}

#[derive(Default)]
struct WatcherOut {
    /// Arrival of each write's event, in ns since the run's epoch, or NOT_RECEIVED.
    recv: Vec<u64>,
    duplicates: u64,
    wrong_type: u64,
    error_events: u64,
    ended_early: bool,
    end_error: Option<String>,
}

impl WatcherOut {
    /// Records one event line; returns 1 if it was the first arrival of a write's event.
    fn on_line(&mut self, line: &[u8], now: u64, events: usize, objects: usize) -> usize {
        let Some((kind, seq)) = parse_line(line) else {
            self.error_events += 1;
            return 0;
        };
        if kind == "BOOKMARK" {
            return 0;
        }
        let Some(seq) = seq.filter(|s| *s < events && kind != "ERROR") else {
            self.error_events += 1;
            return 0;
        };
        if kind != expected_type(seq, objects) {
            self.wrong_type += 1;
        }
        if self.recv[seq] == NOT_RECEIVED {
            self.recv[seq] = now;
            1
        } else {
            self.duplicates += 1;
            0
        }
    }
}

const SEQ_NEEDLE: &[u8] = b"\"bench.skiff.dev/seq\":\"";

/// The event type and the write's sequence number of one watch event line. The fast path reads the
/// compact form the server writes (`{"type":"ADDED","object":{...}}`) without decoding the whole object,
/// so that 1,000 watchers cost this process as little CPU as possible (it shares the machine with the
/// server); anything else is decoded in full.
fn parse_line(line: &[u8]) -> Option<(&str, Option<usize>)> {
    let fast = || -> Option<(&str, Option<usize>)> {
        let rest = line.strip_prefix(b"{\"type\":\"")?;
        let kind = std::str::from_utf8(&rest[..memchr::memchr(b'"', rest)?]).ok()?;
        let at = memchr::memmem::find(line, SEQ_NEEDLE)? + SEQ_NEEDLE.len();
        let digits = &line[at..at + memchr::memchr(b'"', &line[at..])?];
        let seq = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((kind, Some(seq)))
    };
    if let Some(found) = fast() {
        return Some(found);
    }
    let ev: Event = serde_json::from_slice(line).ok()?;
    let seq = ev
        .object
        .metadata
        .and_then(|m| m.annotations)
        .and_then(|a| a.seq)
        .and_then(|s| s.parse::<usize>().ok());
    Some((ev.kind, seq))
}

/// Writes `0..objects` create an object (ADDED); later writes update one (MODIFIED).
fn expected_type(seq: usize, objects: usize) -> &'static str {
    if seq < objects {
        "ADDED"
    } else {
        "MODIFIED"
    }
}

#[allow(clippy::too_many_arguments)]
async fn watcher(
    addr: SocketAddr,
    path: Arc<str>,
    events: usize,
    objects: usize,
    epoch: Instant,
    deadline: Instant,
    permits: Arc<Semaphore>,
    ready: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<WatcherOut> {
    let permit = permits.acquire_owned().await?;
    let mut conn = Conn::connect(addr).await?;
    let resp = conn.stream(&path).await?;
    if resp.status() != StatusCode::OK {
        let status = resp.status();
        let body = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect())
            .await
            .ok()
            .and_then(|r| r.ok())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        bail!("watch answered {status}: {}", excerpt(&body));
    }
    drop(permit);
    ready.fetch_add(1, Ordering::SeqCst);
    let mut body = resp.into_body();
    let mut out = WatcherOut {
        recv: vec![NOT_RECEIVED; events],
        ..Default::default()
    };
    let mut received = 0usize;
    let mut buf = BytesMut::new();
    let sleep = tokio::time::sleep_until(deadline.into());
    tokio::pin!(sleep);
    while received < events {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = stop.changed() => break,
            _ = &mut sleep => break,
        };
        let data: Bytes = match frame {
            None => {
                out.ended_early = true;
                break;
            }
            Some(Err(e)) => {
                out.ended_early = true;
                out.end_error = Some(format!("watch stream failed: {e}"));
                break;
            }
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        let now = epoch.elapsed().as_nanos() as u64;
        // Split into lines without copying, except for a line that spans frames.
        let data = if buf.is_empty() {
            data
        } else {
            buf.extend_from_slice(&data);
            buf.split().freeze()
        };
        let mut start = 0;
        while let Some(off) = memchr::memchr(b'\n', &data[start..]) {
            let line = &data[start..start + off];
            start += off + 1;
            received += out.on_line(line, now, events, objects);
        }
        if start < data.len() {
            buf.extend_from_slice(&data[start..]);
        }
    }
    Ok(out)
}

fn new_object(resource: WatchResource, name: &str, seq: usize, scheduler: Option<&str>) -> Value {
    match resource {
        WatchResource::Configmaps => json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}, "annotations": {SEQ_ANNOTATION: seq.to_string()}},
            "data": {"mode": "bench", "counter": seq.to_string(), "app.properties": "log.level=info\nworkers=4\n"},
        }),
        WatchResource::Pods => {
            let mut v: Value =
                serde_json::from_slice(&crate::creates::pod_json(NAMESPACE, name, seq, scheduler))
                    .expect("pod json");
            v["metadata"]["annotations"] = json!({SEQ_ANNOTATION: seq.to_string()});
            v
        }
    }
}

fn updated_object(resource: WatchResource, mut last: Value, seq: usize) -> Value {
    last["metadata"]["annotations"][SEQ_ANNOTATION] = json!(seq.to_string());
    if resource == WatchResource::Configmaps {
        last["data"]["counter"] = json!(seq.to_string());
    }
    last
}

struct WriterOut {
    sent: Vec<u64>,
    ack: Vec<u64>,
    ok: Vec<bool>,
    latency: hdrhistogram::Histogram<u64>,
    errors: Vec<String>,
    elapsed: Duration,
}

/// One finished write.
struct WriteDone {
    seq: usize,
    sent: u64,
    ack: u64,
    took: Duration,
    error: Option<String>,
}

/// Writes `cfg.events` times at a steady `cfg.rate`, from a pool of `cfg.writer_conns` connections so
/// that a slow commit does not slow the pace. Writes to one object stay in order: each holds the object's
/// lock (and its last stored version, for the next update) until the server has answered.
async fn writer(addr: SocketAddr, cfg: &WatchConfig, epoch: Instant) -> anyhow::Result<WriterOut> {
    let plural = cfg.resource.plural();
    let objects = cfg.objects.max(1);
    let conns = cfg.writer_conns.max(1);
    let (pool_tx, mut pool_rx) = mpsc::channel::<Conn>(conns);
    for _ in 0..conns {
        pool_tx.send(Conn::connect(addr).await?).await?;
    }
    let last: Vec<Arc<Mutex<Option<Value>>>> =
        (0..objects).map(|_| Arc::new(Mutex::new(None))).collect();
    let mut out = WriterOut {
        sent: vec![0; cfg.events],
        ack: vec![0; cfg.events],
        ok: vec![false; cfg.events],
        latency: stats::histogram(),
        errors: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let record = |out: &mut WriterOut, done: WriteDone| {
        out.sent[done.seq] = done.sent;
        out.ack[done.seq] = done.ack;
        stats::record(&mut out.latency, done.took);
        match done.error {
            None => out.ok[done.seq] = true,
            Some(e) if out.errors.len() < 5 => out.errors.push(e),
            Some(_) => {}
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / cfg.rate.max(0.001)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let time_limit = Duration::from_secs_f64(cfg.events as f64 / cfg.rate.max(0.001) * 3.0 + 60.0);
    let wait = REQUEST_TIMEOUT * 2;
    let mut tasks = JoinSet::new();
    for seq in 0..cfg.events {
        tick.tick().await;
        if started.elapsed() > time_limit {
            out.errors.push(format!(
                "writer stopped after {seq} writes: over its time limit {time_limit:?}"
            ));
            break;
        }
        while let Some(done) = tasks.try_join_next() {
            record(&mut out, done.context("a write task panicked")?);
        }
        let o = seq % objects;
        let Ok(mut guard) = tokio::time::timeout(wait, last[o].clone().lock_owned()).await else {
            out.errors.push(format!(
                "write {seq}: the previous write of its object never finished"
            ));
            break;
        };
        let Ok(Some(mut conn)) = tokio::time::timeout(wait, pool_rx.recv()).await else {
            out.errors
                .push(format!("write {seq}: no writer connection left"));
            break;
        };
        let name = format!("w-{o:04}");
        let (method, path, body) = match guard.take() {
            None if seq < objects => (
                Method::POST,
                format!("/api/v1/namespaces/{NAMESPACE}/{plural}"),
                new_object(cfg.resource, &name, seq, cfg.scheduler.as_deref()),
            ),
            None => {
                // Its create failed: nothing to update.
                pool_tx.send(conn).await?;
                continue;
            }
            Some(prev) => (
                Method::PUT,
                format!("/api/v1/namespaces/{NAMESPACE}/{plural}/{name}"),
                updated_object(cfg.resource, prev, seq),
            ),
        };
        let body = Bytes::from(serde_json::to_vec(&body)?);
        let pool_tx = pool_tx.clone();
        tasks.spawn(async move {
            let t0 = Instant::now();
            let sent = epoch.elapsed().as_nanos() as u64;
            let res = conn.request(method, &path, Some(body)).await;
            let ack = epoch.elapsed().as_nanos() as u64;
            let took = t0.elapsed();
            let (error, healthy) = match res {
                Ok((status, resp)) if status.is_success() => {
                    *guard = serde_json::from_slice(&resp).ok();
                    (None, true)
                }
                Ok((status, resp)) => (
                    Some(format!("write {seq}: {status}: {}", excerpt(&resp))),
                    true,
                ),
                Err(e) => (Some(format!("write {seq}: {e:#}")), false),
            };
            drop(guard);
            if healthy {
                let _ = pool_tx.send(conn).await;
            }
            WriteDone {
                seq,
                sent,
                ack,
                took,
                error,
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        record(&mut out, done.context("a write task panicked")?);
    }
    out.elapsed = started.elapsed();
    Ok(out)
}

pub async fn run(srv: &Server, cfg: &WatchConfig) -> anyhow::Result<WatchResult> {
    let plural = cfg.resource.plural();
    let objects = cfg.objects.clamp(1, cfg.events.max(1));
    let mut admin = Conn::connect(srv.addr).await?;
    ensure_namespace(&mut admin, NAMESPACE).await?;
    let (status, body) = admin
        .request(
            Method::GET,
            &format!("/api/v1/namespaces/{NAMESPACE}/{plural}"),
            None,
        )
        .await?;
    if !status.is_success() {
        bail!("listing {plural}: {status}: {}", excerpt(&body));
    }
    let rv = resource_version(&body).context("listing before watching")?;
    let write_secs = cfg.events as f64 / cfg.rate.max(0.001);
    let timeout_secs = (write_secs + cfg.grace.as_secs_f64()) as u64 + 300;
    let path: Arc<str> =
        format!("/api/v1/namespaces/{NAMESPACE}/{plural}?watch=true&resourceVersion={rv}&timeoutSeconds={timeout_secs}").into();

    let epoch = Instant::now();
    let deadline =
        epoch + OPEN_TIMEOUT + Duration::from_secs_f64(write_secs * 3.0 + 60.0) + cfg.grace;
    let permits = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let ready = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(cfg.watchers);
    for _ in 0..cfg.watchers {
        tasks.push(tokio::spawn(watcher(
            srv.addr,
            path.clone(),
            cfg.events,
            objects,
            epoch,
            deadline,
            permits.clone(),
            ready.clone(),
            stop_rx.clone(),
        )));
    }
    // Wait until every watcher has its response headers (or has failed), within OPEN_TIMEOUT.
    let open_started = Instant::now();
    loop {
        let finished = tasks.iter().filter(|t| t.is_finished()).count();
        if ready.load(Ordering::SeqCst) + finished >= cfg.watchers
            || open_started.elapsed() > OPEN_TIMEOUT
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_s = open_started.elapsed().as_secs_f64();
    let started = ready.load(Ordering::SeqCst);
    eprintln!(
        "  {started}/{} watchers open after {open_s:.2}s; writing {} events at {}/s",
        cfg.watchers, cfg.events, cfg.rate
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_with_watchers = srv.memory()?.rss_bytes;

    let mark = srv.cpu_mark()?;
    let wcfg = WatchConfig {
        objects,
        scheduler: cfg.scheduler.clone(),
        ..*cfg
    };
    let w = writer(srv.addr, &wcfg, epoch).await?;
    let cpu_during_writes = srv.cpu_since(&mark)?;

    // Give the watchers the grace period to receive the rest, then stop them.
    let grace_end = Instant::now() + cfg.grace;
    while Instant::now() < grace_end && !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(true);

    let mut from_ack = stats::histogram();
    let mut from_send = stats::histogram();
    let mut last_recv = vec![0u64; cfg.events];
    let mut res = WatchResult {
        resource: cfg.resource,
        watchers: cfg.watchers,
        watchers_started: 0,
        watcher_start_errors: Vec::new(),
        open_s,
        writes: cfg.events,
        writes_ok: w.ok.iter().filter(|o| **o).count(),
        write_errors: w.errors.clone(),
        objects,
        writer_conns: cfg.writer_conns,
        target_rate: cfg.rate,
        achieved_rate: cfg.events as f64 / w.elapsed.as_secs_f64(),
        write_latency: Latency::of(&w.latency),
        delivery_from_ack: Latency::of(&stats::histogram()),
        delivery_from_send: Latency::of(&stats::histogram()),
        all_watchers_from_ack: Latency::of(&stats::histogram()),
        before_ack: 0,
        expected_deliveries: 0,
        delivered: 0,
        missing: 0,
        duplicates: 0,
        wrong_type: 0,
        error_events: 0,
        streams_ended_early: 0,
        stream_errors: Vec::new(),
        exactly_once: false,
        cpu_during_writes,
        server_rss_with_watchers_bytes: rss_with_watchers,
    };
    for t in tasks {
        match t.await {
            Ok(Ok(out)) => {
                res.watchers_started += 1;
                res.duplicates += out.duplicates;
                res.wrong_type += out.wrong_type;
                res.error_events += out.error_events;
                res.streams_ended_early += usize::from(out.ended_early);
                if let Some(e) = out.end_error {
                    if res.stream_errors.len() < 5 {
                        res.stream_errors.push(e);
                    }
                }
                for (seq, &at) in out.recv.iter().enumerate() {
                    if !w.ok[seq] {
                        if at != NOT_RECEIVED {
                            res.error_events += 1; // an event for a write that failed
                        }
                        continue;
                    }
                    res.expected_deliveries += 1;
                    if at == NOT_RECEIVED {
                        res.missing += 1;
                        continue;
                    }
                    res.delivered += 1;
                    if at < w.ack[seq] {
                        res.before_ack += 1;
                    }
                    stats::record(
                        &mut from_ack,
                        Duration::from_nanos(at.saturating_sub(w.ack[seq])),
                    );
                    stats::record(
                        &mut from_send,
                        Duration::from_nanos(at.saturating_sub(w.sent[seq])),
                    );
                    last_recv[seq] = last_recv[seq].max(at);
                }
            }
            Ok(Err(e)) => {
                if res.watcher_start_errors.len() < 5 {
                    res.watcher_start_errors.push(format!("{e:#}"));
                }
                // A watcher that never started missed every successful write.
                let n = w.ok.iter().filter(|o| **o).count() as u64;
                res.expected_deliveries += n;
                res.missing += n;
            }
            Err(e) => bail!("a watcher task panicked: {e}"),
        }
    }
    let mut all = stats::histogram();
    for ((&last, &ok), &ack) in last_recv.iter().zip(&w.ok).zip(&w.ack) {
        if ok && last > 0 {
            stats::record(&mut all, Duration::from_nanos(last.saturating_sub(ack)));
        }
    }
    res.delivery_from_ack = Latency::of(&from_ack);
    res.delivery_from_send = Latency::of(&from_send);
    res.all_watchers_from_ack = Latency::of(&all);
    res.exactly_once = res.watchers_started == cfg.watchers
        && res.writes_ok == cfg.events
        && res.missing == 0
        && res.duplicates == 0
        && res.wrong_type == 0
        && res.error_events == 0;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_lines() {
        let added = br#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"w-0001","annotations":{"bench.skiff.dev/seq":"17"},"managedFields":[{"fieldsV1":{"f:metadata":{"f:annotations":{"f:bench.skiff.dev/seq":{}}}}}]}}}"#;
        assert_eq!(parse_line(added), Some(("ADDED", Some(17))));
        let spaced = br#"{ "type": "MODIFIED", "object": {"metadata": {"annotations": {"bench.skiff.dev/seq": "3"}}}}"#;
        assert_eq!(parse_line(spaced), Some(("MODIFIED", Some(3))));
        let bookmark = br#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"9"}}}"#;
        assert_eq!(parse_line(bookmark), Some(("BOOKMARK", None)));
        assert_eq!(parse_line(b"not json"), None);
    }

    #[test]
    fn counts_arrivals_once() {
        let mut out = WatcherOut {
            recv: vec![NOT_RECEIVED; 4],
            ..Default::default()
        };
        let line = br#"{"type":"ADDED","object":{"metadata":{"annotations":{"bench.skiff.dev/seq":"1"}}}}"#;
        assert_eq!(out.on_line(line, 5, 4, 2), 1);
        assert_eq!(out.on_line(line, 6, 4, 2), 0);
        assert_eq!((out.recv[1], out.duplicates, out.wrong_type), (5, 1, 0));
        let late = br#"{"type":"ADDED","object":{"metadata":{"annotations":{"bench.skiff.dev/seq":"3"}}}}"#;
        assert_eq!(out.on_line(late, 7, 4, 2), 1);
        assert_eq!(out.wrong_type, 1);
    }
}
