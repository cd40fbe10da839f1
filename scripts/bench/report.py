"""report.py - turns one benchmark run into bench/results.md and plot data.

    /usr/bin/python3 report.py WORKDIR RESULTS_MD

Reads WORKDIR/runs.tsv (one row a timed run, written by run.sh's measure)
and WORKDIR/meta.tsv (machine, versions, sizes); writes the Markdown report
and WORKDIR/bars.dat and WORKDIR/sweep.dat for plot.gp. A contender with any
failed repetition in a workload is shown as FAILED with the reason, and no
speed is claimed for it.
"""
import os
import re
import statistics
import sys

WORKDIR, RESULTS = sys.argv[1], sys.argv[2]

COLUMNS = ["wl", "who", "rep", "n", "secs", "rss", "status", "valid",
           "retries", "server", "note"]

NAMES = {
    "retryrun": "retryrun (Lua script)",
    "c-easy": "C libcurl easy loop",
    "c-multi": "C libcurl multi loop",
    "curl": "curl CLI",
    "py-urllib3": "requests + urllib3 Retry",
    "py-tenacity": "requests + tenacity",
    "wrk": "wrk -t1 (ceiling)",
    "true": "/bin/true (process floor)",
}
EMPTY_NAMES = {
    "retryrun": "`retryrun -e ''`",
    "c-easy": "C: libcurl init, no request",
    "py-urllib3": "`python3 -c 'import requests'`",
    "py-tenacity": "`python3 -c 'import requests, tenacity'`",
    "true": "`/bin/true` (process floor)",
}
ORDER = list(NAMES)
WORKLOADS = [
    ("W1", "W1 sequential: N GETs, keep-alive, JSON predicate (nginx)"),
    ("W2", "W2 faulty: N GETs, 1 % 500s + 1 % missing field (todo-server)"),
    ("c64", "W3 concurrent: N3 GETs, 64 in flight (nginx)"),
    ("W5", "W5 HTTPS: W1 over TLS, certificate verified (cacert=), keep-alive (nginx)"),
    ("W6", "W6 HTTP/2: N3 GETs, 64 in flight as streams of one TLS connection (nginx)"),
    ("W4", "W4 one GET: process start, one call, exit (nginx)"),
    ("W4e", "W4 empty: start-up alone"),
]

NOTES = """
## How it was measured

- Every run goes through `stopwatch` (scripts/bench/stopwatch.c): wall time
  from fork to exit, so start-up is in every figure, and peak resident memory
  from `wait4()` (what `/usr/bin/time -f %M` reports).
- Repetitions alternate: in each one every contender runs once, in turn.
  Python runs only in the first few (a Python W1 run takes several seconds),
  Python with 64 threads in W3 and curl in W2 fewer still; the sizes line
  above gives the counts.
- Every contender makes up to 4 attempts a call, retrying transport errors,
  5xx and 200s that fail the predicate, after a full-jitter wait with a 1 ms
  base that doubles (retryrun `backoff={initial=0.001}`, the C loops the same
  formula, tenacity `wait_random_exponential(multiplier=0.001)`, urllib3
  `backoff_factor=0.001`, which skips the wait before the first retry), so W2
  measures the cost of retrying, not of sleeping.
- The C loops set `CURLOPT_NOSIGNAL`, as retryrun does: without it libcurl
  7.88 makes two `sigaction` calls per handle per `curl_multi_perform`.
- Predicates: retryrun and Python decode the JSON and want "summary" in the
  first item; the C loops look for `"summary"` inside the first object with
  `strstr` (no JSON parser: the floor). urllib3's Retry cannot see bodies, so
  the Python urllib3 contender retries an invalid 200 with a loop of its own.
- curl cannot check bodies: `--retry` retries timeouts and 408, 429, 500,
  502, 503, 504 only, never a 200 that lacks a field. run.sh checks curl's
  output afterwards, so in W2 curl ends with fewer valid responses and is
  FAILED. Its waits are whole seconds (1 s, doubling; `--retry-delay` takes
  integer seconds), so W2 with about a hundred 500s spends minutes asleep:
  it runs once. In W3 (`-Z --parallel-max 64`) curl's bodies go to
  /dev/null and only statuses are checked.
- W2 and the memory test use a fresh todo-server for every run, with the same
  seed, so every contender meets the same faults; the server's own count of
  requests minus N is the second retries figure.
- nginx runs one worker (two CPUs: one for the server, one for the client),
  access log off, keep-alive for a million requests, serving the 20-item list
  as a static file. wrk uses one thread, like every contender here, and runs
  for a fixed time; its "time" is its requests over its rate.
- W5 and W6: the same nginx, over TLS 1.3 with a P-256 certificate made
  with openssl for the run, which every contender verifies (retryrun
  `cacert=`, the C loops `--cacert`, libcurl's `CURLOPT_CAINFO`). nginx
  caches sessions, so a connection made again from the same libcurl handle
  resumes (libcurl 7.88 keeps sessions per handle); with keep-alive each
  contender makes one handshake per connection, and the callgrind figures
  leave it out. W5's server offers HTTP/1.1 only. W6's offers
  HTTP/2 by ALPN, which libcurl (7.62 and later, with nghttp2) asks for on
  every https URL unless told otherwise: retryrun needs no option for it.
  What makes the 64 calls streams of one connection is the cap on
  connections to the host: `run.limits{per_host = 1}` for retryrun
  (`BENCH_PER_HOST` in conc.lua); without it libcurl opens a connection
  for each call that starts before the first is up. The C multi loop's
  `--http2` sets the same cap, `CURLOPT_PIPEWAIT` and
  `CURLMOPT_PIPELINING = CURLPIPE_MULTIPLEX`.
- Start-up: the W4 empty rows give the floor every program pays on this
  machine: `/bin/true`, and a C program that only initialises libcurl (which
  loads libcurl's ~30 shared libraries).
"""


def load(path):
    with open(path) as f:
        return [dict(zip(COLUMNS, line.rstrip("\n").split("\t")))
                for line in f if line.strip()]


runs = load(WORKDIR + "/runs.tsv")
SWEEP = sorted({int(r["wl"][1:]) for r in runs if re.fullmatch(r"c\d+", r["wl"])})
meta = {}
with open(WORKDIR + "/meta.tsv") as f:
    for line in f:
        key, _, value = line.rstrip("\n").partition("\t")
        meta[key] = value


def summary(wl, who):
    """Median and spread of one contender in one workload, or None."""
    rows = [r for r in runs if r["wl"] == wl and r["who"] == who]
    if not rows:
        return None
    failed = [r for r in rows if r["status"] != "ok"]
    secs = [float(r["secs"]) for r in rows]
    n = [int(r["n"]) for r in rows]
    rates = [k / s for k, s in zip(n, secs) if s > 0]
    return {
        "reps": len(rows),
        "failed": failed,
        "secs": statistics.median(secs),
        "min": min(secs),
        "max": max(secs),
        "n": int(statistics.median(n)),
        "rate": statistics.median(rates) if rates else 0.0,
        "rss": statistics.median(int(r["rss"]) for r in rows),
        "valid": rows[-1]["valid"],
        "retries": rows[-1]["retries"],
        "server": rows[-1]["server"],
    }


def ok(s):
    return s is not None and not s["failed"]


def fmt_time(t):
    return "%.1f ms" % (t * 1e3) if t < 1 else "%.2f s" % t


def fmt_rate(r):
    return "{:,.0f}".format(r)


def fmt_mb(kb):
    return "%.1f MB" % (kb / 1024)


def ratio(a, b):
    return "%.2f×" % (a / b) if a and b else "—"


def failure(s):
    r = s["failed"][0]
    return "FAILED (%d of %d runs): %s" % (len(s["failed"]), s["reps"],
                                          r["note"] or "status " + r["status"])


def speed_vs_retryrun(wl, s):
    """retryrun's speed divided by this contender's: >1 means retryrun is faster."""
    rr = summary(wl, "retryrun")
    if not ok(rr) or not ok(s):
        return "—"
    if wl in ("W4", "W4e"):
        return ratio(s["secs"], rr["secs"])
    return ratio(rr["rate"], s["rate"])


out = []
w = out.append

CATEGORIES = [  # (substring of the object's path, label), first match wins
    ("libcurl", "libcurl"),
    ("liblua5.4", "Lua VM and GC"),
    ("libc.so", "libc (malloc, strings, syscall stubs)"),
    ("libssl", "OpenSSL (TLS)"),
    ("libcrypto", "OpenSSL (TLS)"),
    ("libnghttp2", "nghttp2 (HTTP/2)"),
    # before "/retryrun", which a checkout named retryrun has in every path
    ("/bench/easy", "the C loop's own code"),
    ("/bench/multi", "the C loop's own code"),
    ("/retryrun", "retryrun's own C"),
    ("ld-linux", "dynamic loader"),
]


# A function of the Lua that make built from Debian's source
# (scripts/lua-lto.sh: .../lua-VERSION/src/).
LUA_SOURCE = re.compile(r"/lua(-5\.[^/]*)?/src/")


def category(fn, obj):
    """The label of a function in an object. The Lua linked statically
    into retryrun is told from retryrun's own C by its file: its source
    directory, when make built it, or no line information at all, when
    it is Debian's liblua5.4.a (stripped of it)."""
    if obj.endswith("/retryrun") and (fn.startswith("???:") or
                                      LUA_SOURCE.search(fn)):
        return "Lua VM and GC"
    return next((l for k, l in CATEGORIES if k in obj), "other libraries")


LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)\s+\[(.*)\]\s*$")


def annotate(name, kind):
    """{(function, object): Ir} from callgrind_annotate's output, or None."""
    try:
        with open("%s/prof.%s.%s" % (WORKDIR, name, kind)) as f:
            text = f.read()
    except OSError:
        return None
    costs = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            key = (m.group(2), m.group(3))
            costs[key] = costs.get(key, 0) + int(m.group(1).replace(",", ""))
    return costs


def by_category(costs):
    sums = {}
    for (_, obj), ir in costs.items():
        label = next((l for k, l in CATEGORIES if k in obj), "other libraries")
        sums[label] = sums.get(label, 0) + ir
    return sums


PROFILES = [("W1 retryrun", "rr1"), ("W1 C easy", "easy1"),
            ("W3 retryrun", "rr3"), ("W3 C multi", "multi3"),
            ("W5 retryrun", "rr5"), ("W5 C easy", "easy5"),
            ("W6 retryrun", "rr6"), ("W6 C multi", "multi6")]


def per_request(name, kind, n):
    """{key: Ir per request} of profile NAME: (run of 3 n - run of n) / 2 n."""
    a, b = annotate(name + ".a", kind), annotate(name + ".b", kind)
    if a is None or b is None:
        return None
    return {k: (b.get(k, 0) - a.get(k, 0)) / (2 * n) for k in set(a) | set(b)}


def profile_section():
    """Instructions per request by library, and retryrun's costliest functions."""
    try:
        with open(WORKDIR + "/prof.n") as f:
            n = int(f.read())
    except (OSError, ValueError):
        return
    cols = []
    for label, name in PROFILES:
        costs = per_request(name, "self", n)
        if costs is None:
            continue
        sums = {}
        for (fn, obj), ir in costs.items():
            cat = category(fn, obj)
            sums[cat] = sums.get(cat, 0) + ir
        cols.append((label, sums))
    if not cols:
        return
    w("## Where the instructions go (callgrind)")
    w("")
    w("Instructions per request (valgrind's callgrind) by the library that "
      "executed them: each workload runs with %d and with %d requests, and "
      "the difference over %d is one request's cost, so start-up and "
      "connection set-up (the TLS handshakes too) cancel out. Instruction "
      "counts do not change with the machine's load; the kernel's share of "
      "the time (loopback, polling) is not in them. Lua seeds its string "
      "hashes from the clock and addresses, so a figure moves by about "
      "1 %% from one run to the next." % (n, 3 * n, 2 * n))
    w("")
    w("| library | " + " | ".join(c[0] for c in cols) + " |")
    w("|---|" + "---:|" * len(cols))
    labels = [l for _, l in CATEGORIES if l != "the C loop's own code"]
    labels = list(dict.fromkeys(labels + ["the C loop's own code", "other libraries"]))
    for label in labels:
        vals = [c[1].get(label, 0) for c in cols]
        if all(abs(v) < 50 for v in vals):
            continue
        w("| %s | %s |" % (label, " | ".join("{:,.0f}".format(max(v, 0)) for v in vals)))
    w("| **total** | %s |" % " | ".join(
        "**{:,.0f}**".format(sum(c[1].values())) for c in cols))
    w("")
    totals = {label: sum(c.values()) for label, c in cols}
    pairs = []
    for wl in ("W1", "W3", "W5", "W6"):
        rr = totals.get(wl + " retryrun")
        floor = next((v for k, v in totals.items()
                      if k.startswith(wl + " C")), None)
        if rr and floor:
            pairs.append("%s %.2f×" % (wl, floor / rr))
    if pairs:
        w("The C floor's instructions per request over retryrun's (what "
          "retryrun's speed over the floor's would be if time followed "
          "instructions): %s." % ", ".join(pairs))
        w("")
    incl = per_request("rr1", "incl", n)
    if incl:
        mine = [(fn, ir) for (fn, obj), ir in incl.items()
                if category(fn, obj) == "retryrun's own C"]
        total = max((ir for _, ir in mine), default=0)
        # Leave out the drivers (main, the loop: everything) and callgrind's
        # recursion entries ("f'2").
        mine = [(fn, ir) for fn, ir in mine
                if 0 < ir < 0.95 * total and "'" not in fn]
        mine.sort(key=lambda x: -x[1])
        w("retryrun's own functions in W1 by inclusive instructions per request "
          "(each with everything it calls):")
        w("")
        w("| function | instructions/request |")
        w("|---|---:|")
        for fn, ir in mine[:10]:
            w("| `%s` | {:,.0f} |".format(ir) % fn.rsplit("/", 1)[-1])
        w("")
    # the hand-kept before/after table of the engine's costs, which a run
    # cannot make: its "before" is a commit long gone
    history = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "bench", "history.md")
    if os.path.exists(history):
        with open(history) as f:
            out.append(f.read().rstrip("\n"))
        w("")
w("# retryrun benchmarks")
w("")
w("Generated by `make bench` (scripts/bench/run.sh). One run on one machine: "
  "compare the numbers with each other, not with other machines.")
w("")
w("- Date: %s; commit %s" % (meta.get("date"), meta.get("commit")))
w("- Machine: %s, %s CPUs, %s" % (meta.get("cpu"), meta.get("nproc"),
                                   meta.get("kernel")))
w("- Versions: %s; nginx %s; %s" % (meta.get("curl"), meta.get("nginx"),
                                     meta.get("python")))
w("- Sizes: %s" % meta.get("sizes"))
FULL = {"N": "10000", "N3": "20000", "reps": "5", "sweep_reps": "3",
        "sweep": "1,8,64,256"}
sizes = dict(kv.split("=", 1) for kv in (meta.get("sizes") or "").split())
if any(sizes.get(k, v) != v for k, v in FULL.items()):
    w("- **A reduced run** (fewer requests or repetitions than `make bench` "
      "makes by default): the figures show that every part works; their "
      "speeds and ratios are noise, not results.")
w("- Load average (1, 5, 15 min) at the start: %s; at the end: %s. Anything "
  "else running on the machine shows up in the spreads." % (
      meta.get("load_start"), meta.get("load_end")))
w("")
w("## Contenders × workloads")
w("")
w("Time is the median over the repetitions, with the spread (fastest–slowest); "
  "req/s is requests over time; *retryrun ÷ this* is retryrun's speed over "
  "the contender's (above 1: retryrun is faster); RSS is the median peak "
  "resident memory. *Valid* is what the contender checked and counted; "
  "*retries* as the contender counted them / as todo-server counted them.")
w("")
w("| workload | contender | time | spread | req/s | retryrun ÷ this | peak RSS | valid | retries | status |")
w("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for wl, title in WORKLOADS:
    for who in ORDER:
        s = summary(wl, who)
        if s is None:
            continue
        name = (EMPTY_NAMES if wl == "W4e" else NAMES).get(who, who)
        rate = fmt_rate(s["rate"]) if wl not in ("W4", "W4e") else "—"
        status = "ok (%d runs)" % s["reps"] if ok(s) else failure(s)
        if not ok(s):
            rate = "—"
        w("| %s | %s | %s | %s–%s | %s | %s | %s | %s | %s / %s | %s |" % (
            title.split(":")[0], name, fmt_time(s["secs"]),
            fmt_time(s["min"]), fmt_time(s["max"]), rate,
            speed_vs_retryrun(wl, s), fmt_mb(s["rss"]), s["valid"],
            s["retries"], s["server"], status))
w("")
for wl, title in WORKLOADS:
    w("- %s" % title)
w("")

# The performance targets, each as measured in this run: the first
# design's, with W3 at 64 in flight at 0.85x and one at 256 added, and the
# memory and start-up targets tightened, as the speed work set them.
w("## Targets")
w("")
w("retryrun's performance goals, each as this run measured it: the first "
  "design's (W1 against the C loop and Python, W3 against the C multi loop "
  "and wrk), later tightened (W3 at 0.85×, memory, start-up) and extended "
  "to HTTPS and HTTP/2 (W5, W6). A ratio is retryrun's speed over the "
  "other's; *(context)* rows are for reading the others, not goals.")
w("")
w("| target | measured | verdict |")
w("|---|---:|---|")


def hedge_section():
    """WH (scripts/bench/hedge.sh): call latency with and without hedging
    against a server that delays 5 % of its answers; the run with the median
    p99 of each mode's repetitions. Nothing when WH did not run."""
    try:
        with open(WORKDIR + "/hedge.tsv") as f:
            rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
        with open(WORKDIR + "/hedge.meta") as f:
            meta = f.read().split("\t", 1)[1].strip()
    except OSError:
        return
    w("## Hedging (WH)")
    w("")
    w("todo-server delays 5 %% of its answers by 500 ms; retryrun makes N "
      "GETs with C tasks in flight, unhedged and with `hedge = {delay = D, "
      "max = 2}`, each against a fresh server with the same seed (%s). "
      "Call latency of the run with the median p99; *requests* is what the "
      "server saw, *hedges* the copies sent." % meta)
    w("")
    w("| mode | runs | p50 | p90 | p99 | max | requests | hedges | status |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for mode in ("unhedged", "hedged"):
        mine = sorted((r for r in rows if r[0] == mode),
                      key=lambda r: float(r[6]))
        if not mine:
            continue
        m = mine[(len(mine) - 1) // 2]
        bad = [r for r in mine if r[10] != "ok"]
        w("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            mode, len(mine), fmt_time(float(m[4])), fmt_time(float(m[5])),
            fmt_time(float(m[6])), fmt_time(float(m[7])), m[8], m[9],
            "ok" if not bad else "**%d failed**" % len(bad)))
    w("")


def target(label, a, b, goal=None):
    """One row: a's speed over b's, checked against goal (None: context only)."""
    if not ok(a) or not ok(b):
        w("| %s | not measured (%s failed) | — |" % (
            label, "the first" if not ok(a) else "the reference"))
        return
    value = a["rate"] / b["rate"]
    verdict = "—" if goal is None else "met" if value >= goal else "**missed**"
    w("| %s | %s | %s |" % (label, ratio(a["rate"], b["rate"]), verdict))


rr1 = summary("W1", "retryrun")
target("W1: ≥ 0.9× C easy loop", rr1, summary("W1", "c-easy"), 0.9)
target("W1: ≥ 10× requests + urllib3 Retry", rr1,
       summary("W1", "py-urllib3"), 10)
target("W1: ≥ 10× requests + tenacity", rr1, summary("W1", "py-tenacity"), 10)
target("(context) W1: the C easy loop itself ÷ requests + urllib3 Retry",
       summary("W1", "c-easy"), summary("W1", "py-urllib3"))
rr3 = summary("c64", "retryrun")
target("W3: ≥ 0.85× C multi loop (64)", rr3, summary("c64", "c-multi"), 0.85)
target("W3: ≥ 0.75× C multi loop (256 in flight)", summary("c256", "retryrun"),
       summary("c256", "c-multi"), 0.75)
target("W3: toward 0.7× wrk (64)", rr3, summary("c64", "wrk"), 0.7)
target("(context) W3: the C multi loop itself ÷ wrk (the first design expected about 0.67×)",
       summary("c64", "c-multi"), summary("c64", "wrk"))
rr5, rr6 = summary("W5", "retryrun"), summary("W6", "retryrun")
target("W5: ≥ 0.85× C easy loop over HTTPS", rr5, summary("W5", "c-easy"), 0.85)
target("W6: ≥ 0.85× C multi loop over HTTP/2 (64 streams)", rr6,
       summary("W6", "c-multi"), 0.85)
target("(context) what TLS costs: retryrun W5 ÷ W1", rr5, rr1)
target("(context) what TLS costs: C easy loop W5 ÷ W1", summary("W5", "c-easy"),
       summary("W1", "c-easy"))
target("(context) HTTP/2 on one TLS connection ÷ 64 plain connections: retryrun W6 ÷ W3",
       rr6, rr3)
target("(context) the same for the C multi loop: W6 ÷ W3", summary("W6", "c-multi"),
       summary("c64", "c-multi"))
t10k = summary("T10000", "retryrun")
if ok(t10k):
    w("| 10,000 concurrent tasks: < 50 MB | %s | %s |" % (
        fmt_mb(t10k["rss"]), "met" if t10k["rss"] < 50 * 1024 else "**missed**"))
else:
    w("| 10,000 concurrent tasks: < 50 MB | not measured | — |")
st = summary("W4e", "retryrun")
floor = summary("W4e", "c-easy")
if ok(st):
    w("| start-up `retryrun -e ''` < 2 ms | %s (a C program that only "
      "initialises libcurl: %s; `/bin/true`: %s) | %s |" % (
          fmt_time(st["secs"]),
          fmt_time(floor["secs"]) if ok(floor) else "—",
          fmt_time(summary("W4e", "true")["secs"]) if ok(summary("W4e", "true")) else "—",
          "met" if st["secs"] < 0.002 else "**missed**"))
else:
    w("| start-up `retryrun -e ''` < 2 ms | not measured | — |")
w("")

# Issue 4: the sweep and the memory test.
w("## Concurrency")
w("")
w("N3 GETs against nginx with %s in flight; wrk runs with the "
  "same number of connections for a fixed time. Medians of the repetitions."
  % ", ".join(str(c) for c in SWEEP))
w("")
w("| in flight | retryrun req/s | C multi loop req/s | wrk req/s | retryrun ÷ wrk | multi ÷ wrk | retryrun ÷ multi |")
w("|---:|---:|---:|---:|---:|---:|---:|")
sweep = []
for c in SWEEP:
    rr, mu, wk = (summary("c%d" % c, who) for who in ("retryrun", "c-multi", "wrk"))
    cell = lambda s: fmt_rate(s["rate"]) if ok(s) else ("FAILED" if s else "—")
    rate = lambda s: s["rate"] if ok(s) else 0
    w("| %d | %s | %s | %s | %s | %s | %s |" % (
        c, cell(rr), cell(mu), cell(wk), ratio(rate(rr), rate(wk)),
        ratio(rate(mu), rate(wk)), ratio(rate(rr), rate(mu))))
    sweep.append((c, rate(rr), rate(mu), rate(wk)))
w("")
w("Memory: TASKS tasks spawned at once (scripts/bench/tasks.lua), each "
  "sleeping 0.2 s so that all are alive together, then making one GET with "
  "a predicate against todo-server (with W2's faults), at most 64 transfers "
  "at a time, the rest queued; *sleep only* is the same tasks without the "
  "GET, the tasks' own cost.")
w("")
w("| tasks | what each does | peak RSS | per task | time | valid | retries | status |")
w("|---:|---|---:|---:|---:|---:|---:|---|")
base = summary("W4e", "retryrun")
for wl in sorted({r["wl"] for r in runs if r["wl"][0] in "ST"},
                 key=lambda x: (int(x[1:]), x[0])):
    s = summary(wl, "retryrun")
    tasks = int(wl[1:])
    per = "%.1f KB" % ((s["rss"] - base["rss"]) / tasks) if ok(base) else "—"
    w("| {:,} | {} | {} | {} | {} | {} | {} / {} | {} |".format(
        tasks, "sleep only" if wl[0] == "S" else "sleep, then GET",
        fmt_mb(s["rss"]), per, fmt_time(s["secs"]), s["valid"],
        s["retries"], s["server"],
        "ok (%d runs)" % s["reps"] if ok(s) else failure(s)))
w("")
w("*Per task* is the peak RSS above `retryrun -e ''`'s, divided by the tasks.")
w("")

hedge_section()
profile_section()
w(NOTES.strip())
w("")

with open(RESULTS, "w") as f:
    f.write("\n".join(out))

# Plot data: req/s per workload and contender (NaN where failed or absent),
# and the sweep.
BARS = ["retryrun", "c-floor", "curl", "py-urllib3", "py-tenacity", "wrk"]
BAR_TITLES = ["retryrun", "C libcurl loop (floor)", "curl CLI",
              "requests + urllib3 Retry", "requests + tenacity", "wrk (ceiling)"]
with open(WORKDIR + "/bars.dat", "w") as f:
    f.write("workload " + " ".join('"%s"' % t for t in BAR_TITLES) + "\n")
    for wl, label in (("W1", "W1"), ("W2", "W2"), ("c64", "W3"), ("W5", "W5"),
                      ("W6", "W6")):
        vals = []
        for who in BARS:
            if who == "c-floor":
                who = "c-multi" if wl in ("c64", "W6") else "c-easy"
            s = summary(wl, who)
            vals.append("%.1f" % s["rate"] if ok(s) else "NaN")
        f.write(label + " " + " ".join(vals) + "\n")
with open(WORKDIR + "/sweep.dat", "w") as f:
    f.write('c "retryrun" "C libcurl multi loop" "wrk -t1"\n')
    for row in sweep:
        f.write(" ".join(str(v) if v else "NaN" for v in row) + "\n")
