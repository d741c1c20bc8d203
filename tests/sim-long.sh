#!/usr/bin/env bash
# The simulation's long mode: COUNT seeded fault schedules from BASE on,
# split over the machine's cores, in the `sim` profile. Prints each
# process's summary and every failing seed with the command that replays it.
#
#   tests/sim-long.sh                # 100000 seeds from 100000
#   tests/sim-long.sh 200000 50000   # 50000 seeds from 200000
#
# Logs go to target/sim-long/; a failing seed's lines start with "FAILED".
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-100000}
count=${2:-100000}
procs=${SIM_PROCS:-$(nproc)}

bin=$(FAULT_SEEDS=0 cargo test -p tests --profile sim --test fault_schedules --no-run 2>&1 |
    grep -o 'target/sim/deps/fault_schedules-[0-9a-f]*' | head -1)
[ -x "$bin" ] || { echo "could not build the fault_schedules test binary"; exit 1; }
logs=target/sim-long
mkdir -p "$logs"
cp "$bin" "$logs/fault_schedules"

start=$(date +%s)
per=$(( (count + procs - 1) / procs ))
pids=()
for i in $(seq 0 $(( procs - 1 ))); do
    from=$(( base + i * per ))
    n=$(( per < base + count - from ? per : base + count - from ))
    [ "$n" -gt 0 ] || continue
    (cd tests && FAULT_SEED_BASE=$from FAULT_SEEDS=$n \
        "../$logs/fault_schedules" seeded_fault_schedules_keep_every_promise --nocapture \
        > "../$logs/part-$i.log" 2>&1) &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
elapsed=$(( $(date +%s) - start ))

# Each process also runs the named regression seeds first.
seeds=$(cat "$logs"/part-*.log | grep -c '^seed ' || true)
failed=$(cat "$logs"/part-*.log | grep -c '^FAILED seed ' || true)
grep -h '^FAILED seed \|replay:' "$logs"/part-*.log || true
echo "long simulation: $seeds seed runs from $base ($count in the range), $failed failed, in ${elapsed}s on $procs processes"
exit $status
