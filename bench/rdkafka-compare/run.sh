#!/usr/bin/env bash
# Builds the benchmark (release; the first build compiles librdkafka from
# source, a few minutes on 2 cores) and runs the whole comparison: builds and
# starts the kafka-testkit broker, runs every configuration, prints the table.
# Arguments go to the driver, e.g. ./run.sh --rounds 3 --only produce
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release
exec ./target/release/driver "$@"
