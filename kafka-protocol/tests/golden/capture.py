#!/usr/bin/env python3
"""Records the request frames real Kafka clients send, as golden vectors.

    python3 kafka-protocol/tests/golden/capture.py [--out DIR] [--raw DIR]

Starts `kafka-testkit` (a single broker on an ephemeral port B), puts a
recording TCP proxy in front of it (port A), and runs every scenario below
against the proxy: kcat (Debian's librdkafka), confluent-kafka (its bundled
librdkafka) and kafka-python.

The proxy forwards bytes unchanged in both directions, cutting them into
frames at the 4-byte size prefixes; it records each request frame (without
the prefix) exactly as the client sent it. Clients bootstrap from A but then
connect to the addresses the broker advertises, so the proxy rewrites the
broker's own address in responses: every `host` string equal to the broker's
host immediately followed by the broker's port (an int32) - which is how
Metadata, FindCoordinator and DescribeCluster responses, and the
NodeEndpoints of Produce and Fetch responses, carry a broker address - gets
port A instead of B. The host stays the same, so every frame keeps its size.
Both the classic (int16 length) and the compact (uvarint length + 1) string
encodings are matched.

From the recording it keeps, per client, the first frame of each distinct
(API, version) - Metadata requests for all topics, for none and for named
ones counted apart, and for SyncGroup the scenario's last - plus one Produce
frame (the first holding records) per compression codec / idempotence
scenario (see `select`). It writes them to
`fixtures/<client>/<NNN>-<Api>-v<version>[-<variant>].bin` and describes each
one in `fixtures/MANIFEST.md`; `--raw DIR` also keeps every frame recorded.

This file needs only the Python 3.11 standard library; the Python peers run
in a child process (`capture.py peer SCENARIO BOOTSTRAP`) under the
interpreter given by --python, which must have confluent-kafka and
kafka-python installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import re
import shutil
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent.parent
REPO = CRATE.parent
VERSIONS_TABLE = CRATE / "schema" / "versions.table"

# What every producing scenario writes: keys and values the Rust test checks.
RECORD_COUNT = 10
VALUE_FILLER = "abcdefgh" * 8


def record_key(i: int) -> str:
    return f"key-{i}"


def record_value(i: int) -> str:
    # Repetitive so that every codec actually shrinks the batch (librdkafka
    # sends a batch uncompressed when compressing does not pay off).
    return f"value-{i} {VALUE_FILLER}"


COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

# ---------------------------------------------------------------------------
# Wire helpers
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ApiInfo:
    key: int
    name: str
    flexible_from: int | None


NO_API = ApiInfo(-1, "", None)


def load_api_table() -> dict[int, ApiInfo]:
    """The API names and first flexible versions, from the crate's own table."""
    table = {}
    for line in VERSIONS_TABLE.read_text().splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue
        key, name, flexible = int(fields[0]), fields[1], fields[4]
        table[key] = ApiInfo(key, name, None if flexible == "-" else int(flexible))
    return table


class Reader:
    """Reads Kafka primitives from the front of a buffer."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int8(self) -> int:
        return struct.unpack(">b", self.take(1))[0]

    def int16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise ValueError("uvarint too long")

    def string(self, compact: bool) -> str | None:
        n = self.uvarint() - 1 if compact else self.int16()
        return None if n < 0 else self.take(n).decode()

    def nullable_bytes(self, compact: bool) -> bytes | None:
        n = self.uvarint() - 1 if compact else self.int32()
        return None if n < 0 else self.take(n)

    def array_len(self, compact: bool) -> int:
        return self.uvarint() - 1 if compact else self.int32()

    def tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


@dataclasses.dataclass
class Frame:
    """A request frame as the client sent it, without its size prefix."""

    scenario: str
    connection: int
    data: bytes
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


def parse_header(data: bytes) -> tuple[int, int, int, str | None]:
    r = Reader(data)
    return r.int16(), r.int16(), r.int32(), r.string(compact=False)


def body_reader(frame: Frame, api: ApiInfo) -> tuple[Reader, bool]:
    """A reader positioned at the body, and whether the version is flexible."""
    flexible = api.flexible_from is not None and frame.api_version >= api.flexible_from
    r = Reader(frame.data)
    r.take(8)
    r.string(compact=False)
    if flexible:
        r.tagged_fields()
    return r, flexible


def client_software(frame: Frame, api: ApiInfo) -> tuple[str, str] | None:
    """client_software_name and _version of an ApiVersions v3+ request."""
    if frame.api_version < 3:
        return None
    r, _ = body_reader(frame, api)
    return r.string(compact=True) or "", r.string(compact=True) or ""


def metadata_shape(frame: Frame, api: ApiInfo) -> str:
    """Whether a Metadata request asks for all topics, none, or named ones."""
    r, flexible = body_reader(frame, api)
    n = r.array_len(flexible)
    if n < 0 or (n == 0 and frame.api_version == 0):  # v0 had no null: empty meant all
        return "all-topics"
    return "no-topics" if n == 0 else "named-topics"


@dataclasses.dataclass
class BatchSummary:
    topic: str
    partition: int
    codec: int
    producer_id: int
    record_count: int


def produce_batches(frame: Frame, api: ApiInfo) -> list[BatchSummary]:
    """The record batches of a Produce request (v3+), summarised."""
    r, flexible = body_reader(frame, api)
    r.string(flexible)  # transactional_id
    r.int16()  # acks
    r.int32()  # timeout_ms
    out = []
    for _ in range(r.array_len(flexible)):
        topic = r.string(flexible) or ""
        for _ in range(r.array_len(flexible)):
            partition = r.int32()
            records = Reader(r.nullable_bytes(flexible) or b"")
            while records.pos < len(records.data):
                records.int64()  # base offset
                batch = Reader(records.take(records.int32()))
                batch.int32()  # partition leader epoch
                if batch.int8() != 2:
                    raise ValueError("not a v2 record batch")
                batch.int32()  # crc
                attributes = batch.int16()
                batch.take(4 + 8 + 8)  # last offset delta, timestamps
                producer_id = batch.int64()
                batch.take(2 + 4)  # epoch, base sequence
                out.append(BatchSummary(topic, partition, attributes & 7, producer_id, batch.int32()))
            if flexible:
                r.tagged_fields()
        if flexible:
            r.tagged_fields()
    return out


# ---------------------------------------------------------------------------
# The recording proxy
# ---------------------------------------------------------------------------


def read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket) -> bytes | None:
    prefix = read_exact(sock, 4)
    if prefix is None:
        return None
    size = struct.unpack(">i", prefix)[0]
    if size < 0:
        raise ValueError(f"negative frame size {size}")
    body = read_exact(sock, size)
    if body is None:
        raise ValueError("connection closed inside a frame")
    return body


@dataclasses.dataclass(eq=False)
class Link:
    """A client connection and its connection to the broker."""

    scenario: str
    id: int
    client: socket.socket
    upstream: socket.socket
    pumps: int = 2  # directions still running
    closing: bool = False


class Proxy:
    """Forwards connections to the broker, recording request frames and
    pointing broker addresses in responses back at itself."""

    def __init__(self, host: str, upstream_port: int):
        self.host = host
        self.upstream = (host, upstream_port)
        self.server = socket.create_server((host, 0))
        self.port = self.server.getsockname()[1]
        encoded_host = host.encode()
        old_port, new_port = struct.pack(">i", upstream_port), struct.pack(">i", self.port)
        self.rewrites = [
            (prefix + encoded_host + old_port, prefix + encoded_host + new_port)
            for prefix in (struct.pack(">h", len(encoded_host)), uvarint(len(encoded_host) + 1))
        ]
        self.rewritten = 0
        self.frames: list[tuple[str, int, bytes]] = []
        self.errors: list[str] = []
        self.scenario = ""
        self.active = 0
        self.ids = itertools.count(1)
        self.lock = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError as e:
                self.errors.append(f"cannot reach the broker: {e}")
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.active += 2  # one per direction
                scenario = self.scenario
            link = Link(scenario, next(self.ids), client, upstream)
            for requests in (True, False):
                threading.Thread(target=self._pump, args=(link, requests), daemon=True).start()

    def _pump(self, link: Link, requests: bool) -> None:
        src, dst = (link.client, link.upstream) if requests else (link.upstream, link.client)
        try:
            while (frame := read_frame(src)) is not None:
                if requests:
                    with self.lock:
                        self.frames.append((link.scenario, link.id, frame))
                else:
                    frame = self._rewrite(frame)
                dst.sendall(struct.pack(">i", len(frame)) + frame)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the peer went away; Kafka has no half-closed connections
        except (OSError, ValueError) as e:
            with self.lock:
                if not link.closing:  # else the other direction cut this one short
                    self.errors.append(f"{link.scenario} connection {link.id}: {e!r}")
        finally:
            with self.lock:
                link.closing = True
                link.pumps -= 1
                last = link.pumps == 0
            # One direction is done: end the other too, then close.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if last:
                link.client.close()
                link.upstream.close()
            with self.lock:
                self.active -= 1
                self.lock.notify_all()

    def _rewrite(self, frame: bytes) -> bytes:
        for old, new in self.rewrites:
            n = frame.count(old)
            if n:
                frame = frame.replace(old, new)
                with self.lock:
                    self.rewritten += n
        return frame

    def begin(self, scenario: str) -> None:
        with self.lock:
            self.scenario = scenario

    def wait_idle(self, timeout: float) -> bool:
        """Waits until the scenario's connections have all closed."""
        with self.lock:
            return self.lock.wait_for(lambda: self.active == 0, timeout)

    def close(self) -> None:
        self.server.close()


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scenario:
    client: str  # fixture folder: kcat, confluent-kafka, kafka-python
    name: str
    description: str
    # A Produce variant this scenario stands for ("lz4", "none-idempotent"),
    # or None when it does not produce.
    produce_variant: str | None = None
    # kcat arguments (after -b) or None for a Python peer scenario.
    kcat: tuple[str, ...] | None = None
    # Stop kcat with SIGINT after this many seconds (a consumer that runs on).
    run_for: float | None = None


def kcat_records() -> bytes:
    return "".join(f"{record_key(i)}:{record_value(i)}\n" for i in range(1, RECORD_COUNT + 1)).encode()


def kcat_produce(codec: str, idempotent: bool = False) -> Scenario:
    variant = codec + ("-idempotent" if idempotent else "")
    topic = f"golden-kcat-{variant}"
    args = ["-P", "-t", topic, "-K:", "-X", f"compression.codec={codec}", "-X", "linger.ms=200"]
    if idempotent:
        args += ["-X", "enable.idempotence=true"]
    return Scenario(
        "kcat",
        f"kcat-produce-{variant}",
        f"{RECORD_COUNT} keyed records (`key-N:value-N ...` lines on stdin)",
        produce_variant=variant,
        kcat=tuple(args),
    )


SCENARIOS = [
    Scenario("kcat", "kcat-metadata", "metadata of all topics", kcat=("-L",)),
    *(kcat_produce(c) for c in ("none", "gzip", "snappy", "lz4", "zstd")),
    kcat_produce("none", idempotent=True),
    Scenario(
        "kcat",
        "kcat-consume",
        "read a topic from the start to its end",
        kcat=("-C", "-t", "golden-kcat-none", "-o", "beginning", "-e", "-q"),
    ),
    Scenario(
        "kcat",
        "kcat-group",
        "balanced consumer with auto commit, stopped with SIGINT after 8 s",
        kcat=(
            "-G",
            "golden-kcat-group",
            "-X",
            "auto.offset.reset=earliest",
            "-X",
            "auto.commit.interval.ms=1000",
            "-q",
            "golden-kcat-gzip",
        ),
        run_for=8.0,
    ),
    Scenario(
        "confluent-kafka",
        "ck-produce-lz4-idempotent",
        "`Producer(compression.type=lz4, enable.idempotence=True, linger.ms=200)`:"
        f" {RECORD_COUNT} keyed records",
        produce_variant="lz4-idempotent",
    ),
    Scenario(
        "confluent-kafka",
        "ck-produce-zstd",
        f"`Producer(compression.type=zstd, enable.idempotence=False, linger.ms=200)`: {RECORD_COUNT} keyed records",
        produce_variant="zstd",
    ),
    Scenario(
        "confluent-kafka",
        "ck-group",
        "`Consumer(group.id=golden-ck-group, auto.offset.reset=earliest, enable.auto.commit=False)` subscribed to"
        " golden-ck-lz4-idempotent: read all, `commit(asynchronous=False)`, `close()`",
    ),
    Scenario(
        "confluent-kafka",
        "ck-admin",
        "`AdminClient`: `create_topics(golden-ck-admin, 3 partitions, RF 1, retention.ms)`, `describe_configs`,"
        " `describe_cluster`, `incremental_alter_configs`, `create_partitions(4)`,"
        " `delete_records(golden-ck-zstd@5)`, `list_consumer_groups`, `describe_consumer_groups`,"
        " `delete_consumer_groups(golden-ck-group)`, `delete_topics`",
    ),
    Scenario(
        "kafka-python",
        "kp-produce-none",
        f"`KafkaProducer(enable_idempotence=False, linger_ms=200)`: {RECORD_COUNT} keyed records",
        produce_variant="none",
    ),
    Scenario(
        "kafka-python",
        "kp-produce-gzip",
        "`KafkaProducer(compression_type='gzip', enable_idempotence=False, linger_ms=200)`:"
        f" {RECORD_COUNT} keyed records",
        produce_variant="gzip",
    ),
    Scenario(
        "kafka-python",
        "kp-produce-idempotent",
        f"`KafkaProducer(enable_idempotence=True, linger_ms=200)`: {RECORD_COUNT} keyed records",
        produce_variant="none-idempotent",
    ),
    Scenario(
        "kafka-python",
        "kp-group",
        "`KafkaConsumer(golden-kp-none, group_id=golden-kp-group, auto_offset_reset='earliest',"
        " enable_auto_commit=False, heartbeat_interval_ms=500)`: read all, `commit()`, poll 1.5 s more, `close()`",
    ),
    Scenario(
        "kafka-python",
        "kp-admin",
        "`KafkaAdminClient`: `create_topics(golden-kp-admin, 2 partitions, RF 1)`, `describe_configs`,"
        " `describe_cluster`, `alter_configs` (incremental and not), `create_partitions(3)`,"
        " `delete_records(golden-kp-gzip@5)`, `list_groups`, `describe_groups`, `delete_group_offsets`,"
        " `delete_groups(golden-kp-group)`, `delete_topics`",
    ),
]


def run_scenario(s: Scenario, bootstrap: str, args: argparse.Namespace) -> None:
    if s.kcat is not None:
        cmd = [args.kcat, "-b", bootstrap, *s.kcat]
        stdin = kcat_records() if "-P" in s.kcat else None
        if s.run_for is None:
            subprocess.run(cmd, input=stdin, check=True, timeout=60, stdout=subprocess.DEVNULL)
            return
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        time.sleep(s.run_for)
        p.send_signal(signal.SIGINT)  # kcat then commits and leaves the group
        if p.wait(timeout=30) != 0:
            raise SystemExit(f"{s.name}: kcat exited with {p.returncode}")
        return
    cmd = [args.python, str(Path(__file__).resolve()), "peer", s.name, bootstrap]
    subprocess.run(cmd, check=True, timeout=120)


# ---------------------------------------------------------------------------
# The Python peers (run under --python, in a child process)
# ---------------------------------------------------------------------------


def peer(name: str, bootstrap: str) -> None:
    records = [(record_key(i).encode(), record_value(i).encode()) for i in range(1, RECORD_COUNT + 1)]
    if name.startswith("ck-"):
        import confluent_kafka
        from confluent_kafka.admin import (
            AdminClient,
            AlterConfigOpType,
            ConfigEntry,
            ConfigResource,
            NewPartitions,
            NewTopic,
            ResourceType,
        )

        def ck_produce(topic: str, **conf: object) -> None:
            p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 200, **conf})
            for k, v in records:
                p.produce(topic, key=k, value=v)
            if p.flush(30) != 0:
                raise SystemExit(f"{name}: records left unsent")

        if name == "ck-produce-lz4-idempotent":
            ck_produce("golden-ck-lz4-idempotent", **{"compression.type": "lz4", "enable.idempotence": True})
        elif name == "ck-produce-zstd":
            ck_produce("golden-ck-zstd", **{"compression.type": "zstd", "enable.idempotence": False})
        elif name == "ck-group":
            c = confluent_kafka.Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": "golden-ck-group",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                }
            )
            c.subscribe(["golden-ck-lz4-idempotent"])
            seen, deadline = 0, time.monotonic() + 60
            while seen < RECORD_COUNT and time.monotonic() < deadline:
                m = c.poll(1.0)
                if m is not None and m.error() is None:
                    seen += 1
            if seen < RECORD_COUNT:
                raise SystemExit(f"{name}: read {seen} of {RECORD_COUNT} records")
            c.commit(asynchronous=False)
            c.close()
        elif name == "ck-admin":
            a = AdminClient({"bootstrap.servers": bootstrap})

            def wait(futures: object) -> None:
                for f in futures.values() if isinstance(futures, dict) else [futures]:
                    f.result()

            topic = "golden-ck-admin"
            new = NewTopic(topic, num_partitions=3, replication_factor=1, config={"retention.ms": "3600000"})
            wait(a.create_topics([new], operation_timeout=10))
            wait(a.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]))
            wait(a.describe_cluster())
            entry = ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)
            wait(a.incremental_alter_configs([ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])]))
            wait(a.create_partitions([NewPartitions(topic, 4)], operation_timeout=10))
            wait(a.delete_records([confluent_kafka.TopicPartition("golden-ck-zstd", 0, 5)]))
            wait(a.list_consumer_groups())
            wait(a.describe_consumer_groups(["golden-ck-group"]))
            wait(a.delete_consumer_groups(["golden-ck-group"]))
            wait(a.delete_topics([topic], operation_timeout=10))
        else:
            raise SystemExit(f"unknown scenario {name}")
        return

    if name.startswith("kp-"):
        from kafka import KafkaConsumer, KafkaProducer
        from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
        from kafka.structs import TopicPartition

        def kp_produce(topic: str, **conf: object) -> None:
            p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=200, **conf)
            sent = [p.send(topic, key=k, value=v) for k, v in records]
            p.flush(30)
            for f in sent:
                f.get(timeout=30)  # raises if the record was not delivered
            p.close()

        if name == "kp-produce-none":
            kp_produce("golden-kp-none", enable_idempotence=False)
        elif name == "kp-produce-gzip":
            kp_produce("golden-kp-gzip", compression_type="gzip", enable_idempotence=False)
        elif name == "kp-produce-idempotent":
            kp_produce("golden-kp-none-idempotent", enable_idempotence=True)
        elif name == "kp-group":
            c = KafkaConsumer(
                "golden-kp-none",
                bootstrap_servers=bootstrap,
                group_id="golden-kp-group",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                heartbeat_interval_ms=500,
            )
            seen, deadline = 0, time.monotonic() + 60
            while seen < RECORD_COUNT and time.monotonic() < deadline:
                seen += sum(len(v) for v in c.poll(timeout_ms=1000).values())
            if seen < RECORD_COUNT:
                raise SystemExit(f"{name}: read {seen} of {RECORD_COUNT} records")
            c.commit()
            c.poll(timeout_ms=1500)  # stay in the group long enough to heartbeat
            c.close()
        elif name == "kp-admin":
            a = KafkaAdminClient(bootstrap_servers=bootstrap)
            topic = "golden-kp-admin"
            a.create_topics([NewTopic(name=topic, num_partitions=2, replication_factor=1)])
            a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            a.describe_cluster()
            for incremental in (True, False):
                resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "7200000"})
                a.alter_configs([resource], incremental=incremental)
            a.create_partitions({topic: 3})
            a.delete_records({TopicPartition("golden-kp-gzip", 0): 5})
            a.list_groups()
            a.describe_groups(["golden-kp-group"])
            a.delete_group_offsets("golden-kp-group", [TopicPartition("golden-kp-none", 0)])
            a.delete_groups(["golden-kp-group"])
            a.delete_topics([topic])
            a.close()
        else:
            raise SystemExit(f"unknown scenario {name}")
        return
    raise SystemExit(f"unknown scenario {name}")


def peer_versions(python: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, confluent_kafka;"
        "print(m.version('confluent-kafka'), confluent_kafka.libversion()[0], m.version('kafka-python'))"
    )
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return {
        "confluent-kafka": f"confluent-kafka {out[0]} (bundled librdkafka {out[1]})",
        "kafka-python": f"kafka-python {out[2]}",
    }


# ---------------------------------------------------------------------------
# Selecting and writing fixtures
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Fixture:
    client: str
    file: str
    scenario: Scenario
    frame: Frame
    api: ApiInfo
    note: str = ""


def select(frames: list[Frame], apis: dict[int, ApiInfo]) -> list[Fixture]:
    """Picks the fixtures, per client:

    - each producing scenario's first Produce frame holding records;
    - of every other (API, version), the first frame - except that Metadata
      requests for all topics, for no topic and for named topics are kept
      apart, and that SyncGroup is the scenario's last (the assignment of
      the rebalance that stuck; an earlier one may have been superseded).
    """
    by_name = {s.name: s for s in SCENARIOS}
    last_sync = {
        (f.scenario, f.api_version): i for i, f in enumerate(frames) if apis.get(f.api_key, NO_API).name == "SyncGroup"
    }
    fixtures: list[Fixture] = []
    seen: set[tuple[str, int, int, str]] = set()
    variants: set[tuple[str, str]] = set()
    counters: dict[str, itertools.count] = {}
    for i, f in enumerate(frames):
        s = by_name[f.scenario]
        api = apis.get(f.api_key)
        if api is None:
            raise SystemExit(f"{s.name}: API key {f.api_key} is not in {VERSIONS_TABLE.name}")
        variant = ""
        note = ""
        if api.name == "Produce":
            batches = produce_batches(f, api)
            if not batches or s.produce_variant is None or (s.client, s.produce_variant) in variants:
                continue
            variants.add((s.client, s.produce_variant))
            codec = COMPRESSION_NAMES.get(batches[0].codec, str(batches[0].codec))
            actual = codec + ("-idempotent" if batches[0].producer_id >= 0 else "")
            if actual != s.produce_variant or len(batches) != 1 or batches[0].record_count != RECORD_COUNT:
                raise SystemExit(
                    f"{s.name}: expected one {s.produce_variant} batch of {RECORD_COUNT} records, got {batches}"
                )
            variant = s.produce_variant
            note = f"topic {batches[0].topic}, {batches[0].record_count} records"
        else:
            if api.name == "Metadata":
                variant = metadata_shape(f, api)
            elif api.name == "SyncGroup" and last_sync[(f.scenario, f.api_version)] != i:
                continue
            key = (s.client, f.api_key, f.api_version, variant)
            if key in seen:
                continue
            seen.add(key)
        name = f"{api.name}-v{f.api_version}" + (f"-{variant}" if variant else "")
        n = next(counters.setdefault(s.client, itertools.count(1)))
        fixtures.append(Fixture(s.client, f"{n:03d}-{name}.bin", s, f, api, note))
    return fixtures


def write_fixtures(fixtures: list[Fixture], out: Path, versions: dict[str, str], provenance: str) -> None:
    for client in {f.client for f in fixtures}:
        d = out / client
        if d.exists():
            shutil.rmtree(d)
    software: dict[str, tuple[str, str]] = {}
    for f in fixtures:
        d = out / f.client
        d.mkdir(parents=True, exist_ok=True)
        (d / f.file).write_bytes(f.frame.data)
        if f.api.name == "ApiVersions" and f.client not in software:
            sw = client_software(f.frame, f.api)
            if sw:
                software[f.client] = sw

    lines = [
        "# Golden request frames",
        "",
        "Request frames recorded from real Kafka clients by `capture.py` (see `../README.md`).",
        "Each `.bin` file is one request exactly as the client sent it, without the 4-byte size prefix.",
        "",
        provenance,
        "",
        f"Every producing scenario writes one batch of {RECORD_COUNT} records to partition 0: key `key-N`,"
        f" value `value-N {VALUE_FILLER[:8]}...` (`{VALUE_FILLER[:8]}` × {len(VALUE_FILLER) // 8}),"
        f" N = 1..{RECORD_COUNT}.",
        "",
        "| client | library version | ApiVersions client_software_name / _version |",
        "|---|---|---|",
    ]
    for client in dict.fromkeys(f.client for f in fixtures):
        name, version = software.get(client, ("-", "-"))
        lines.append(f"| {client} | {versions.get(client, '-')} | `{name}` / `{version}` |")
    lines += ["", "| fixture | scenario | API | version | bytes | sha256 | notes |", "|---|---|---|---|---|---|---|"]
    for f in fixtures:
        digest = hashlib.sha256(f.frame.data).hexdigest()
        lines.append(
            f"| `{f.client}/{f.file}` | {f.scenario.name} | {f.api.name} | {f.frame.api_version} "
            f"| {len(f.frame.data)} | `{digest}` | {f.note} |"
        )
    lines += ["", "Scenarios:", ""]
    for s in SCENARIOS:
        command = f" `kcat -b BOOTSTRAP {shlex.join(s.kcat)}`:" if s.kcat is not None else ""
        lines.append(f"- **{s.name}** ({s.client}):{command} {s.description}")
    lines.append("")
    (out / "MANIFEST.md").write_text("\n".join(lines))


# ---------------------------------------------------------------------------


def provenance() -> str:
    """When and against which broker the capture ran."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    when = time.strftime("%Y-%m-%d", time.gmtime())
    return (
        f"Captured {when} against a single-broker `kafka-testkit` (Kafka 4.0.0 protocol)"
        f" built from the workspace at commit {commit or '?'}."
    )


def kcat_version(kcat: str) -> str:
    out = subprocess.run([kcat, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"^Version (\S+) .*librdkafka (\S+)", out, re.MULTILINE)
    return f"kcat {m[1]} (librdkafka {m[2]})" if m else "kcat (unknown version)"


def capture(args: argparse.Namespace) -> None:
    apis = load_api_table()
    versions = {"kcat": kcat_version(args.kcat), **peer_versions(args.python)}
    broker = subprocess.Popen(
        [args.testkit, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = broker.stdout.readline().strip() if broker.stdout else ""
        if not line:
            raise SystemExit("kafka-testkit did not start")
        host, port = line.split(",")[0].rsplit(":", 1)
        proxy = Proxy(host, int(port))
        bootstrap = f"{host}:{proxy.port}"
        print(f"broker {line}, proxy {bootstrap}", file=sys.stderr)
        only = set(args.only.split(",")) if args.only else None
        for s in SCENARIOS:
            if only and s.name not in only:
                continue
            print(f"-- {s.name}", file=sys.stderr)
            proxy.begin(s.name)
            run_scenario(s, bootstrap, args)
            if not proxy.wait_idle(30):
                raise SystemExit(f"{s.name}: connections still open after the client exited")
        proxy.close()
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=30)
    if proxy.errors:
        raise SystemExit("proxy errors:\n" + "\n".join(proxy.errors))
    if proxy.rewritten == 0:
        raise SystemExit("no broker address was rewritten: clients may have bypassed the proxy")

    frames = []
    for scenario, conn, data in proxy.frames:
        key, version, correlation_id, client_id = parse_header(data)
        frames.append(Frame(scenario, conn, data, key, version, correlation_id, client_id))
    if args.raw:
        raw = Path(args.raw)
        raw.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(frames):
            name = apis[f.api_key].name if f.api_key in apis else str(f.api_key)
            (raw / f"{f.scenario}-{i:04d}-c{f.connection}-{name}-v{f.api_version}.bin").write_bytes(f.data)
    fixtures = select(frames, apis)
    if args.only:
        print(f"{len(frames)} frames recorded, {len(fixtures)} would be fixtures", file=sys.stderr)
        return
    write_fixtures(fixtures, Path(args.out), versions, provenance())
    total = sum(len(f.frame.data) for f in fixtures)
    print(f"{len(frames)} frames recorded, {len(fixtures)} fixtures ({total} bytes) in {args.out}", file=sys.stderr)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "peer":
        peer(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(HERE / "fixtures"), help="fixture folder (default: %(default)s)")
    p.add_argument("--raw", help="also write every recorded frame to this folder")
    p.add_argument("--testkit", default=str(REPO / "target" / "debug" / "kafka-testkit"))
    p.add_argument("--kcat", default=shutil.which("kcat") or "kcat")
    venv = REPO / ".venv" / "bin" / "python"
    p.add_argument("--python", default=str(venv) if venv.exists() else sys.executable)
    p.add_argument("--only", help="run only these comma-separated scenarios and write no fixtures (with --raw)")
    capture(p.parse_args())


if __name__ == "__main__":
    main()
