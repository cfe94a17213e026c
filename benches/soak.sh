#!/usr/bin/env bash
# Soak: public reads and admin writes at the same time, on SQLite and on
# PostgreSQL, for a bounded time on loopback; then checks that nothing was
# lost. Per backend:
#
# - `vigil serve --demo` on a fresh database (a temporary SQLite file, or a
#   PostgreSQL database made for the run and dropped after it);
# - wrk (Debian: apt-get install wrk) reads the public API and pages, in turn
#   plain and gzip/brotli: the document, figures.csv, the page, the event
#   list and the version history;
# - benches/soak_driver.py (Python, standard library) runs curator writers
#   with API tokens (open a changeset, GET a figure and its ETag, PUT it
#   with If-Match and a unique marker in `notes`, submit) and a reviewer
#   that approves the queue. Writers sometimes edit the same figure: the
#   later approval is then refused with 409 naming it (a conflict; the
#   reviewer rejects the changeset), and sometimes repeat a PUT with the old
#   ETag (409, a stale edit). Both are expected and counted apart.
#
# Checks: no 5xx, no socket error, no unexpected answer, from wrk or the
# driver; no lost update (versions consecutive and one per approval, each
# approved version holding its changeset, hash and marker, each figure's
# last approved marker in the latest document and figures.csv, no changeset
# left open); `vigil audit verify` exits 0 after the server stops; resident
# memory at the end within RSS_GROWTH_MAX % of that after the warm-up.
# Exits 1 when a check fails.
#
#   bash benches/soak.sh                                # both backends, 60 s each
#   DURATION=300s BACKENDS=postgres bash benches/soak.sh
#   WRITERS=6 CONNECTIONS=32 bash benches/soak.sh
#
# Memory: vigil is built with jemalloc as its allocator, and the strict
# check passes in the default environment. glibc's malloc gives each thread
# that allocates an arena of its own (up to eight per core) and keeps each
# at its peak, so a server's RSS climbs in steps with its thread count; to
# compare, `VIGIL=target/release/vigil-glibc` (or `vigil-mimalloc`, both
# built with `--features bench-tools`) runs the same server with glibc's
# malloc or mimalloc. ARENAS, when set, is passed as MALLOC_ARENA_MAX (it
# affects glibc's malloc only); unset by default.
#
# PG_URL (default postgres://postgres@127.0.0.1:5432) is the server where a
# database vigil_soak_<pid> is created with psql and dropped at the end.
# wrk, the driver and the server share the machine: on 2 cores the figures
# are those of a loaded machine, not of the server alone.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-60s}"
WARMUP="${WARMUP:-20s}"
BACKENDS="${BACKENDS:-sqlite,postgres}"
WRITERS="${WRITERS:-4}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-1}"
TIMEOUT="${TIMEOUT:-5s}"
WORKERS="${WORKERS:-}"
HOT="${HOT:-0.3}"
RSS_GROWTH_MAX="${RSS_GROWTH_MAX:-20}"
ARENAS="${ARENAS-}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
EVENT=beslan-2004
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

# A wrk duration (30s, 5m, 1h or plain seconds) in seconds.
seconds() {
    local d="$1"
    case "$d" in
        *h) echo $((${d%h} * 3600)) ;;
        *m) echo $((${d%m} * 60)) ;;
        *s) echo "${d%s}" ;;
        *) echo "$d" ;;
    esac
}
DUR_S="$(seconds "$DURATION")"
WARM_S="$(seconds "$WARMUP")"

[ -n "${VIGIL:-}" ] || cargo build --release --locked --quiet --bin vigil
DRIVER="$PWD/benches/soak_driver.py"

work="$(mktemp -d)"
VPID=""
PGDB=""
cleanup() {
    [ -n "$VPID" ] && kill "$VPID" 2>/dev/null || true
    [ -n "$PGDB" ] && psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# A copy, so that another build into the same target directory cannot
# replace the binary during the run.
cp "${VIGIL:-${CARGO_TARGET_DIR:-$PWD/target}/release/vigil}" "$work/vigil"
VIGIL="$work/vigil"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; return 1; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$VPID/status"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
# wrk's latency (123.45us, 1.23ms, 1.02s) in milliseconds.
ms() { awk -v v="$1" 'BEGIN {if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f", v}'; }

# Public reads in turn; every other round asks for gzip/brotli.
cat >"$work/reads.lua" <<EOF
local paths = {
  "/api/v1/events/$EVENT",
  "/api/v1/events/$EVENT/figures.csv",
  "/events/$EVENT",
  "/api/v1/events",
  "/api/v1/events/$EVENT/versions",
}
local i, round = 0, 0
request = function()
  i = i + 1
  if i > #paths then i = 1; round = round + 1 end
  if round % 2 == 1 then
    return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip, br"})
  end
  return wrk.format("GET", paths[i])
end
EOF

# Checks that failed, over every backend.
failures=()
summary=()

soak_one() {
    local backend="$1" dir="$work/$1" url port base
    mkdir -p "$dir"
    case "$backend" in
        sqlite) url="sqlite://$dir/vigil.db" ;;
        postgres)
            PGDB="vigil_soak_$$"
            psql "$PG_URL/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $PGDB" >/dev/null
            url="$PG_URL/$PGDB" ;;
        *) echo "unknown backend '$backend' (sqlite or postgres)" >&2; exit 2 ;;
    esac
    local fails=()

    # Tokens first: the command migrates the new database.
    : >"$dir/tokens"; chmod 600 "$dir/tokens"
    for n in $(seq 1 "$WRITERS"); do
        echo "writer $("$VIGIL" --database-url "$url" token create "soak-writer-$n" --role curator 2>/dev/null)" >>"$dir/tokens"
    done
    echo "reviewer $("$VIGIL" --database-url "$url" token create soak-reviewer --role reviewer 2>/dev/null)" >>"$dir/tokens"

    port="$(free_port)"
    base="http://127.0.0.1:$port"
    (cd "$dir" && exec env ${ARENAS:+MALLOC_ARENA_MAX="$ARENAS"} "$VIGIL" --database-url "$url" serve --demo --bind "127.0.0.1:$port" \
        ${WORKERS:+--workers "$WORKERS"} --audit-key "$dir/audit.key" >"$dir/vigil.log" 2>&1) &
    VPID=$!
    wait_port "$port"
    curl -sf "$base/api/v1/events/$EVENT" -o /dev/null

    # Warm-up: both loads, briefly; "start" memory is measured after it.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout "$TIMEOUT" -s "$work/reads.lua" "$base" >"$dir/wrk-warm.txt" &
    local wpid=$!
    python3 "$DRIVER" run --base "$base" --event "$EVENT" --tokens "$dir/tokens" \
        --duration "$WARM_S" --hot "$HOT" --seed "$backend-warm" --out "$dir/warm.json" >"$dir/driver-warm.txt"
    wait "$wpid"
    local rss_start rss_mid="" rss_end
    rss_start="$(rss_kb)"

    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$TIMEOUT" --latency -s "$work/reads.lua" "$base" >"$dir/wrk.txt" &
    wpid=$!
    python3 "$DRIVER" run --base "$base" --event "$EVENT" --tokens "$dir/tokens" \
        --duration "$DUR_S" --hot "$HOT" --seed "$backend" --out "$dir/main.json" >"$dir/driver.txt" &
    local dpid=$!
    # Resident memory every tenth of the run; "mid" is the sample at half.
    local step=$(( DUR_S >= 10 ? DUR_S / 10 : 1 )) rss_series="" t=0
    while [ "$t" -lt "$DUR_S" ]; do
        sleep "$step"; t=$((t + step))
        rss_series+="$(mb "$(rss_kb)") "
        if [ -z "$rss_mid" ] && [ "$t" -ge "$((DUR_S / 2))" ]; then rss_mid="$(rss_kb)"; fi
    done
    wait "$wpid"
    wait "$dpid"
    rss_end="$(rss_kb)"
    local hwm threads
    hwm="$(awk '/^VmHWM/ {print $2}' "/proc/$VPID/status")"
    threads="$(awk '/^Threads/ {print $2}' "/proc/$VPID/status")"

    # Reads: wrk's own counts; any non-2xx or socket error is a failure.
    local f r_req r_rps r_p99 r_non2xx r_sock
    for f in "$dir/wrk-warm.txt" "$dir/wrk.txt"; do
        if grep -q "Non-2xx\|Socket errors" "$f"; then
            fails+=("wrk reported errors ($(basename "$f")): $(grep "Non-2xx\|Socket errors" "$f" | tr '\n' ' ')")
        fi
    done
    r_req="$(awk '/requests in/ {print $1}' "$dir/wrk.txt")"
    r_rps="$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.txt")"
    r_p99="$(ms "$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")")"
    r_non2xx="$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.txt")"; r_non2xx="${r_non2xx:-0}"
    r_sock="$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' "$dir/wrk.txt")"; r_sock="${r_sock:-0}"

    # Writes: the driver's result file.
    local w
    w="$(python3 - "$dir/warm.json" "$dir/main.json" <<'EOF'
import json, sys
warm, main = (json.load(open(p)) for p in sys.argv[1:])
rps = main["requests"] / main["seconds"]
print(f'W_REQ={main["requests"]} W_RPS={rps:.1f} W_P99={main["p99_ms"]:.1f} '
      f'W_SECONDS={main["seconds"]:.1f} '
      f'APPROVED={len(main["approvals"])} CONFLICTS={len(main["conflicts"])} '
      f'STALE={main["counters"].get("stale_409", 0)} '
      f'UNEXPECTED={main["unexpected"] + warm["unexpected"]} '
      f'W_SOCK={main["socket_errors"] + warm["socket_errors"]} '
      f'WARM_APPROVED={len(warm["approvals"])}')
EOF
)"
    local W_REQ W_RPS W_P99 W_SECONDS APPROVED CONFLICTS STALE UNEXPECTED W_SOCK WARM_APPROVED
    eval "$w"
    [ "$UNEXPECTED" = 0 ] || fails+=("the driver had $UNEXPECTED unexpected answers (below)")
    [ "$W_SOCK" = 0 ] || fails+=("the driver had $W_SOCK socket errors (below)")
    [ "$APPROVED" -gt 0 ] || fails+=("no changeset was approved")

    # No lost update, read through the public API while the server runs.
    local check_out check_t0=$SECONDS
    if ! check_out="$(python3 "$DRIVER" check --base "$base" --event "$EVENT" --tokens "$dir/tokens" \
            "$dir/warm.json" "$dir/main.json" 2>&1)"; then
        fails+=("lost-update check failed (below)")
    fi
    local check_s=$((SECONDS - check_t0))

    # The audit log, with the server stopped.
    kill "$VPID"; wait "$VPID" 2>/dev/null || true; VPID=""
    local audit_out audit_rc=0
    audit_out="$("$VIGIL" --database-url "$url" audit verify --audit-key "$dir/audit.key" 2>&1)" || audit_rc=$?
    [ "$audit_rc" = 0 ] || fails+=("vigil audit verify exited $audit_rc")
    if grep -q "panicked\|ERROR\|WARN" "$dir/vigil.log"; then
        fails+=("the server logged errors or warnings: $(grep -m3 "panicked\|ERROR\|WARN" "$dir/vigil.log" | tr '\n' ' ')")
    fi

    local growth
    growth="$(awk -v s="$rss_start" -v e="$rss_end" 'BEGIN {printf "%+.1f", (e-s)*100/s}')"
    if awk -v g="$growth" -v m="$RSS_GROWTH_MAX" 'BEGIN {exit !(g > m)}'; then
        fails+=("resident memory grew by ${growth}% (more than ${RSS_GROWTH_MAX}%) after the warm-up")
    fi

    local total_req total_rps
    total_req=$((r_req + W_REQ))
    total_rps="$(awk -v a="$r_rps" -v b="$W_RPS" 'BEGIN {printf "%.0f", a+b}')"

    echo
    echo "== $backend: $DURATION after a $WARMUP warm-up; wrk $CONNECTIONS connections, $THREADS thread(s), timeout $TIMEOUT; $WRITERS writers + 1 reviewer; server workers ${WORKERS:-default}, MALLOC_ARENA_MAX ${ARENAS:-unset}"
    echo "reads  (wrk):    $r_req requests, $r_rps req/s, p99 $r_p99 ms; non-2xx $r_non2xx, socket errors $r_sock"
    echo "writes (driver): $W_REQ requests in $W_SECONDS s, $W_RPS req/s, p99 $W_P99 ms; approved $APPROVED, conflicts $CONFLICTS (409 on approve), stale edits $STALE (409 on PUT); unexpected $UNEXPECTED, socket errors $W_SOCK (warm-up included)"
    python3 - "$dir/main.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print("  per request: " + "; ".join(
    f'{op} {o["n"]} p50 {o["p50_ms"]:.1f} p99 {o["p99_ms"]:.1f} max {o["max_ms"]:.0f} ms'
    for op, o in m["ops"].items()))
print("  statuses: " + ", ".join(f"{k}: {v}" for k, v in m["status"].items()))
EOF
    echo "total:           $total_req requests, $total_rps req/s"
    echo "memory (VmRSS):  $(mb "$rss_start") MB after warm-up, $(mb "$rss_mid") MB mid-run, $(mb "$rss_end") MB at end ($growth%, limit +$RSS_GROWTH_MAX%); peak $(mb "$hwm") MB; $threads threads at end"
    echo "                 every ${step} s: $rss_series"
    echo "lost updates:    (read back in ${check_s} s) $check_out" | sed '2,$s/^/                 /'
    echo "audit verify:    exit $audit_rc: $audit_out"
    if [ "$UNEXPECTED" != 0 ] || [ "$W_SOCK" != 0 ]; then
        echo "driver errors (first 10):"
        python3 - "$dir/warm.json" "$dir/main.json" <<'EOF'
import json, sys
errs = [e for p in sys.argv[1:] for e in json.load(open(p))["errors"]]
for e in errs[:10]:
    print("  " + json.dumps(e)[:600])
EOF
    fi
    if [ "${#fails[@]}" = 0 ]; then
        echo "result:          PASS"
    else
        echo "result:          FAIL"
        for f in "${fails[@]}"; do echo "  - $f"; failures+=("$backend: $f"); done
        cp "$dir/vigil.log" "${TMPDIR:-/tmp}/vigil-soak-$backend.log" 2>/dev/null &&
            echo "  (server log kept in ${TMPDIR:-/tmp}/vigil-soak-$backend.log)"
    fi
    summary+=("$(printf '%-9s %10s %9s %9s %9s %9s %9s %8s %8s %8s  %s' "$backend" "$total_req" "$total_rps" "$r_rps" "$r_p99" "$W_RPS" "$W_P99" "$APPROVED" "$CONFLICTS" "$growth%" "$([ "${#fails[@]}" = 0 ] && echo PASS || echo FAIL)")")

    if [ "$backend" = postgres ]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null
        PGDB=""
    fi
}

IFS=, read -ra backends <<<"$BACKENDS"
for b in "${backends[@]}"; do soak_one "$b"; done

echo
printf '%-9s %10s %9s %9s %9s %9s %9s %8s %8s %8s  %s\n' backend requests "req/s" "read/s" "read p99" "write/s" "write p99" approved conflicts "RSS" result
for s in "${summary[@]}"; do echo "$s"; done
if [ "${#failures[@]}" != 0 ]; then
    echo "FAILED:"
    for f in "${failures[@]}"; do echo "  - $f"; done
    exit 1
fi
echo "all checks hold"
