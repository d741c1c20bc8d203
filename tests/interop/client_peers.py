#!/usr/bin/env python3
"""confluent-kafka (librdkafka 2.x) as a peer of our own client (kafka-client).

Usage: client_peers.py SUBCOMMAND --bootstrap HOST:PORT[,...] [options]

Driven by tests/tests/client_interop.rs, which runs our consumer in the same
group. Output follows testkit_clients.py (whose helpers it shares):
tab-separated lines on stdout, diagnostics (and librdkafka's logs) on
stderr, "-" for an empty or null field.

  member     One consumer of a group, steered line by line from stdin; see
             Member.
"""

import argparse
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from testkit_clients import base_conf, common_args, err, out, serve_commands, text, wait_polling


class Member:
    """A confluent-kafka consumer (eager protocol, manual commits, earliest
    reset) in one group, polled continuously between commands so that its
    rebalances progress while the test waits elsewhere. Commands and their
    replies (each reply ends with an "ok" or "error" line):

      open                  create the consumer and subscribe to the topic
      member                wait until a rebalance assigned partitions:
                              member <member id>
      assignment            wait until a rebalance assigned partitions:
                              assignment <partitions>
      consume P:END,...     wait until every assigned partition P listed has
                            been consumed up to END (exclusive), then report
                            what was consumed since the last report:
                              record <partition> <offset> <key> <value>
      commit                commit synchronously the position after the last
                            record consumed of each assigned partition:
                              committed <partition> <offset>
      close                 close the consumer (it leaves the group)
      quit                  close if still open, and exit
    """

    def __init__(self, args):
        self.args = args
        self.consumer = None
        self.assignment = set()
        # Whether the last rebalance callback was an assignment: the eager
        # protocol revokes everything before every rejoin.
        self.assigned = False
        self.records = []  # since the last report: (partition, offset, key, value)
        self.next_offset = {}  # partition -> offset after the last consumed one

    def conf(self):
        return base_conf(
            self.args,
            {
                "group.id": self.args.group,
                "client.id": self.args.client_id,
                "partition.assignment.strategy": self.args.strategy,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 100,
                # The rebalance timeout: bounds a rebalance whose members
                # do not all rejoin.
                "max.poll.interval.ms": 10000,
                "topic.metadata.refresh.interval.ms": 1000,
            },
        )

    def on_assign(self, consumer, partitions):
        self.assignment = {tp.partition for tp in partitions}
        self.assigned = True

    def on_revoke(self, consumer, partitions):
        self.assignment -= {tp.partition for tp in partitions}
        self.assigned = False
        # Positions of partitions we no longer own go stale: never commit them.
        for tp in partitions:
            self.next_offset.pop(tp.partition, None)

    def poll(self, timeout=0.02):
        if self.consumer is None:
            time.sleep(timeout)
            return
        msg = self.consumer.poll(timeout)
        if msg is None:
            return
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                err(f"{self.args.client_id}: {msg.error()}")
            return
        self.records.append((msg.partition(), msg.offset(), text(msg.key()), text(msg.value())))
        self.next_offset[msg.partition()] = msg.offset() + 1

    def wait(self, what, cond):
        wait_polling(what, cond, self.poll)

    def run_command(self, words):
        cmd, rest = words[0], words[1:]
        if cmd == "open":
            self.consumer = Consumer(self.conf())
            self.consumer.subscribe([self.args.topic], on_assign=self.on_assign, on_revoke=self.on_revoke)
        elif cmd == "member":
            self.wait("assigned", lambda: self.assigned)
            out("member", self.consumer.memberid())
        elif cmd == "assignment":
            self.wait("assigned", lambda: self.assigned)
            out("assignment", ",".join(str(p) for p in sorted(self.assignment)))
        elif cmd == "consume":
            ends = {int(p): int(e) for p, e in (kv.split(":") for kv in rest[0].split(",") if kv)}
            self.wait(
                f"consumed up to {ends} of {sorted(self.assignment)}",
                lambda: self.assigned
                and all(self.next_offset.get(p, 0) >= e for p, e in ends.items() if p in self.assignment),
            )
            for p, o, k, v in self.records:
                out("record", p, o, k, v)
            self.records = []
        elif cmd == "commit":
            offsets = [
                TopicPartition(self.args.topic, p, o)
                for p, o in sorted(self.next_offset.items())
                if p in self.assignment
            ]
            if offsets:
                for tp in self.consumer.commit(offsets=offsets, asynchronous=False):
                    if tp.error is not None:
                        raise KafkaException(tp.error)
                    out("committed", tp.partition, tp.offset)
        elif cmd == "close":
            self.consumer.close()
            self.consumer = None
            self.assignment = set()
            self.assigned = False
        else:
            raise ValueError(f"unknown command {cmd!r}")

    def run(self):
        return serve_commands(self.run_command, self.poll, self.quit)

    def quit(self):
        if self.consumer is not None:
            self.consumer.close()
        return 0


def cmd_member(args):
    return Member(args).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = common_args("cgrp,protocol")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("member", parents=[common])
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--strategy", choices=["range", "roundrobin"], required=True)
    p.set_defaults(fn=cmd_member)

    args = ap.parse_args()
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
