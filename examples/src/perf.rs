//! The bookkeeping and output lines of the two performance tools, in the
//! layouts of Kafka's `ProducerPerformance` and `ConsumerPerformance`.

use std::time::{Duration, Instant};

use crate::javafmt::{DateFormat, fixed};

const MB: f64 = 1024.0 * 1024.0;

/// `ProducerPerformance.Stats`: totals, a 5-second window for the
/// periodic lines, and a sample of at most 500 000 latencies for the
/// percentiles.
#[derive(Debug, Clone)]
pub struct ProducerStats {
    start: Instant,
    latencies: Vec<i64>,
    sampling: u64,
    iteration: u64,
    count: u64,
    bytes: u64,
    max_latency: i64,
    total_latency: i64,
    window_count: u64,
    window_max_latency: i64,
    window_total_latency: i64,
    window_bytes: u64,
    window_start: Instant,
    reporting_interval: Duration,
}

impl ProducerStats {
    /// Stats for a run of `num_records`, starting now.
    pub fn new(num_records: u64, now: Instant) -> ProducerStats {
        let num_records = num_records.max(1);
        let sampling = num_records / num_records.min(500_000);
        ProducerStats {
            start: now,
            latencies: Vec::with_capacity((num_records / sampling + 1) as usize),
            sampling,
            iteration: 0,
            count: 0,
            bytes: 0,
            max_latency: 0,
            total_latency: 0,
            window_count: 0,
            window_max_latency: 0,
            window_total_latency: 0,
            window_bytes: 0,
            window_start: now,
            reporting_interval: Duration::from_secs(5),
        }
    }

    /// Counts a record acknowledged `latency_ms` after it was sent; returns
    /// the window line to print when the reporting interval is over.
    pub fn record(&mut self, latency_ms: i64, bytes: usize, now: Instant) -> Option<String> {
        self.count += 1;
        self.bytes += bytes as u64;
        self.total_latency += latency_ms;
        self.max_latency = self.max_latency.max(latency_ms);
        self.window_count += 1;
        self.window_bytes += bytes as u64;
        self.window_total_latency += latency_ms;
        self.window_max_latency = self.window_max_latency.max(latency_ms);
        if self.iteration.is_multiple_of(self.sampling) {
            self.latencies.push(latency_ms);
        }
        self.iteration += 1;
        if now.duration_since(self.window_start) >= self.reporting_interval {
            let line = self.window_line(now);
            self.window_start = now;
            self.window_count = 0;
            self.window_max_latency = 0;
            self.window_total_latency = 0;
            self.window_bytes = 0;
            return Some(line);
        }
        None
    }

    /// Records acknowledged so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Payload bytes acknowledged so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn window_line(&self, now: Instant) -> String {
        let elapsed = millis(now.duration_since(self.window_start));
        let recs = 1000.0 * self.window_count as f64 / elapsed;
        let mbs = 1000.0 * self.window_bytes as f64 / elapsed / MB;
        format!(
            "{} records sent, {} records/sec ({} MB/sec), {} ms avg latency, {} ms max latency.",
            self.window_count,
            fixed(recs, 1),
            fixed(mbs, 2),
            fixed(self.window_total_latency as f64 / self.window_count as f64, 1),
            fixed(self.window_max_latency as f64, 1),
        )
    }

    /// The summary line, as of `now`.
    pub fn total_line(&mut self, now: Instant) -> String {
        let elapsed = millis(now.duration_since(self.start));
        let recs = 1000.0 * self.count as f64 / elapsed;
        let mbs = 1000.0 * self.bytes as f64 / elapsed / MB;
        let [p50, p95, p99, p999] = self.percentiles([0.5, 0.95, 0.99, 0.999]);
        format!(
            "{} records sent, {} records/sec ({} MB/sec), {} ms avg latency, {} ms max latency, \
             {p50} ms 50th, {p95} ms 95th, {p99} ms 99th, {p999} ms 99.9th.",
            self.count,
            fixed(recs, 6),
            fixed(mbs, 2),
            fixed(self.total_latency as f64 / self.count as f64, 2),
            fixed(self.max_latency as f64, 2),
        )
    }

    /// Kafka's percentiles: the sampled latency at index `p × samples`.
    fn percentiles<const N: usize>(&mut self, ps: [f64; N]) -> [i64; N] {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        ps.map(|p| self.latencies.get((p * n as f64) as usize).copied().unwrap_or(0))
    }
}

/// Milliseconds of a duration as Java's `currentTimeMillis` differences
/// are: whole milliseconds.
fn millis(d: Duration) -> f64 {
    d.as_millis() as f64
}

/// Paces sending to a target number of records per second (the
/// `--throughput` of the producer perf test); a target ≤ 0 disables it.
#[derive(Debug, Clone, Copy)]
pub struct Throttler {
    per_second: f64,
    start: Instant,
}

impl Throttler {
    /// A throttler whose schedule starts at `start`.
    pub fn new(per_second: f64, start: Instant) -> Throttler {
        Throttler { per_second, start }
    }

    /// How long to wait before sending record number `sent` (0-based) so
    /// that the rate stays at the target on average, or None to go on.
    /// Waits under a millisecond are skipped, as Kafka's throttler skips
    /// sleeps below its minimum.
    pub fn delay(&self, sent: u64, now: Instant) -> Option<Duration> {
        if self.per_second <= 0.0 {
            return None;
        }
        let due = self.start + Duration::from_secs_f64(sent as f64 / self.per_second);
        let wait = due.saturating_duration_since(now);
        (wait >= Duration::from_millis(1)).then_some(wait)
    }
}

/// `ToolsUtils.printMetrics`: a blank line, a header, then one line per
/// metric sorted by `group:name:{tags}`, values with three decimals.
pub fn metrics_table(metrics: &[(String, f64)]) -> String {
    let mut sorted: Vec<&(String, f64)> = metrics.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let width = sorted.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).max("Metric Name".len());
    let mut out = format!("\n{:<width$}   {}\n", "Metric Name", "Value");
    for (name, value) in sorted {
        out.push_str(&format!("{name:<width$} : {}\n", fixed(*value, 3)));
    }
    out
}

/// The header line of `kafka-consumer-perf-test`.
pub fn consumer_header(detailed: bool) -> String {
    let first = if detailed { "time, threadId" } else { "start.time, end.time" };
    format!(
        "{first}, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, \
         fetch.MB.sec, fetch.nMsg.sec"
    )
}

/// What the consumer perf test measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerTotals {
    /// When consuming started (ms since the epoch).
    pub start_ms: i64,
    /// When it ended.
    pub end_ms: i64,
    /// Key and value bytes read.
    pub bytes: u64,
    /// Records read.
    pub messages: u64,
    /// Time spent joining the group (rebalances), in ms.
    pub join_ms: i64,
}

impl ConsumerTotals {
    /// Seconds from start to end.
    pub fn elapsed_secs(&self) -> f64 {
        (self.end_ms - self.start_ms) as f64 / 1000.0
    }

    /// Megabytes (MiB) read.
    pub fn megabytes(&self) -> f64 {
        self.bytes as f64 / MB
    }

    /// The result line: start and end time, MB, MB/s, records, records/s,
    /// rebalance time, fetch time, and MB/s and records/s of the fetch time.
    pub fn summary_line(&self, dates: &DateFormat) -> String {
        let elapsed = self.elapsed_secs();
        let fetch_ms = (self.end_ms - self.start_ms) - self.join_ms;
        let mb = self.megabytes();
        format!(
            "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
            dates.format(self.start_ms),
            dates.format(self.end_ms),
            fixed(mb, 4),
            fixed(mb / elapsed, 4),
            self.messages,
            fixed(self.messages as f64 / elapsed, 4),
            self.join_ms,
            fetch_ms,
            fixed(mb / (fetch_ms as f64 / 1000.0), 4),
            fixed(self.messages as f64 / (fetch_ms as f64 / 1000.0), 4),
        )
    }
}

/// One `--show-detailed-stats` line: the interval from `last` to `now`.
pub fn consumer_progress_line(
    dates: &DateFormat,
    now: &ConsumerTotals,
    last_bytes: u64,
    last_messages: u64,
    join_ms_in_interval: i64,
) -> String {
    let elapsed_ms = (now.end_ms - now.start_ms) as f64;
    let interval_mb = (now.bytes - last_bytes) as f64 / MB;
    let interval_msgs = now.messages - last_messages;
    let fetch_ms = now.end_ms - now.start_ms - join_ms_in_interval;
    let fetch_mb_sec = if fetch_ms <= 0 { 0.0 } else { 1000.0 * interval_mb / fetch_ms as f64 };
    let fetch_msg_sec = if fetch_ms <= 0 { 0.0 } else { 1000.0 * interval_msgs as f64 / fetch_ms as f64 };
    format!(
        "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
        dates.format(now.end_ms),
        0,
        fixed(now.megabytes(), 4),
        fixed(1000.0 * interval_mb / elapsed_ms, 4),
        now.messages,
        fixed(interval_msgs as f64 / elapsed_ms * 1000.0, 4),
        join_ms_in_interval,
        fetch_ms,
        fixed(fetch_mb_sec, 4),
        fixed(fetch_msg_sec, 4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_lines() {
        let t0 = Instant::now();
        let mut s = ProducerStats::new(4, t0);
        for (i, lat) in [5, 1, 3, 7].into_iter().enumerate() {
            assert!(s.record(lat, 100, t0 + Duration::from_millis(i as u64)).is_none());
        }
        let line = s.record(2, 100, t0 + Duration::from_secs(5));
        assert_eq!(
            line.as_deref(),
            Some("5 records sent, 1.0 records/sec (0.00 MB/sec), 3.6 ms avg latency, 7.0 ms max latency.")
        );
        let total = s.total_line(t0 + Duration::from_secs(10));
        assert_eq!(
            total,
            "5 records sent, 0.500000 records/sec (0.00 MB/sec), 3.60 ms avg latency, 7.00 ms max latency, \
             3 ms 50th, 7 ms 95th, 7 ms 99th, 7 ms 99.9th."
        );
    }

    #[test]
    fn throttling_keeps_the_schedule() {
        let t0 = Instant::now();
        let t = Throttler::new(100.0, t0);
        assert_eq!(t.delay(0, t0), None);
        assert_eq!(t.delay(50, t0), Some(Duration::from_millis(500)));
        assert_eq!(t.delay(50, t0 + Duration::from_secs(1)), None);
        assert_eq!(Throttler::new(-1.0, t0).delay(1_000_000, t0), None);
    }

    #[test]
    fn consumer_summary() {
        let dates = DateFormat::new("yyyy-MM-dd HH:mm:ss:SSS").unwrap();
        let t = ConsumerTotals { start_ms: 0, end_ms: 2000, bytes: 2 * 1024 * 1024, messages: 1000, join_ms: 1000 };
        assert_eq!(
            t.summary_line(&dates),
            "1970-01-01 00:00:00:000, 1970-01-01 00:00:02:000, 2.0000, 1.0000, 1000, 500.0000, 1000, 1000, \
             2.0000, 1000.0000"
        );
        assert!(consumer_header(false).starts_with("start.time, end.time, data.consumed.in.MB"));
    }

    #[test]
    fn metrics_layout() {
        let t = metrics_table(&[("b:x:{}".into(), 2.0), ("a:y:{client-id=c}".into(), 0.5)]);
        assert_eq!(t, "\nMetric Name         Value\na:y:{client-id=c} : 0.500\nb:x:{}            : 2.000\n");
    }
}
