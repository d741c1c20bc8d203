//! The workload on rust-rdkafka (librdkafka), the way a performance-minded
//! user drives it: `BaseProducer` with a delivery callback (librdkafka's
//! native DR path, no future or channel per message), served by `poll`
//! from the sending thread; `BaseConsumer::poll` for the consumer.
//!
//! Producer: `send` every record; on QueueFull (buffer full) serve delivery
//! reports for 1 ms and retry; `poll(0)` every 256 sends; at the end serve
//! reports in 1 ms slices until none are outstanding (rust-rdkafka's own
//! `flush` polls in 100 ms slices, which would add up to 100 ms of idle
//! time to the measurement).
//!
//! Consumer: `assign` all partitions from the beginning, `poll` until every
//! record has been seen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rdkafka_compare::{Mode, Payloads, Workload, print_result, self_cpu};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("version") {
        let (hex, version) = rdkafka::util::get_rdkafka_version();
        println!("librdkafka {version} (0x{hex:08x})");
        return;
    }
    let w = Workload::from_args();
    started();
    let r = match w.mode {
        Mode::Produce => produce(&w),
        Mode::Consume => consume(&w),
    };
    if let Err(e) = r {
        eprintln!("theirs: {e}");
        std::process::exit(1);
    }
}

fn cpu() -> f64 {
    let (u, s) = self_cpu();
    u + s
}

fn started() -> Instant {
    static T: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T.get_or_init(Instant::now)
}

#[derive(Default)]
struct Reports {
    ok: AtomicU64,
    err: AtomicU64,
}

impl ClientContext for Reports {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        eprintln!("theirs: {:9.3} librdkafka {level:?} {fac}: {msg}", started().elapsed().as_secs_f64());
    }
}

/// The consumer's context: librdkafka's log lines to stderr (only with
/// `--set debug=...` is there much to see).
struct Logs;

impl ClientContext for Logs {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        eprintln!("theirs: {:9.3} librdkafka {level:?} {fac}: {msg}", started().elapsed().as_secs_f64());
    }
}

impl ConsumerContext for Logs {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                if self.err.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("theirs: delivery failed: {e}");
                }
            }
        }
    }
}

fn produce(w: &Workload) -> Result<(), KafkaError> {
    let producer = ClientConfig::new()
        .set("bootstrap.servers", &w.bootstrap)
        .set("acks", &w.acks)
        .set("enable.idempotence", if w.idempotence() { "true" } else { "false" })
        .set("compression.type", &w.compression)
        .set("batch.size", w.batch_size.to_string())
        .set("linger.ms", w.linger_ms.to_string())
        .set("max.in.flight.requests.per.connection", w.max_in_flight.to_string())
        // buffer.memory: librdkafka bounds bytes and messages; the byte
        // bound is the one that binds (the message bound is set out of reach).
        .set("queue.buffering.max.kbytes", (w.buffer_bytes / 1024).to_string())
        .set("queue.buffering.max.messages", "10000000")
        // batch.size is the only batch bound, as in kafka-client (default
        // batch.num.messages=10000 would not bind at these sizes anyway).
        .set("batch.num.messages", "1000000")
        .set("message.max.bytes", w.max_request_size.to_string())
        // The Java/kafka-client key hash, so both place every key alike.
        .set("partitioner", "murmur2_random")
        .clone();
    let producer: BaseProducer<Reports> = with_extra(producer, w).create_with_context(Reports::default())?;
    let p = Payloads::new(w.size);
    // Metadata before the clock starts (kafka-client's side does the same).
    producer.client().fetch_metadata(Some(&w.topic), Duration::from_secs(30))?;

    let cpu0 = cpu();
    let t0 = Instant::now();
    for i in 0..w.records {
        let j = (i % p.keys.len() as u64) as usize;
        let mut record = BaseRecord::to(&w.topic).key(&p.keys[j][..]).payload(&p.values[j][..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e),
            }
        }
        if i % 256 == 255 {
            producer.poll(Duration::ZERO);
        }
    }
    while producer.in_flight_count() > 0 {
        producer.poll(Duration::from_millis(1));
    }
    let elapsed = t0.elapsed();
    let phase_cpu = cpu() - cpu0;
    producer.flush(Duration::from_secs(30))?;
    let ctx = producer.context();
    let (ok, err) = (ctx.ok.load(Ordering::Relaxed), ctx.err.load(Ordering::Relaxed));
    print_result(ok, ok * w.size as u64, elapsed, phase_cpu, err + (w.records - ok - err), None);
    Ok(())
}

fn consume(w: &Workload) -> Result<(), KafkaError> {
    let group = format!("{}-theirs-{}", w.topic, std::process::id());
    let consumer = ClientConfig::new()
        .set("bootstrap.servers", &w.bootstrap)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.min.bytes", w.fetch_min_bytes.to_string())
        .set("fetch.max.bytes", w.fetch_max_bytes.to_string())
        .set("max.partition.fetch.bytes", w.max_partition_fetch_bytes.to_string())
        .set("fetch.wait.max.ms", w.fetch_max_wait_ms.to_string())
        .set("check.crcs", if w.check_crcs { "true" } else { "false" })
        .set("enable.partition.eof", "false")
        .clone();
    let consumer: BaseConsumer<Logs> = with_extra(consumer, w).create_with_context(Logs)?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..w.partitions {
        tpl.add_partition_offset(&w.topic, p, Offset::Beginning)?;
    }

    // Metadata before the clock starts: assigned before librdkafka knows
    // the leaders, it waits for its offset-query timer (about 500 ms) before
    // the first fetch. kafka-client looks its metadata up inside the timed
    // phase (a few ms).
    consumer.fetch_metadata(Some(&w.topic), Duration::from_secs(30))?;

    let cpu0 = cpu();
    let t0 = Instant::now();
    consumer.assign(&tpl)?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut first: Option<Duration> = None;
    while n < w.records {
        match consumer.poll(Duration::from_secs(5)) {
            Some(Ok(m)) => {
                if n == 0 {
                    first = Some(t0.elapsed());
                }
                n += 1;
                bytes += m.payload().map_or(0, |v| v.len() as u64);
            }
            Some(Err(e)) => return Err(e),
            None => eprintln!("theirs: no record for 5 s after {n}"),
        }
    }
    let elapsed = t0.elapsed();
    let phase_cpu = cpu() - cpu0;
    print_result(n, bytes, elapsed, phase_cpu, 0, first);
    Ok(())
}

fn with_extra(mut c: ClientConfig, w: &Workload) -> ClientConfig {
    for (k, v) in &w.extra {
        c.set(k, v);
        if k == "debug" {
            c.set_log_level(RDKafkaLogLevel::Debug);
        }
    }
    c
}
