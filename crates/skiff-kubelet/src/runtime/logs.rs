//! CRI-format container logs: the writer the shim uses and the reader behind `kubectl logs`.
//!
//! Each line of the file is `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>`, for example
//! `2016-10-06T00:17:09.669794202Z stdout F hello`. Lines longer than [`MAX_LINE`] bytes are split
//! into `P` (partial) records followed by one `F` (full) record; the reader joins them again.

use std::future::Future;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest content of one record; longer lines are split into partial records.
pub const MAX_LINE: usize = 16 * 1024;

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Formats a timestamp the way CRI logs (and `kubectl logs --timestamps`) do.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Appends CRI records to a log file (share it between streams behind a mutex).
pub struct CriLogWriter<W: Write> {
    out: W,
}

impl CriLogWriter<std::fs::File> {
    /// Opens (creating, appending) the log file at `path`, creating its directory.
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(CriLogWriter { out: f })
    }
}

impl<W: Write> CriLogWriter<W> {
    pub fn new(out: W) -> Self {
        CriLogWriter { out }
    }

    /// Writes one record (content without its newline) and flushes.
    pub fn write_record(
        &mut self,
        time: DateTime<Utc>,
        stream: Stream,
        partial: bool,
        content: &[u8],
    ) -> io::Result<()> {
        let mut rec = Vec::with_capacity(content.len() + 48);
        rec.extend_from_slice(format_timestamp(time).as_bytes());
        rec.push(b' ');
        rec.extend_from_slice(stream.as_str().as_bytes());
        rec.extend_from_slice(if partial { b" P " } else { b" F " });
        rec.extend_from_slice(content);
        rec.push(b'\n');
        // One write per record: O_APPEND keeps records from two streams whole.
        self.out.write_all(&rec)?;
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Copies `input` (a container's stdout or stderr) into `log` line by line until EOF. A final line
/// without a newline is written as a full record.
pub fn copy_lines<R: io::Read, W: Write>(
    input: R,
    stream: Stream,
    log: &std::sync::Mutex<CriLogWriter<W>>,
) -> io::Result<()> {
    let mut r = io::BufReader::with_capacity(64 * 1024, input);
    let mut line: Vec<u8> = Vec::new();
    let emit = |line: &[u8], partial: bool| -> io::Result<()> {
        let mut w = log.lock().unwrap_or_else(|e| e.into_inner());
        w.write_record(Utc::now(), stream, partial, line)
    };
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !line.is_empty() {
                emit(&line, false)?;
            }
            return Ok(());
        }
        let room = MAX_LINE - line.len();
        let window = &buf[..buf.len().min(room)];
        match window.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&window[..i]);
                r.consume(i + 1);
                emit(&line, false)?;
                line.clear();
            }
            None => {
                let n = window.len();
                line.extend_from_slice(window);
                r.consume(n);
                if line.len() == MAX_LINE {
                    emit(&line, true)?;
                    line.clear();
                }
            }
        }
    }
}

/// Options of `kubectl logs` (the kubelet's `PodLogOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last N lines (of what exists when reading starts).
    pub tail: Option<usize>,
    /// Prefix each line with its RFC3339Nano timestamp and a space.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
    /// Only lines at or after this time (`sinceTime`, or now minus `sinceSeconds`).
    pub since: Option<DateTime<Utc>>,
    /// Keep reading new lines until the `stop` future resolves.
    pub follow: bool,
    /// Only this stream; `None`: both.
    pub stream: Option<Stream>,
}

/// One joined log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub stream: Stream,
    /// Content without a newline.
    pub content: Vec<u8>,
    /// The line ended with an `F` record (false for a trailing, unfinished partial line).
    pub complete: bool,
}

/// Parses one record; `None` for a malformed line (skipped, as the kubelet does).
pub fn parse_record(line: &[u8]) -> Option<(DateTime<Utc>, Stream, bool, &[u8])> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let ts = std::str::from_utf8(parts.next()?).ok()?;
    let time = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some((time, stream, partial, parts.next().unwrap_or(b"")))
}

/// Incremental parser: feed raw file bytes, get joined lines.
#[derive(Default)]
struct Parser {
    /// Bytes after the last newline seen.
    rest: Vec<u8>,
    /// Pending partial line per stream (stdout, stderr).
    pending: [Option<LogLine>; 2],
}

impl Parser {
    fn feed(&mut self, data: &[u8], out: &mut Vec<LogLine>) {
        self.rest.extend_from_slice(data);
        let mut start = 0;
        while let Some(i) = self.rest[start..].iter().position(|&b| b == b'\n') {
            let end = start + i;
            if let Some((time, stream, partial, content)) = parse_record(&self.rest[start..end]) {
                let slot = &mut self.pending[stream as usize];
                let entry = slot.get_or_insert_with(|| LogLine {
                    time,
                    stream,
                    content: Vec::new(),
                    complete: false,
                });
                entry.content.extend_from_slice(content);
                if !partial {
                    let mut line = slot.take().unwrap();
                    line.complete = true;
                    out.push(line);
                }
            }
            start = end + 1;
        }
        self.rest.drain(..start);
    }

    /// Unfinished partial lines (shown at the end when not following).
    fn take_pending(&mut self) -> Vec<LogLine> {
        let mut v: Vec<LogLine> = self.pending.iter_mut().filter_map(|p| p.take()).collect();
        v.sort_by_key(|l| l.time);
        v
    }
}

/// Output side: filters and formats lines, counts bytes.
struct Output<'a> {
    opts: &'a LogOptions,
    written: u64,
}

impl Output<'_> {
    fn wanted(&self, l: &LogLine) -> bool {
        self.opts.since.is_none_or(|s| l.time >= s)
            && self.opts.stream.is_none_or(|s| s == l.stream)
    }

    fn done(&self) -> bool {
        self.opts.limit_bytes.is_some_and(|lim| self.written >= lim)
    }

    /// Formats the lines, truncated to the byte limit.
    fn format(&mut self, lines: &[LogLine]) -> Vec<u8> {
        let mut buf = Vec::new();
        for l in lines {
            if self.opts.timestamps {
                buf.extend_from_slice(format_timestamp(l.time).as_bytes());
                buf.push(b' ');
            }
            buf.extend_from_slice(&l.content);
            if l.complete {
                buf.push(b'\n');
            }
        }
        if let Some(lim) = self.opts.limit_bytes {
            let room = lim.saturating_sub(self.written) as usize;
            buf.truncate(room);
        }
        self.written += buf.len() as u64;
        buf
    }
}

/// Reads the whole log now (ignores `follow`) and returns what `kubectl logs` shows.
pub fn read_logs(path: &Path, opts: &LogOptions) -> io::Result<Vec<u8>> {
    let data = std::fs::read(path)?;
    let mut p = Parser::default();
    let mut lines = Vec::new();
    p.feed(&data, &mut lines);
    lines.extend(p.take_pending());
    let mut out = Output { opts, written: 0 };
    lines.retain(|l| out.wanted(l));
    if let Some(n) = opts.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    Ok(out.format(&lines))
}

/// Writes the log to `out` per `opts`. With `follow`, keeps polling the file for new lines (every
/// 100 ms) until `stop` resolves (e.g. the container exited and/or the client went away), then
/// writes what is left and returns. Returns early once `limit_bytes` is reached.
pub async fn write_logs<W, F>(
    path: &Path,
    opts: &LogOptions,
    out: &mut W,
    stop: F,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    F: Future<Output = ()>,
{
    let mut file = tokio::fs::File::open(path).await?;
    let mut parser = Parser::default();
    let mut output = Output { opts, written: 0 };
    let mut chunk = Vec::new();
    file.read_to_end(&mut chunk).await?;
    let mut lines = Vec::new();
    parser.feed(&chunk, &mut lines);
    if !opts.follow {
        lines.extend(parser.take_pending());
    }
    lines.retain(|l| output.wanted(l));
    if let Some(n) = opts.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let buf = output.format(&lines);
    out.write_all(&buf).await?;
    out.flush().await?;
    if !opts.follow {
        return Ok(());
    }
    tokio::pin!(stop);
    let mut stopping = false;
    loop {
        if output.done() {
            return Ok(());
        }
        if !stopping {
            tokio::select! {
                _ = &mut stop => stopping = true,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        chunk.clear();
        file.read_to_end(&mut chunk).await?;
        let mut lines = Vec::new();
        parser.feed(&chunk, &mut lines);
        if stopping {
            lines.extend(parser.take_pending());
        }
        lines.retain(|l| output.wanted(l));
        let buf = output.format(&lines);
        if !buf.is_empty() {
            out.write_all(&buf).await?;
            out.flush().await?;
        }
        if stopping {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn writer_format() {
        let mut w = CriLogWriter::new(Vec::new());
        w.write_record(
            t("2016-10-06T00:17:09.669794202Z"),
            Stream::Stdout,
            false,
            b"hi there",
        )
        .unwrap();
        w.write_record(t("2016-10-06T00:17:10Z"), Stream::Stderr, true, b"")
            .unwrap();
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            "2016-10-06T00:17:09.669794202Z stdout F hi there\n\
             2016-10-06T00:17:10.000000000Z stderr P \n"
        );
    }

    #[test]
    fn copy_splits_long_lines() {
        let log = Mutex::new(CriLogWriter::new(Vec::new()));
        let mut input = b"a\n\nb".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE * 2 + 5));
        input.extend_from_slice(b"\nlast");
        copy_lines(&input[..], Stream::Stdout, &log).unwrap();
        let text = String::from_utf8(log.into_inner().unwrap().into_inner()).unwrap();
        let recs: Vec<(bool, usize)> = text
            .lines()
            .map(|l| {
                let (_, s, p, c) = parse_record(l.as_bytes()).unwrap();
                assert_eq!(s, Stream::Stdout);
                (p, c.len())
            })
            .collect();
        assert_eq!(
            recs,
            [
                (false, 1),
                (false, 0),
                (true, MAX_LINE),
                (true, MAX_LINE),
                (false, 6),
                (false, 4)
            ]
        );
        // The reader joins them back.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, &text).unwrap();
        let out = read_logs(&p, &LogOptions::default()).unwrap();
        let mut expect = b"a\n\nb".to_vec();
        expect.extend(std::iter::repeat_n(b'x', MAX_LINE * 2 + 5));
        expect.extend_from_slice(b"\nlast\n");
        assert_eq!(out, expect);
    }

    const SAMPLE: &str = "\
2024-01-01T00:00:01.000000001Z stdout F one
2024-01-01T00:00:02Z stderr P tw
garbage line
2024-01-01T00:00:03Z stdout F three
2024-01-01T00:00:04Z stderr F o
2024-01-01T00:00:05Z stdout F four
2024-01-01T00:00:06Z stdout F
";

    fn sample() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        std::fs::write(&p, SAMPLE).unwrap();
        (dir, p)
    }

    fn read(p: &Path, opts: LogOptions) -> String {
        String::from_utf8(read_logs(p, &opts).unwrap()).unwrap()
    }

    #[test]
    fn reader_options() {
        let (_d, p) = sample();
        assert_eq!(read(&p, LogOptions::default()), "one\nthree\ntwo\nfour\n\n");
        let tail = |n| LogOptions {
            tail: Some(n),
            ..Default::default()
        };
        assert_eq!(read(&p, tail(2)), "four\n\n");
        assert_eq!(read(&p, tail(0)), "");
        assert_eq!(read(&p, tail(10)), "one\nthree\ntwo\nfour\n\n");
        let o = LogOptions {
            timestamps: true,
            tail: Some(3),
            ..Default::default()
        };
        assert_eq!(
            read(&p, o),
            "2024-01-01T00:00:02.000000000Z two\n\
             2024-01-01T00:00:05.000000000Z four\n\
             2024-01-01T00:00:06.000000000Z \n"
        );
        let o = LogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(read(&p, o), "one\nth");
        let o = LogOptions {
            since: Some(t("2024-01-01T00:00:03Z")),
            ..Default::default()
        };
        assert_eq!(read(&p, o), "three\nfour\n\n");
        let o = LogOptions {
            stream: Some(Stream::Stderr),
            ..Default::default()
        };
        assert_eq!(read(&p, o), "two\n");
    }

    #[test]
    fn unfinished_partial_shown_at_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        std::fs::write(
            &p,
            "2024-01-01T00:00:01Z stdout F a\n2024-01-01T00:00:02Z stdout P bc\n",
        )
        .unwrap();
        assert_eq!(read(&p, LogOptions::default()), "a\nbc");
    }

    #[tokio::test]
    async fn follow_until_stopped() {
        let (_d, p) = sample();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let opts = LogOptions {
            follow: true,
            tail: Some(1),
            ..Default::default()
        };
        let path = p.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            write_logs(&path, &opts, &mut out, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
            out
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        {
            let log = Mutex::new(CriLogWriter::open(&p).unwrap());
            copy_lines(&b"new one\nhalf"[..], Stream::Stdout, &log).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        tx.send(()).unwrap();
        let out = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\nnew one\nhalf\n");
    }

    #[tokio::test]
    async fn follow_stops_at_limit() {
        let (_d, p) = sample();
        let opts = LogOptions {
            follow: true,
            limit_bytes: Some(3),
            ..Default::default()
        };
        let mut out = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(5),
            write_logs(&p, &opts, &mut out, std::future::pending()),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(out, b"one");
    }
}
