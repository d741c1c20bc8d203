#!/usr/bin/env python3
"""confluent-kafka (librdkafka 2.x) as a third-party client of broker-testkit.

Usage: testkit_clients.py SUBCOMMAND --bootstrap HOST:PORT[,...] [options]

Driven by tests/tests/testkit_interop.rs. Every subcommand prints
tab-separated lines on stdout (diagnostics go to stderr) and exits 0 on
success, 1 on any client error, so the Rust test can parse and assert:

  produce    Produce COUNT records, report each delivery:
               delivered <partition> <offset> <key> <value>
               done <delivered> <errors>
  consume    Read every partition of TOPIC from the beginning up to the high
             watermark seen at start (manual assignment, no group):
               record <partition> <offset> <key> <value>
               done <count>
  txconsume  Read TOPIC with isolation.level=read_committed from the
             beginning until --expect records came, then one second more:
               record <partition> <offset> <key> <value>
               done <count>
  txproduce  A transactional producer (--transactional-id): values
             j-0..j-(COUNT-1), five records per transaction, every third
             transaction aborted; per record:
               committed <value>  |  aborted <value>
               done <committed> <aborted>
  stream     Produce records 0, 1, 2, ... (key "<n>", value "v<n>" and the
             padding) until a line "stop" (or EOF) on stdin, then flush; the
             test disturbs the cluster meanwhile:
               delivered <partition> <offset> <key> <value>
               error <key> <error name>
               done <produced> <delivered> <errors>
  create     Create topics, one spec per argument NAME:PARTITIONS:RF[:K=V,...]:
               created <name>  |  error <name> <error name>
  describe   Describe topics:
               partition <topic> <partition> <leader> <replicas> <isr>
               error <topic> <error name>
  configs    Describe the configs of topics:
               config <topic> <name> <value> <is_default> <source>
  delete     Delete topics:
               deleted <name>  |  error <name> <error name>
  group      An interactive driver for consumers of one group; see
             GroupDriver.

Lists (replicas, isr, partitions) are comma-separated; "-" is an empty or
null field.
"""

import argparse
import os
import select
import sys
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, ResourceType

# How long any single wait may take before the script gives up: well below
# the Rust side's own timeouts, so that a hang is reported with context.
WAIT_S = 45.0


def out(*fields):
    print("\t".join("-" if f is None or f == "" else str(f) for f in fields), flush=True)


def err(msg):
    print(f"testkit_clients: {msg}", file=sys.stderr, flush=True)


def text(b):
    return None if b is None else b.decode("utf-8")


def error_name(e):
    """The Kafka error name of an exception or KafkaError, e.g. TOPIC_ALREADY_EXISTS."""
    if isinstance(e, KafkaException):
        e = e.args[0]
    if isinstance(e, KafkaError):
        return e.name()
    return type(e).__name__


def base_conf(args, extra=None):
    conf = {"bootstrap.servers": args.bootstrap, "client.id": "testkit-interop"}
    if args.debug:
        conf["debug"] = args.debug
    for kv in args.conf or []:
        k, v = kv.split("=", 1)
        conf[k] = v
    conf.update(extra or {})
    return conf


def common_args(debug_example):
    """The options of every subcommand, as an argparse parent parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", required=True)
    common.add_argument("--debug", help=f"librdkafka debug contexts, e.g. {debug_example}")
    common.add_argument("--conf", action="append", help="extra librdkafka property K=V")
    return common


def wait_polling(what, cond, poll):
    """Calls poll() until cond() holds; TimeoutError(what) after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        poll()


def serve_commands(run_command, poll, finish):
    """The loop of a steered driver: runs each command line of stdin with
    run_command(words) and replies with a line "ok <words>" or
    "error <words> <exception>"; calls poll() whenever no input is waiting,
    so that the driver's clients keep working between commands. A "quit"
    line or the end of stdin returns finish()."""
    stdin = sys.stdin.fileno()
    buf = b""
    while True:
        ready, _, _ = select.select([stdin], [], [], 0)
        if ready:
            chunk = os.read(stdin, 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                words = line.decode().split()
                if not words:
                    continue
                if words[0] == "quit":
                    return finish()
                try:
                    run_command(words)
                    out("ok", *words)
                except Exception as e:  # noqa: BLE001 - reported to the test
                    out("error", *words, f"{type(e).__name__}: {e}")
        poll()
    return finish()


def producer_conf(args):
    conf = {
        "compression.type": args.codec,
        "enable.idempotence": args.idempotent,
        "linger.ms": 20,
        "acks": "all",
    }
    if args.batch:
        conf["batch.num.messages"] = args.batch
    return base_conf(args, conf)


# ---------------------------------------------------------------- produce --


def cmd_produce(args):
    p = Producer(producer_conf(args))
    errors = []
    delivered = 0

    def on_delivery(e, msg):
        nonlocal delivered
        if e is not None:
            errors.append(e)
            out("error", text(msg.key()), error_name(e))
        else:
            delivered += 1
            out("delivered", msg.partition(), msg.offset(), text(msg.key()), text(msg.value()))

    for i in range(args.count):
        key = f"{args.key_prefix}{i}" if args.key_prefix is not None else None
        value = f"{args.value_prefix}{i}{args.pad * 'x'}"
        p.produce(args.topic, value=value, key=key, on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(WAIT_S)
    out("done", delivered, len(errors) + left)
    return 0 if not errors and left == 0 else 1


def cmd_stream(args):
    """Produces until told to stop; one record at a time, paced, so that the
    test's disruptions land in the middle of the stream."""
    p = Producer(producer_conf(args))
    produced = delivered = failed = 0

    def on_delivery(e, msg):
        nonlocal delivered, failed
        if e is not None:
            failed += 1
            out("error", text(msg.key()), error_name(e))
        else:
            delivered += 1
            out("delivered", msg.partition(), msg.offset(), text(msg.key()), text(msg.value()))

    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([stdin], [], [], 0)
        if ready:
            line = os.read(stdin, 4096)
            if not line or b"stop" in line:
                break
        try:
            p.produce(args.topic, key=str(produced), value=f"v{produced}{args.pad * 'x'}", on_delivery=on_delivery)
            produced += 1
        except BufferError:
            pass  # the local queue is full while a leader moves: let it drain
        p.poll(args.interval_ms / 1000.0)
    left = p.flush(WAIT_S)
    out("done", produced, delivered, failed + left)
    return 0 if failed == 0 and left == 0 else 1


# ---------------------------------------------------------------- consume --


def cmd_consume(args):
    c = Consumer(
        base_conf(
            args,
            {
                # Only for the manual assignment below: nothing is committed.
                "group.id": "testkit-interop-reader",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            },
        )
    )
    md = c.list_topics(args.topic, timeout=WAIT_S)
    tmd = md.topics[args.topic]
    if tmd.error is not None:
        err(f"metadata of {args.topic}: {tmd.error}")
        return 1
    ends = {}
    for p in sorted(tmd.partitions):
        lo, hi = c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=WAIT_S)
        ends[p] = hi
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in ends])
    pending = {p for p, hi in ends.items() if hi > 0}
    count = 0
    deadline = time.monotonic() + WAIT_S
    while pending:
        if time.monotonic() > deadline:
            err(f"consume timed out; partitions not at their end: {sorted(pending)}")
            return 1
        msg = c.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            err(f"consume error: {msg.error()}")
            return 1
        count += 1
        out("record", msg.partition(), msg.offset(), text(msg.key()), text(msg.value()))
        if msg.offset() + 1 >= ends[msg.partition()]:
            pending.discard(msg.partition())
    c.close()
    out("done", count)
    return 0


def cmd_txconsume(args):
    c = Consumer(
        base_conf(
            args,
            {
                "group.id": "testkit-interop-txn-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            },
        )
    )
    md = c.list_topics(args.topic, timeout=WAIT_S)
    tmd = md.topics[args.topic]
    if tmd.error is not None:
        err(f"metadata of {args.topic}: {tmd.error}")
        return 1
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in sorted(tmd.partitions)])
    count = 0
    deadline = time.monotonic() + WAIT_S
    extra = None
    while extra is None or time.monotonic() < extra:
        if time.monotonic() > deadline:
            err(f"txconsume timed out after {count} of {args.expect} records")
            return 1
        if count >= args.expect and extra is None:
            extra = time.monotonic() + 1.0
        msg = c.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            err(f"consume error: {msg.error()}")
            return 1
        count += 1
        out("record", msg.partition(), msg.offset(), text(msg.key()), text(msg.value()))
    c.close()
    out("done", count)
    return 0


def cmd_txproduce(args):
    p = Producer(base_conf(args, {"transactional.id": args.transactional_id, "linger.ms": 5}))
    p.init_transactions(WAIT_S)
    committed = aborted = 0
    for start in range(0, args.count, 5):
        p.begin_transaction()
        values = [f"j-{i}" for i in range(start, min(args.count, start + 5))]
        for v in values:
            p.produce(args.topic, key=f"k{v}", value=v)
        abort = (start // 5) % 3 == 2
        if abort:
            p.flush(WAIT_S)
            p.abort_transaction(WAIT_S)
            aborted += len(values)
        else:
            p.commit_transaction(WAIT_S)
            committed += len(values)
        for v in values:
            out("aborted" if abort else "committed", v)
    out("done", committed, aborted)
    return 0


# ------------------------------------------------------------------ admin --


def admin(args):
    return AdminClient(base_conf(args))


def cmd_create(args):
    topics = []
    for spec in args.specs:
        parts = spec.split(":")
        configs = dict(kv.split("=", 1) for kv in parts[3].split(",")) if len(parts) > 3 else {}
        topics.append(NewTopic(parts[0], int(parts[1]), int(parts[2]), config=configs))
    rc = 0
    a = admin(args)  # keep it alive until the futures resolve
    futures = a.create_topics(topics, operation_timeout=10, validate_only=args.validate_only)
    for name, f in futures.items():
        try:
            f.result()
            out("created", name)
        except Exception as e:  # noqa: BLE001 - every error is reported
            out("error", name, error_name(e))
            err(f"create {name}: {e}")
            rc = 1 if not args.expect_errors else rc
    return rc


def cmd_describe(args):
    rc = 0
    a = admin(args)  # keep it alive until the futures resolve
    futures = a.describe_topics(TopicCollection(args.topics), request_timeout=10)
    for name, f in futures.items():
        try:
            d = f.result()
        except Exception as e:  # noqa: BLE001
            out("error", name, error_name(e))
            rc = 1 if not args.expect_errors else rc
            continue
        for p in sorted(d.partitions, key=lambda p: p.id):
            out(
                "partition",
                d.name,
                p.id,
                p.leader.id if p.leader is not None else -1,
                ",".join(str(r.id) for r in p.replicas),
                ",".join(str(r.id) for r in p.isr),
            )
    return rc


def cmd_configs(args):
    resources = [ConfigResource(ResourceType.TOPIC, t) for t in args.topics]
    a = admin(args)  # keep it alive until the futures resolve
    futures = a.describe_configs(resources, request_timeout=10)
    for res, f in futures.items():
        for name, entry in sorted(f.result().items()):
            out("config", res.name, name, entry.value, entry.is_default, ConfigSource(entry.source).name)
    return 0


def cmd_delete(args):
    rc = 0
    a = admin(args)  # keep it alive until the futures resolve
    futures = a.delete_topics(args.topics, operation_timeout=10)
    for name, f in futures.items():
        try:
            f.result()
            out("deleted", name)
        except Exception as e:  # noqa: BLE001
            out("error", name, error_name(e))
            rc = 1 if not args.expect_errors else rc
    return rc


# ------------------------------------------------------------------ group --


class Member:
    def __init__(self, name, consumer):
        self.name = name
        self.consumer = consumer
        self.assignment = set()
        # Whether the last rebalance callback was an assignment: the eager
        # protocol revokes everything before every rejoin.
        self.assigned = False
        self.records = []  # consumed since the last report: (partition, offset, value)
        self.next_offset = {}  # partition -> offset after the last consumed one

    def on_assign(self, consumer, partitions):
        self.assignment |= {tp.partition for tp in partitions}
        self.assigned = True

    def on_revoke(self, consumer, partitions):
        self.assignment -= {tp.partition for tp in partitions}
        self.assigned = False


class GroupDriver:
    """Consumers of one group, steered line by line from stdin.

    Between commands every open consumer is polled continuously, so the
    group's rebalances progress while the test waits on the cluster side.
    Commands and their replies (each reply ends with an "ok" or "error" line):

      open NAME                 subscribe a new consumer (eager assignment,
                                manual commits, earliest reset)
      assignment NAME           wait until NAME's rebalance completed:
                                  assignment NAME <partitions>
      consume NAME END          wait until NAME consumed every assigned
                                partition up to offset END (exclusive), then
                                report what it consumed since the last report:
                                  record NAME <partition> <offset> <value>
      commit NAME               commit synchronously what NAME consumed of
                                the partitions it owns:
                                  committed NAME <partition> <offset>
      close NAME                close NAME (leaves the group)
      produce N FROM            produce N records to every partition, values
                                "<partition>-<FROM + i>" (idempotent producer)
      quit
    """

    def __init__(self, args):
        self.args = args
        self.members = {}
        self.producer = None

    def conf(self, name):
        return base_conf(
            self.args,
            {
                "group.id": self.args.group,
                "client.id": name,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 100,
                "partition.assignment.strategy": "range",
            },
        )

    def poll_all(self, timeout=0.02):
        for m in list(self.members.values()):
            msg = m.consumer.poll(timeout)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    err(f"{m.name}: {msg.error()}")
                continue
            m.records.append((msg.partition(), msg.offset(), text(msg.value())))
            m.next_offset[msg.partition()] = msg.offset() + 1

    def wait(self, what, cond):
        wait_polling(what, cond, self.poll_all)

    def run_command(self, words):
        cmd, rest = words[0], words[1:]
        if cmd == "open":
            (name,) = rest
            m = Member(name, Consumer(self.conf(name)))
            m.consumer.subscribe([self.args.topic], on_assign=m.on_assign, on_revoke=m.on_revoke)
            self.members[name] = m
        elif cmd == "assignment":
            m = self.members[rest[0]]
            self.wait(f"{m.name} assigned", lambda: m.assigned)
            out("assignment", m.name, ",".join(str(p) for p in sorted(m.assignment)))
        elif cmd == "consume":
            m, end = self.members[rest[0]], int(rest[1])
            self.wait(
                f"{m.name} consumed up to {end} on {sorted(m.assignment)}",
                lambda: m.assigned and all(m.next_offset.get(p, 0) >= end for p in m.assignment),
            )
            for p, o, v in m.records:
                out("record", m.name, p, o, v)
            m.records = []
        elif cmd == "commit":
            m = self.members[rest[0]]
            offsets = [
                TopicPartition(self.args.topic, p, o) for p, o in sorted(m.next_offset.items()) if p in m.assignment
            ]
            for tp in m.consumer.commit(offsets=offsets, asynchronous=False):
                if tp.error is not None:
                    raise KafkaException(tp.error)
                out("committed", m.name, tp.partition, tp.offset)
        elif cmd == "close":
            self.members.pop(rest[0]).consumer.close()
        elif cmd == "produce":
            n, first = int(rest[0]), int(rest[1])
            self.produce(n, first)
        else:
            raise ValueError(f"unknown command {cmd!r}")

    def produce(self, n, first):
        if self.producer is None:
            self.producer = Producer(base_conf(self.args, {"enable.idempotence": True, "linger.ms": 5}))
        md = self.producer.list_topics(self.args.topic, timeout=WAIT_S).topics[self.args.topic]
        failed = []

        def on_delivery(e, msg):
            if e is not None:
                failed.append(e)

        for p in sorted(md.partitions):
            for i in range(first, first + n):
                self.producer.produce(self.args.topic, value=f"{p}-{i}", partition=p, on_delivery=on_delivery)
        deadline = time.monotonic() + WAIT_S
        while len(self.producer) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("produce")
            self.producer.poll(0.01)
            self.poll_all(0)
        if failed:
            raise KafkaException(failed[0])

    def run(self):
        return serve_commands(self.run_command, self.poll_all, self.close_all)

    def close_all(self):
        for m in self.members.values():
            m.consumer.close()
        return 0


def cmd_group(args):
    return GroupDriver(args).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = common_args("protocol,broker")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def producing(p):
        p.add_argument("--topic", required=True)
        p.add_argument("--codec", default="none")
        p.add_argument("--idempotent", action="store_true")
        p.add_argument("--batch", type=int, help="batch.num.messages")
        p.add_argument("--pad", type=int, default=0, help="append this many 'x' to every value")

    p = sub.add_parser("produce", parents=[common])
    producing(p)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--key-prefix")
    p.add_argument("--value-prefix", default="")
    p.set_defaults(fn=cmd_produce)

    p = sub.add_parser("stream", parents=[common])
    producing(p)
    p.add_argument("--interval-ms", type=float, default=2.0)
    p.set_defaults(fn=cmd_stream)

    p = sub.add_parser("consume", parents=[common])
    p.add_argument("--topic", required=True)
    p.set_defaults(fn=cmd_consume)

    p = sub.add_parser("txconsume", parents=[common])
    p.add_argument("--topic", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.set_defaults(fn=cmd_txconsume)

    p = sub.add_parser("txproduce", parents=[common])
    p.add_argument("--topic", required=True)
    p.add_argument("--transactional-id", required=True)
    p.add_argument("--count", type=int, required=True)
    p.set_defaults(fn=cmd_txproduce)

    for name, fn in [("create", cmd_create), ("describe", cmd_describe), ("delete", cmd_delete)]:
        p = sub.add_parser(name, parents=[common])
        p.add_argument("--expect-errors", action="store_true", help="exit 0 even when a topic fails")
        p.set_defaults(fn=fn)
        if name == "create":
            p.add_argument("--validate-only", action="store_true")
            p.add_argument("specs", nargs="+")
        else:
            p.add_argument("topics", nargs="+")

    p = sub.add_parser("configs", parents=[common])
    p.add_argument("topics", nargs="+")
    p.set_defaults(fn=cmd_configs)

    p = sub.add_parser("group", parents=[common])
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.set_defaults(fn=cmd_group)

    args = ap.parse_args()
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
