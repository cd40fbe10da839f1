#!/bin/sh
# hedge.sh - the hedging workload (WH) of `make bench`: does hedging cut the
# tail a slow server adds, and what does it cost in requests?
#
#   sh scripts/bench/hedge.sh [BUILD [WORKDIR]]
#
# todo-server delays 5 % of its answers by 500 ms (--slow-rate 0.05
# --slow-ms 500, seeded); retryrun makes N GETs of /items with C tasks in
# flight (scripts/bench/hedge.lua), once unhedged and once with
# hedge = {delay = D, max = 2}, each against a fresh server with the same
# seed, in turn within each repetition. Appends one row a run to
# WORKDIR/hedge.tsv (mode rep n valid p50 p90 p99 max requests hedged
# status) for report.py, and prints the medians of the repetitions.
# run.sh calls it with its own BUILD and WORKDIR; alone, it makes a small
# run:  BENCH_HEDGE_N=400 sh scripts/bench/hedge.sh build /tmp/hedge
#
# Knobs (environment): BENCH_HEDGE_N=2000 GETs a run, BENCH_HEDGE_REPS=3,
# BENCH_HEDGE_CONC=8 tasks in flight, BENCH_HEDGE_DELAY=0.05 seconds.

set -u

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
WORK=${2:-$root/bench/tmp}
N=${BENCH_HEDGE_N:-2000}
REPS=${BENCH_HEDGE_REPS:-3}
CONC=${BENCH_HEDGE_CONC:-8}
DELAY=${BENCH_HEDGE_DELAY:-0.05}
TOKEN=alice-secret
FAULTS="--seed 7 --slow-rate 0.05 --slow-ms 500"
out=$WORK/hedge.tsv
mkdir -p "$WORK"

say() { printf '%s\n' "bench: $*" >&2; }

HEDGE_PID=
hedge_stop() {
  [ -n "$HEDGE_PID" ] && kill "$HEDGE_PID" 2>/dev/null && wait "$HEDGE_PID" 2>/dev/null
  HEDGE_PID=
  return 0
}
trap hedge_stop EXIT
trap 'exit 130' INT TERM HUP

# hedge_run MODE REP DELAY: one run against a fresh todo-server.
hedge_run() {
  mode=$1 rep=$2 delay=$3
  hedge_stop
  rm -f "$WORK/hedge.srv"      # never read the last server's address
  "$BUILD/todo-server" --listen 127.0.0.1:0 $FAULTS >"$WORK/hedge.srv" 2>&1 &
  HEDGE_PID=$!
  i=0
  until grep -q '^listening on http://' "$WORK/hedge.srv" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 50 ] || { say "todo-server did not start"; return 1; }
    sleep 0.1
  done
  base=$(sed -n '1s/^listening on //p' "$WORK/hedge.srv")
  "$BUILD/retryrun" "$here/hedge.lua" "$base/items" "$N" "$CONC" "$delay" \
      "$TOKEN" >"$WORK/hedge.out" 2>"$WORK/hedge.err"
  st=$?
  requests=$(curl -s "$base/_stats" | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p')
  hedge_stop
  # nearest-rank percentiles of the lat= lines
  sed -n 's/^lat=//p' "$WORK/hedge.out" | sort -g | awk -v mode="$mode" \
    -v rep="$rep" -v n="$N" -v st="$st" -v req="${requests:--}" \
    -v line="$(grep '^valid=' "$WORK/hedge.out")" '
    function q(p,  i) { i = int(p * NR + 0.999999); return v[i < 1 ? 1 : i] }
    { v[NR] = $1 }
    END {
      split(line, f, /[= ]/)
      status = st == 0 && f[2] == n ? "ok" : "fail"
      printf "%s\t%s\t%s\t%s\t%.6f\t%.6f\t%.6f\t%.6f\t%s\t%s\t%s\n", mode, rep,
        n, f[2] + 0, q(.5), q(.9), q(.99), v[NR], req, f[4] + 0, status
    }' >>"$out"
  say "WH $mode #$rep: $(tail -n 1 "$out" | cut -f5-11)"
}

[ -x "$BUILD/retryrun" ] && [ -x "$BUILD/todo-server" ] ||
  { say "WH needs $BUILD/retryrun and $BUILD/todo-server"; exit 1; }
: >"$out"
for rep in $(seq "$REPS"); do
  hedge_run unhedged "$rep" 0
  hedge_run hedged "$rep" "$DELAY"
done
printf 'hedge\tN=%s reps=%s conc=%s delay=%s faults=%s\n' "$N" "$REPS" \
  "$CONC" "$DELAY" "$FAULTS" >"$WORK/hedge.meta"

# medians of the repetitions, per mode
printf '%-9s %9s %9s %9s %9s %9s %9s\n' mode p50_ms p90_ms p99_ms max_ms requests hedged
for mode in unhedged hedged; do
  awk -F'\t' -v m="$mode" '$1 == m' "$out" | sort -t"$(printf '\t')" -k7,7g |
    awk -F'\t' '{ r[NR] = $0 } END {
      split(r[int((NR + 1) / 2)], f, "\t")
      printf "%-9s %9.2f %9.2f %9.1f %9.1f %9s %9s\n", f[1], f[5] * 1000,
        f[6] * 1000, f[7] * 1000, f[8] * 1000, f[9], f[10] }'
done
