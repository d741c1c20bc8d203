#!/usr/bin/env bash
# Fuzzes every target for SECONDS each (default 600), seeding the corpora
# with the golden request frames captured from real clients. Needs nightly
# and cargo-fuzz (`cargo install cargo-fuzz`). Crashes land in artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
fixtures=../tests/golden/fixtures
for t in request_frame response record_batch frame_stream; do
    mkdir -p "corpus/$t"
done
for f in "$fixtures"/*/*.bin; do
    name=$(basename "$(dirname "$f")")-$(basename "$f")
    cp "$f" "corpus/request_frame/$name"
    cp "$f" "corpus/record_batch/$name"
    # A response seed is the message selector (2 bytes) and a body; request
    # bodies give the mutator real structure to start from.
    { printf '\x00\x00'; cat "$f"; } > "corpus/response/$name"
    # A stream seed is the frame with its size prefix.
    python3 -c 'import sys,struct; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(struct.pack(">i",len(d))+d)' "$f" > "corpus/frame_stream/$name"
done
for t in request_frame response record_batch frame_stream; do
    echo "== $t (${secs}s)"
    # -malloc_limit_mb: a decoder that allocates what a length field claims,
    # rather than what the input holds, fails here.
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=256 \
        > "fuzz-$t.log" 2>&1 || echo "$t: FAILED (see fuzz/fuzz-$t.log and fuzz/artifacts/$t)"
    grep -E "Done [0-9]+ runs|ERROR|panicked|SUMMARY|Test unit written" "fuzz-$t.log" | tail -5
done
