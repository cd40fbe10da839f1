#!/bin/sh
# run.sh - `make bench`: retryrun side by side with what users would use
# instead, on loopback, in one run (issues 4 and 5).
#
#   sh scripts/bench/run.sh [BUILD]
#
# Compiles the C contenders and the stopwatch (scripts/bench/*.c), starts nginx
# (a static JSON list of 20 items) on free loopback ports, over plain HTTP, over
# HTTPS and over HTTP/2 with TLS (a self-signed certificate made with openssl
# for this run), and, per faulty run, todo-server from BUILD; runs W4
# (start-up), W1 (sequential), W2 (faulty), the concurrency sweep (1, 8, 64,
# 256 in flight; 64 is W3), W5 (W1 over HTTPS), W6 (64 in flight as streams
# of one HTTP/2 connection), the memory test (1,000 and 10,000 tasks) and WH
# (hedging, scripts/bench/hedge.sh), every contender in turn within each
# repetition; profiles retryrun and the C loops with callgrind when valgrind
# is there; then scripts/bench/report.py writes bench/results.md and
# plot.gp bench/results.png. Raw rows stay in bench/tmp/runs.tsv.
#
# Every contender is optional: one that is missing, exits non-zero, times out
# or returns fewer valid responses than it was asked for is reported as
# failed, never as fast, and is not run again in that workload.
#
# Knobs (environment), defaults are the real sizes:
#   BENCH_N=10000      GETs in W1 and W2      BENCH_N3=20000  GETs a sweep run
#   BENCH_REPS=5       repetitions            BENCH_PY_REPS=3 of them for Python
#   BENCH_SWEEP_REPS=3 sweep repetitions      BENCH_PY_W3_REPS=1 Python threads
#   BENCH_CURL_W2_REPS=1 curl in W2 (each retry waits >= 1 s)
#   BENCH_W4_REPS=10   start-up repetitions   BENCH_WRK_SECONDS=3
#   BENCH_TIMEOUT=120  seconds before one run is killed
#   BENCH_TASKS="1000 10000"  task counts for the memory test
#   BENCH_SWEEP="1 8 64 256"  in flight in the sweep (64 is W3)
#   BENCH_PROFILE_N=2000  callgrind runs of this many requests and of 3 times
#                         as many, per workload (0: none; needs valgrind)

set -u

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac

N=${BENCH_N:-10000}
N3=${BENCH_N3:-20000}
REPS=${BENCH_REPS:-5}
PY_REPS=${BENCH_PY_REPS:-3}
SWEEP_REPS=${BENCH_SWEEP_REPS:-3}
PY_W3_REPS=${BENCH_PY_W3_REPS:-1}
CURL_W2_REPS=${BENCH_CURL_W2_REPS:-1}
W4_REPS=${BENCH_W4_REPS:-10}
WRK_SECONDS=${BENCH_WRK_SECONDS:-3}
TIMEOUT=${BENCH_TIMEOUT:-120}
TASKS=${BENCH_TASKS:-1000 10000}
SWEEP=${BENCH_SWEEP:-1 8 64 256}
PY=/usr/bin/python3         # Debian's python, where requests and tenacity live
TOKEN=alice-secret
TODO_FAULTS="--seed 7 --fail-rate 0.01 --missing-field-rate 0.01"

RR=$BUILD/retryrun
TODO=$BUILD/todo-server
bin=$BUILD/bench            # compiled C contenders and the stopwatch
work=$root/bench/tmp        # raw results, outputs and logs of this run
runs=$work/runs.tsv
mkdir -p "$bin" "$root/bench"
rm -rf "$work" && mkdir -p "$work/logs"
srv=$(mktemp -d /tmp/retryrun-bench.XXXXXX) || exit 1
chmod 755 "$srv"            # nginx workers may run as nobody

say() { printf '%s\n' "bench: $*" >&2; }
die() { say "$*"; exit 1; }

# --- servers ----------------------------------------------------------------

NGINX_PID= TODO_PID=

stop_pid() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
  return 0
}

cleanup() {
  stop_pid "$TODO_PID"
  stop_pid "$NGINX_PID"
  rm -rf "$srv"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
  $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Serves $srv/www/items (20 items, one line) at NGINX_URL (HTTP/1.1), at
# NGINX_TLS_URL (HTTPS, HTTP/1.1 only) and at NGINX_H2_URL (HTTP/2 over TLS,
# offered by ALPN), the last two with a certificate for 127.0.0.1 that CERT
# verifies. TLS 1.2 and 1.3 (nginx 1.22 leaves 1.3 out by default); sessions
# are cached and ticketed, so a connection that one libcurl handle makes
# again resumes (libcurl 7.88 keeps sessions per handle).
nginx_start() {
  port=$(free_port) && tls_port=$(free_port) && h2_port=$(free_port) ||
    die "no free port"
  CERT=$srv/cert.pem
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$srv/key.pem" -out "$CERT" 2>"$srv/openssl.err" ||
    die "openssl: $(tail -n 1 "$srv/openssl.err")"
  mkdir -p "$srv/www" "$srv/tmp"
  $PY -c 'import json, sys; json.dump([{"id": i, "summary": "item %d" % i} for i in range(1, 21)], sys.stdout)' \
    >"$srv/www/items"
  chmod -R a+rX "$srv/www"
  cat >"$srv/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $srv/nginx.pid;
error_log $srv/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path $srv/tmp;
  proxy_temp_path $srv/tmp;
  fastcgi_temp_path $srv/tmp;
  uwsgi_temp_path $srv/tmp;
  scgi_temp_path $srv/tmp;
  ssl_certificate $CERT;
  ssl_certificate_key $srv/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:tls:1m;
  server {
    listen 127.0.0.1:$port;
    root $srv/www;
    location / { default_type application/json; }
  }
  server {
    listen 127.0.0.1:$tls_port ssl;
    root $srv/www;
    location / { default_type application/json; }
  }
  server {
    listen 127.0.0.1:$h2_port ssl http2;
    root $srv/www;
    location / { default_type application/json; }
  }
}
EOF
  nginx -p "$srv" -c "$srv/nginx.conf" -e "$srv/error.log" &
  NGINX_PID=$!
  NGINX_URL=http://127.0.0.1:$port/items
  NGINX_TLS_URL=https://127.0.0.1:$tls_port/items
  NGINX_H2_URL=https://127.0.0.1:$h2_port/items
  i=0
  until curl -sf -o /dev/null "$NGINX_URL" &&
      curl -sf --cacert "$CERT" -o /dev/null "$NGINX_TLS_URL" &&
      curl -sf --cacert "$CERT" -o /dev/null "$NGINX_H2_URL"; do
    i=$((i + 1))
    [ $i -lt 50 ] || die "nginx did not start: $(cat "$srv/error.log")"
    sleep 0.1
  done
}

todo_curl() { curl -s -H "Authorization: Bearer $TOKEN" "$@"; }

# The server's request count, from GET /_stats.
todo_requests() {
  todo_curl "$TODO_BASE/_stats" | $PY -c 'import json, sys; print(json.load(sys.stdin)["requests"])' 2>/dev/null
}

# Starts a fresh todo-server with the W2 faults (same seed every time, so every
# contender meets the same faults) and three items; sets TODO_URL.
todo_start() {
  stop_pid "$TODO_PID"
  TODO_PID=
  [ -x "$TODO" ] || return 1
  "$TODO" --listen 127.0.0.1:0 $TODO_FAULTS >"$srv/todo.out" 2>"$srv/todo.err" &
  TODO_PID=$!
  i=0
  until grep -q '^listening on http://' "$srv/todo.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 50 ] && kill -0 "$TODO_PID" 2>/dev/null || {
      say "todo-server did not start: $(cat "$srv/todo.err")"
      return 1
    }
    sleep 0.1
  done
  TODO_BASE=$(sed -n '1s/^listening on //p' "$srv/todo.out")
  TODO_URL=$TODO_BASE/items
  for item in 1 2 3; do
    tries=0
    until code=$(todo_curl -o /dev/null -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        -d "{\"summary\":\"bench item $item\",\"description\":\"made by run.sh\"}" \
        "$TODO_URL") && [ "${code#2}" != "$code" ]; do
      tries=$((tries + 1))
      [ $tries -lt 10 ] || { say "cannot create items: $code"; return 1; }
    done
  done
}

# --- measuring --------------------------------------------------------------

# Validators read $work/out (the contender's stdout) and set V_VALID and
# V_RETRIES; wrk's also sets V_N and V_SECS (it runs for a time, not a count).
valid_line() {
  line=$(grep '^valid=' "$work/out" | tail -n 1)
  V_VALID=$(printf '%s' "$line" | sed -n 's/^valid=\([0-9]*\).*/\1/p')
  V_RETRIES=$(printf '%s' "$line" | sed -n 's/.*retries=\([0-9]*\).*/\1/p')
}
exit_only() { V_VALID=0 V_RETRIES=0; }
# curl -w '\n#%{http_code}\n': a body line, then its status line. Valid: a 200
# whose first object holds "summary", the check curl itself cannot make.
# (--fail keeps failed attempts' bodies out; should one slip onto the line,
# only the last JSON array on it counts.)
curl_bodies() {
  V_VALID=$(awk '
    /^#/ { if ($0 == "#200" && ok) v++; ok = 0; next }
    /./  { sub(/.*[]}]\[/, "[")
           i = index($0, "{"); j = index($0, "}"); k = index($0, "\"summary\"")
           ok = i > 0 && k > i && k < j }
    END  { print v + 0 }' "$work/out")
  V_RETRIES=-
}
curl_statuses() { V_VALID=$(grep -c '^#200$' "$work/out"); V_RETRIES=-; }
wrk_report() {
  V_N=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$work/out")
  rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/out")
  bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/out")
  errs=$(sed -n 's/^ *Socket errors: *//p' "$work/out")
  V_VALID=$(( ${V_N:-0} - ${bad:-0} ))
  [ -z "$errs" ] || V_VALID=$((V_VALID - 1))    # any socket error fails it
  V_SECS=$(awk -v n="${V_N:-0}" -v r="${rate:-0}" 'BEGIN { if (r > 0) printf "%.6f", n / r; else print 0 }')
  V_RETRIES=-
}

failed_before() { awk -F'\t' -v w="$1" -v c="$2" '$1 == w && $2 == c && $7 != "ok" { f = 1 } END { exit !f }' "$runs"; }

# measure WORKLOAD CONTENDER REP N CMD [ARGS...]
# One timed run through the stopwatch; appends a row to runs.tsv:
# workload contender rep n seconds rss_kb status valid retries server_retries note
# VALIDATE (default valid_line) reads the output; SERVER, when set, is the
# todo-server whose request count gives the retries it saw.
measure() {
  wl=$1 who=$2 rep=$3 n=$4
  shift 4
  if failed_before "$wl" "$who"; then return 0; fi
  log=$work/logs/$wl-$who-$rep.err
  before=
  [ -n "${SERVER:-}" ] && before=$(todo_requests)
  set -- $("$bin/stopwatch" "$work/out" "$TIMEOUT" "$@" 2>"$log")
  secs=${1:-0} rss=${2:-0} st=${3:-2}
  V_N= V_SECS= V_VALID= V_RETRIES=
  ${VALIDATE:-valid_line}
  n=${V_N:-$n} secs=${V_SECS:-$secs}
  server=-
  if [ "$st" = 0 ] && [ -n "$before" ] && after=$(todo_requests) && [ -n "$after" ]; then
    server=$((after - before - STATS_SELF - n))
  fi
  status=ok note=
  if [ "$st" != 0 ]; then
    status=fail
    case $st in
      127) note="not found: $(tail -n 1 "$log")" ;;
      137) note="killed after ${TIMEOUT} s" ;;
      *) note="exit $st: $(grep -v '^[[:space:]]' "$log" | grep . | tail -n 1)" ;;
    esac
  elif [ "${V_VALID:-0}" -lt "$n" ] 2>/dev/null || [ -z "$V_VALID" ]; then
    status=fail note="${V_VALID:-no} valid of $n"
  fi
  note=$(printf '%s' "$note" | tr '\t\n' '  ' | cut -c1-160)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$who" "$rep" \
    "$n" "$secs" "$rss" "$status" "${V_VALID:--}" "${V_RETRIES:--}" \
    "$server" "$note" >>"$runs"
  say "$wl $who #$rep: ${secs} s, ${rss} KiB, $status${note:+ ($note)}"
}

# curl_config FILE URL N [OUTPUT]: a -K config of N copies of one URL, for
# curl's many-URLs-in-one-process mode; each body goes to OUTPUT if given
# (curl pairs one output with one URL), else to stdout.
curl_config() {
  awk -v u="$2" -v n="$3" -v o="${4:-}" 'BEGIN {
    for (i = 0; i < n; i++) {
      printf "url = \"%s\"\n", u
      if (o != "") printf "output = \"%s\"\n", o
    } }' >"$1"
}

# --- setup ------------------------------------------------------------------

CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror"
for prog in stopwatch easy multi; do
  $CC $CFLAGS $($PKG_CONFIG --cflags libcurl) "$here/$prog.c" -o "$bin/$prog" \
    $($PKG_CONFIG --libs libcurl) || die "cannot compile $prog.c"
done
for tool in nginx wrk curl gnuplot openssl; do
  command -v $tool >/dev/null || die "$tool is missing (make bench-deps)"
done
$PY -c 'import requests, tenacity' || die "$PY lacks requests or tenacity"
[ -x "$RR" ] || say "no $RR: retryrun's rows will fail"
[ -x "$TODO" ] || say "no $TODO: W2 and the memory test will fail"

{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'commit\t%s\n' "$(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
  printf 'curl\t%s\n' "$(curl --version | head -n 1 | cut -d' ' -f1-3)"
  printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's/.*: //')"
  printf 'openssl\t%s\n' "$(openssl version | cut -d' ' -f1-2)"
  printf 'python\t%s\n' "$($PY -c 'import sys, requests, urllib3, tenacity; from importlib.metadata import version; print("Python %s, requests %s, urllib3 %s, tenacity %s" % (sys.version.split()[0], requests.__version__, urllib3.__version__, version("tenacity")))')"
  printf 'sizes\tN=%s N3=%s reps=%s py_reps=%s sweep_reps=%s py_w3_reps=%s curl_w2_reps=%s w4_reps=%s wrk=%ss sweep=%s\n' \
    "$N" "$N3" "$REPS" "$PY_REPS" "$SWEEP_REPS" "$PY_W3_REPS" "$CURL_W2_REPS" "$W4_REPS" "$WRK_SECONDS" \
    "$(echo $SWEEP | tr ' ' ,)"
} >"$work/meta.tsv"
: >"$runs"

nginx_start
say "nginx at $NGINX_URL"
STATS_SELF=0
if todo_start; then
  a=$(todo_requests) b=$(todo_requests)
  [ -n "$a" ] && [ -n "$b" ] && STATS_SELF=$((b - a))
fi

# --- W4: start-up -----------------------------------------------------------

VALIDATE=exit_only
for rep in $(seq "$W4_REPS"); do
  measure W4e true "$rep" 0 /bin/true
  measure W4e retryrun "$rep" 0 "$RR" -e ''
  measure W4e c-easy "$rep" 0 "$bin/easy" "$NGINX_URL" 0
  measure W4e py-urllib3 "$rep" 0 $PY -c 'import requests'
  measure W4e py-tenacity "$rep" 0 $PY -c 'import requests, tenacity'
done
for rep in $(seq "$W4_REPS"); do
  VALIDATE=valid_line
  measure W4 retryrun "$rep" 1 "$RR" "$here/seq.lua" "$NGINX_URL" 1
  measure W4 c-easy "$rep" 1 "$bin/easy" "$NGINX_URL" 1
  VALIDATE=curl_bodies
  measure W4 curl "$rep" 1 curl -s --fail --retry 3 -w '\n#%{http_code}\n' "$NGINX_URL"
  VALIDATE=valid_line
  measure W4 py-urllib3 "$rep" 1 $PY "$here/client.py" urllib3 "$NGINX_URL" 1
  measure W4 py-tenacity "$rep" 1 $PY "$here/client.py" tenacity "$NGINX_URL" 1
done

# --- W1: sequential GETs against nginx --------------------------------------

curl_config "$work/w1.curl" "$NGINX_URL" "$N"
for rep in $(seq "$REPS"); do
  VALIDATE=valid_line
  measure W1 retryrun "$rep" "$N" "$RR" "$here/seq.lua" "$NGINX_URL" "$N"
  measure W1 c-easy "$rep" "$N" "$bin/easy" "$NGINX_URL" "$N"
  VALIDATE=curl_bodies
  measure W1 curl "$rep" "$N" curl -s --fail --retry 3 -w '\n#%{http_code}\n' -K "$work/w1.curl"
  [ "$rep" -le "$PY_REPS" ] || continue
  VALIDATE=valid_line
  measure W1 py-urllib3 "$rep" "$N" $PY "$here/client.py" urllib3 "$NGINX_URL" "$N"
  measure W1 py-tenacity "$rep" "$N" $PY "$here/client.py" tenacity "$NGINX_URL" "$N"
done

# --- W2: sequential GETs against a faulty todo-server -----------------------

# w2 CONTENDER REP CMD...: one run against a fresh todo-server. @URL@ in
# CMD stands for its /items; $work/w2.curl is a curl config of N of it.
w2() {
  who=$1 rep=$2
  shift 2
  if failed_before W2 "$who"; then return 0; fi
  if ! todo_start; then
    printf 'W2\t%s\t%s\t%s\t0\t0\tfail\t-\t-\t-\ttodo-server did not start\n' \
      "$who" "$rep" "$N" >>"$runs"
    return 0
  fi
  curl_config "$work/w2.curl" "$TODO_URL" "$N"
  for a in "$@"; do
    [ "$a" = @URL@ ] && a=$TODO_URL
    set -- "$@" "$a"
    shift
  done
  SERVER=1
  measure W2 "$who" "$rep" "$N" "$@"
  SERVER=
}

for rep in $(seq "$REPS"); do
  VALIDATE=valid_line
  w2 retryrun "$rep" "$RR" "$here/seq.lua" @URL@ "$N" "$TOKEN"
  w2 c-easy "$rep" "$bin/easy" @URL@ "$N" "$TOKEN"
  if [ "$rep" -le "$CURL_W2_REPS" ]; then
    VALIDATE=curl_bodies
    w2 curl "$rep" curl -s --fail --retry 3 -H "Authorization: Bearer $TOKEN" \
      -w '\n#%{http_code}\n' -K "$work/w2.curl"
  fi
  [ "$rep" -le "$PY_REPS" ] || continue
  VALIDATE=valid_line
  w2 py-urllib3 "$rep" $PY "$here/client.py" urllib3 @URL@ "$N" 1 "$TOKEN"
  w2 py-tenacity "$rep" $PY "$here/client.py" tenacity @URL@ "$N" 1 "$TOKEN"
done

# --- concurrency sweep against nginx; 64 in flight is W3 --------------------

curl_config "$work/w3.curl" "$NGINX_URL" "$N3" /dev/null
for rep in $(seq "$SWEEP_REPS"); do
  for c in $SWEEP; do
    VALIDATE=valid_line
    measure "c$c" retryrun "$rep" "$N3" "$RR" "$here/conc.lua" "$NGINX_URL" "$N3" "$c"
    measure "c$c" c-multi "$rep" "$N3" "$bin/multi" "$NGINX_URL" "$N3" "$c"
    VALIDATE=wrk_report
    measure "c$c" wrk "$rep" 0 wrk -t1 -c"$c" -d"${WRK_SECONDS}s" "$NGINX_URL"
    [ "$c" = 64 ] || continue
    VALIDATE=curl_statuses
    measure c64 curl "$rep" "$N3" curl -s --fail --retry 3 -Z --parallel-max 64 \
      -w '#%{http_code}\n' -K "$work/w3.curl"
    [ "$rep" -le "$PY_W3_REPS" ] || continue
    VALIDATE=valid_line
    measure c64 py-urllib3 "$rep" "$N3" $PY "$here/client.py" urllib3 "$NGINX_URL" "$N3" 64
  done
done

# --- W5: W1 over HTTPS; W6: 64 in flight over one HTTP/2 connection ---------

# retryrun's scripts read BENCH_CACERT (common.lua: cacert=) and
# BENCH_PER_HOST (conc.lua: run.limits{per_host=}); the C loops take flags.
export BENCH_CACERT="$CERT"
for rep in $(seq "$REPS"); do
  VALIDATE=valid_line
  measure W5 retryrun "$rep" "$N" "$RR" "$here/seq.lua" "$NGINX_TLS_URL" "$N"
  measure W5 c-easy "$rep" "$N" "$bin/easy" --cacert "$CERT" "$NGINX_TLS_URL" "$N"
done
export BENCH_PER_HOST=1
for rep in $(seq "$SWEEP_REPS"); do
  VALIDATE=valid_line
  measure W6 retryrun "$rep" "$N3" "$RR" "$here/conc.lua" "$NGINX_H2_URL" "$N3" 64
  measure W6 c-multi "$rep" "$N3" "$bin/multi" --cacert "$CERT" --http2 \
    "$NGINX_H2_URL" "$N3" 64
done
unset BENCH_CACERT BENCH_PER_HOST

# --- memory: many concurrent tasks, against a faulty todo-server ------------

VALIDATE=valid_line
for rep in $(seq "$SWEEP_REPS"); do
  for t in $TASKS; do
    measure "S$t" retryrun "$rep" "$t" "$RR" "$here/tasks.lua" - "$t"
    if failed_before "T$t" retryrun; then continue; fi
    if ! todo_start; then
      printf 'T%s\tretryrun\t%s\t%s\t0\t0\tfail\t-\t-\t-\ttodo-server did not start\n' \
        "$t" "$rep" "$t" >>"$runs"
      continue
    fi
    SERVER=1
    measure "T$t" retryrun "$rep" "$t" "$RR" "$here/tasks.lua" "$TODO_URL" "$t" "$TOKEN"
    SERVER=
  done
done
stop_pid "$TODO_PID"
TODO_PID=

# --- WH: hedging against a slow tail ------------------------------------------

# Its own script (it also runs alone); its rows go to $work/hedge.tsv.
sh "$here/hedge.sh" "$BUILD" "$work" >/dev/null || say "WH failed"

# --- profile: where retryrun's instructions go, per request (callgrind) ------

# Instruction counts do not depend on the machine's load, so this part reads
# the same on a busy machine. Each workload runs twice, with PN requests and
# with 3 PN: the difference over 2 PN is the cost of one request, with
# start-up and connection set-up cancelled out; report.py splits it by
# library.
PN=${BENCH_PROFILE_N:-2000}
profile() {
  prof=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$prof" "$@" \
      >"$work/logs/cg.$prof.out" 2>"$work/logs/cg.$prof.err" &&
    callgrind_annotate --threshold=100 "$work/cg.$prof" >"$work/prof.$prof.self" &&
    callgrind_annotate --threshold=100 --inclusive=yes "$work/cg.$prof" \
      >"$work/prof.$prof.incl" ||
    say "callgrind $prof failed: $(tail -n 1 "$work/logs/cg.$prof.err")"
}
# profile_pair NAME CMD...: CMD with the argument @N@ made PN (the run
# NAME.a) and 3 PN (NAME.b).
profile_pair() {
  name=$1
  shift
  for run in a b; do
    n=$PN
    [ $run = a ] || n=$((3 * PN))
    (
      for a in "$@"; do
        [ "$a" = @N@ ] && a=$n
        set -- "$@" "$a"
        shift
      done
      profile "$name.$run" "$@"
      grep -q "^valid=$n " "$work/logs/cg.$name.$run.out" || {
        say "callgrind $name.$run: not $n valid responses; left out"
        rm -f "$work/prof.$name.$run".*
      }
    )
  done
}
if [ "$PN" -gt 0 ] && command -v valgrind >/dev/null; then
  say "profiling $PN and $((3 * PN)) requests with callgrind"
  profile_pair rr1 "$RR" "$here/seq.lua" "$NGINX_URL" @N@
  profile_pair easy1 "$bin/easy" "$NGINX_URL" @N@
  profile_pair rr3 "$RR" "$here/conc.lua" "$NGINX_URL" @N@ 64
  profile_pair multi3 "$bin/multi" "$NGINX_URL" @N@ 64
  export BENCH_CACERT="$CERT"
  profile_pair rr5 "$RR" "$here/seq.lua" "$NGINX_TLS_URL" @N@
  profile_pair easy5 "$bin/easy" --cacert "$CERT" "$NGINX_TLS_URL" @N@
  export BENCH_PER_HOST=1
  profile_pair rr6 "$RR" "$here/conc.lua" "$NGINX_H2_URL" @N@ 64
  profile_pair multi6 "$bin/multi" --cacert "$CERT" --http2 "$NGINX_H2_URL" @N@ 64
  unset BENCH_CACERT BENCH_PER_HOST
  echo "$PN" >"$work/prof.n"
else
  say "no valgrind (or BENCH_PROFILE_N=0): no profile"
fi

# --- report -----------------------------------------------------------------

printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/meta.tsv"

$PY "$here/report.py" "$work" "$root/bench/results.md" || die "report failed"
gnuplot -e "dir='$work'; out='$root/bench/results.png'" "$here/plot.gp" ||
  say "gnuplot failed: no results.png"
cat "$root/bench/results.md"
