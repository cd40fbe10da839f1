#!/bin/sh
# The article's arithmetic, measured: `make demo` runs this as
#   sh scripts/demo.sh BUILD
#
# Starts todo-server with the article's failure rates (0.1 % of calls a 500,
# 0.1 % a 200 missing a field; seeded), runs the 10-call UI flow of
# scripts/ui_flow.lua 1,000 times without retries and 1,000 times with
# retryrun's default policy plus a `valid` predicate, and prints what
# happened as a table, with the faults injected read from the server's
# /_stats. Then 64 tasks go through an outage (scripts/outage.lua) with
# a plain retry loop and with the defaults. Then it runs a few of the
# examples in scripts/ against servers with their faults switched on,
# scripts/runbook.lua last. Every server is stopped on the way out,
# whatever happens.

BUILD=${1:-build}
FLOWS=1000
SEED=1
RATES="--fail-rate 0.001 --missing-field-rate 0.001"

RETRYRUN="$BUILD/retryrun"
for bin in "$RETRYRUN" "$BUILD/todo-server"; do
  if [ ! -x "$bin" ]; then
    echo "demo: $bin is missing; run 'make demo'" >&2
    exit 2
  fi
done
command -v curl >/dev/null 2>&1 || { echo "demo: needs curl" >&2; exit 2; }

tmp=$(mktemp -d) || exit 1
SERVER_PID=
URL=

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
  fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server FLAGS...: starts todo-server on a free port; sets URL.
start_server() {
  # emptied here, not by the child's redirection, which may come too late:
  # the loop below would then read the last server's address (or a file
  # not there yet)
  : >"$tmp/server.out"
  "$BUILD/todo-server" --listen 127.0.0.1:0 "$@" >"$tmp/server.out" 2>&1 &
  SERVER_PID=$!
  tries=0
  URL=
  while [ -z "$URL" ]; do
    URL=$(sed -n 's/^listening on //p' "$tmp/server.out")
    [ -n "$URL" ] && break
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "demo: todo-server $* did not start:" >&2
      cat "$tmp/server.out" >&2
      exit 1
    fi
    sleep 0.05
  done
}

# faults_injected: the sum of the fault counts in the server's /_stats.
faults_injected() {
  curl -s "$URL/_stats" |
    sed -n 's/.*"faults":{\([^}]*\)}.*/\1/p' | tr ',' '\n' |
    awk -F: '{ n += $2 } END { print n + 0 }'
}

# field NAME LINE: the value of NAME=... in ui_flow.lua's last line.
field() {
  echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "retryrun demo: the article's UI flow of 10 API calls, $FLOWS times each way,"
echo "against todo-server $RATES --seed $SEED"
echo

# shellcheck disable=SC2086 # RATES is a list of flags
start_server $RATES --seed "$SEED"
rows=
for mode in none retry; do
  curl -s -X DELETE "$URL/_stats" >/dev/null
  # the summary (stderr) of each run apart from its report (stdout)
  if ! "$RETRYRUN" --summary scripts/ui_flow.lua "$URL" "$FLOWS" "$mode" \
       >"$tmp/flow.$mode" 2>"$tmp/summary.$mode"; then
    echo "demo: scripts/ui_flow.lua ($mode) failed:" >&2
    cat "$tmp/flow.$mode" "$tmp/summary.$mode" >&2
    exit 1
  fi
  last=$(tail -n 1 "$tmp/flow.$mode")
  rows="$rows$mode $(field flows "$last") $(field calls "$last") \
$(faults_injected) $(field retries "$last") $(field flows_failed "$last") \
$(field seconds "$last")
"
done
stop_server

echo "$rows" | awk '
  BEGIN {
    printf "%-8s %6s %7s %7s %8s %7s %9s %6s\n", "mode", "flows", "calls",
           "faults", "retries", "failed", "success", "time"
  }
  NF == 7 {
    printf "%-8s %6d %7d %7d %8d %7d %8.2f%% %5.1fs\n", $1, $2, $3, $4,
           $5, $6, 100 * ($2 - $6) / $2, $7
    if ($1 == "none") { p = $4 / $3; nfail = $6; nflows = $2 }
    if ($1 == "retry") { rfail = $6; rflows = $2; rfaults = $4; rretries = $5 }
  }
  END {
    print ""
    print "faults: injected by the server (its /_stats); failed: flows that"
    print "did not get through all 10 calls; none: one attempt a call;"
    print "retry: the default policy (up to 3 retries) plus a valid predicate."
    print ""
    printf "Without retries %.2f%% of calls failed (p), so a 10-call flow fails\n",
           100 * p
    printf "1-(1-p)^10 = %.1f%% of the time; measured: %.1f%%. With retries a\n",
           100 * (1 - (1 - p) ^ 10), 100 * nfail / nflows
    printf "call fails only when 4 attempts in a row do, p^4 = %.0e, and a flow\n",
           p ^ 4
    printf "about %.0e of the time; measured: %d of %d flows, at the cost of\n",
           10 * p ^ 4, rfail, rflows
    printf "%d retries for %d faults.\n", rretries, rfaults
  }'

echo
echo "Where the none-mode flows stopped (the first few):"
sed -n 's/^# /  /p' "$tmp/flow.none"

echo
echo "retryrun's own summary of the retry run (--summary):"
sed 's/^/  /' "$tmp/summary.retry"

# An outage: 64 clients of scripts/outage.lua against todo-server
# --outage START:LENGTH, once with a plain retry loop and once with the
# defaults; requests during the outage from the server's /_stats.
OUTAGE_START=2
OUTAGE_LEN=3
OUTAGE_RUN=7
echo
echo "== An outage: 64 tasks calling GET /items for ${OUTAGE_RUN} s; todo-server"
echo "   --outage $OUTAGE_START:$OUTAGE_LEN answers 503 (Retry-After: the time left) in between"
rows=
for mode in plain defaults; do
  start_server --outage "$OUTAGE_START:$OUTAGE_LEN"
  if ! "$RETRYRUN" -q scripts/outage.lua "$URL" "$mode" \
       $((OUTAGE_START + OUTAGE_LEN)) 64 "$OUTAGE_RUN" >"$tmp/outage.$mode" \
       2>&1; then
    echo "demo: scripts/outage.lua ($mode) failed:" >&2
    cat "$tmp/outage.$mode" >&2
    exit 1
  fi
  during=$(curl -s "$URL/_stats" | sed -n 's/.*"outage":\([0-9]*\).*/\1/p')
  last=$(tail -n 1 "$tmp/outage.$mode")
  rows="$rows$mode $during $(field retries "$last") $(field giveups "$last") \
$(field recover "$last") $(field attempts "$last")
"
  stop_server
done
echo "$rows" | awk '
  BEGIN {
    printf "  %-9s %15s %8s %9s %9s %9s\n", "policy", "sent in outage",
           "retries", "give-ups", "recovery", "requests"
  }
  NF == 6 { printf "  %-9s %15d %8d %9d %8.2fs %9d\n", $1, $2, $3, $4, $5, $6 }
  END {
    print ""
    print "  plain: backoff only (no retry budget, no breaker, Retry-After"
    print "  ignored); defaults: retryrun'"'"'s default policy (the budget,"
    print "  Retry-After and the cool-down it starts for every task). recovery:"
    print "  from the end of the outage until every task has had a call go"
    print "  through (to within the 50 ms between calls)."
  }'

# run_example SCRIPT FLAGS...: one example against a server with its fault,
# retryrun run with the options in RR_OPTS.
run_example() {
  script=$1
  shift
  echo
  echo "== retryrun ${RR_OPTS:+$RR_OPTS }$script, against todo-server $*"
  start_server "$@"
  # shellcheck disable=SC2086 # RR_OPTS is a list of options
  { "$RETRYRUN" $RR_OPTS "$script" "$URL" 2>&1; echo $? >"$tmp/rc"; } |
    sed 's/^/  /'
  stop_server
  if [ "$(cat "$tmp/rc")" != 0 ]; then
    echo "demo: $script failed (exit $(cat "$tmp/rc"))" >&2
    exit 1
  fi
}

# -v: a line for every attempt, with what was decided
RR_OPTS="-v --color=never" run_example scripts/fetch_items.lua \
  --fail-rate 0.2 --seed 1
RR_OPTS='' run_example scripts/create_then_read.lua --lag 250
RR_OPTS='' run_example scripts/idempotent_post.lua --lose-response-rate 0.3 \
  --seed 1
# the job most scripts start as: 50 records through every fault at once
RR_OPTS=--summary run_example scripts/runbook.lua --fail-rate 0.1 \
  --reset-rate 0.05 --lose-response-rate 0.1 --lag 100 --seed 1
