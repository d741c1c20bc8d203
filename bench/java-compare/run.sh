#!/usr/bin/env bash
# Transactional throughput against idempotent-only, ours against the Java
# producer, on one real Kafka broker (KRaft, loopback), same settings, same
# run: each configuration runs ROUNDS times, the two clients alternating.
#
#   bench/java-compare/run.sh [RECORDS (1000000)] [ROUNDS (3)] [VERSION (4.4.0)]
#
# Our side is examples' kafka-producer-perf-test (release build), Java's is
# org.apache.kafka.tools.ProducerPerformance from the same Kafka release's
# jars (~/.cache/kafka-rs/kafka-VERSION/libs). Both get the same --producer-props; the table
# reports records/s and CPU seconds (user+sys) per million records, from
# /usr/bin/time. Transactions commit every --transaction-duration-ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
records=${1:-1000000}
rounds=${2:-3}
version=${3:-4.4.0}
size=100
jars="$HOME/.cache/kafka-rs/kafka-$version/libs"
ours=target/release/kafka-producer-perf-test
[ -x "$ours" ] || cargo build --release -p examples --bin kafka-producer-perf-test
cargo build -q -p tests --features real-kafka --bin real-kafka
fifo=$(mktemp -u); mkfifo "$fifo"
exec 3<>"$fifo"; rm "$fifo"
target/debug/real-kafka --nodes 1 --version "$version" <&3 >"${TMPDIR:-/tmp}/java-compare-bootstrap" 2>/dev/null &
kafka=$!
# real-kafka stops (and removes its data) on SIGTERM.
trap 'kill $kafka 2>/dev/null; wait $kafka 2>/dev/null || true' EXIT
for _ in $(seq 600); do [ -s "${TMPDIR:-/tmp}/java-compare-bootstrap" ] && break; sleep 0.1; done
bootstrap=$(head -1 "${TMPDIR:-/tmp}/java-compare-bootstrap")

run() { # client config-name extra-args...
    local client=$1 name=$2; shift 2
    local topic="bench-$name-$RANDOM$RANDOM"
    local common=(--topic "$topic" --num-records "$records" --record-size "$size" --throughput -1
        --producer-props "bootstrap.servers=$bootstrap" acks=all linger.ms=5 batch.size=65536)
    local out times
    times=$(mktemp)
    if [ "$client" = ours ]; then
        out=$(/usr/bin/time -o "$times" -f "cpu %U %S" "$ours" "${common[@]}" "$@" 2>/dev/null | tail -1)
    else
        out=$(/usr/bin/time -o "$times" -f "cpu %U %S" java -Xmx512m -cp "$jars/*" \
            org.apache.kafka.tools.ProducerPerformance "${common[@]}" "$@" 2>/dev/null | tail -1)
    fi
    out="$out
$(cat "$times")"
    rm -f "$times"
    local rate cpu
    rate=$(echo "$out" | grep -o '[0-9.]* records/sec' | head -1 | cut -d' ' -f1 || true)
    cpu=$(echo "$out" | awk '/^cpu/ {print $2 + $3}')
    if [ -z "$rate" ] || [ -z "$cpu" ]; then
        echo "$client $name: no result: $out" >&2
        return
    fi
    printf '%-6s %-22s %12s rec/s %8.2f cpu-s/M\n' "$client" "$name" "$rate" "$(echo "$cpu * 1000000 / $records" | bc -l)"
}

echo "Kafka $version at $bootstrap; $records records of $size bytes, acks=all linger.ms=5 batch.size=65536, $rounds rounds"
for r in $(seq "$rounds"); do
    for client in ours java; do
        run "$client" idempotent
        run "$client" txn-100ms --transactional-id "bench-$client-$r-a" --transaction-duration-ms 100
        run "$client" txn-1000ms --transactional-id "bench-$client-$r-b" --transaction-duration-ms 1000
    done
done
