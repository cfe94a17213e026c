#!/usr/bin/env bash
# Public read throughput: `vigil serve --demo` with one worker against bare
# actix-web handlers returning the same bytes, measured in the same run with
# wrk (Debian: apt-get install wrk), route by route: the latest document
# (94 KB), the same with a matching If-None-Match (304), the event list
# (`/api/v1/events`, about 200 B) and `/healthz`. Prints req/s, p99
# latency, their ratio per route and the server's resident memory.
#
#   ROUTES="doc 304 events healthz" (default: all four)
#
#   bash benches/public_read.sh            # 10 s per round, 32 connections
#   DURATION=30s ROUNDS=3 THREADS=2 bash benches/public_read.sh
#
# wrk runs on the same machine; with 2 cores, one wrk thread (the default)
# leaves the server a core of its own.
#
# Targets (DESIGN.md): ratio >= 0.8, p99 < 2 ms at 32 connections, RSS < 64 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
ROUTES="${ROUTES:-doc 304 events healthz}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

# One build of both (the feature only adds binaries).
cargo build --release --quiet --features bench-tools --bin vigil --bin vigil-bare
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
VIGIL="$TARGET/release/vigil"
BARE="$TARGET/release/vigil-bare"

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }

P1="$(free_port)"; P2="$(free_port)"
(cd "$work" && exec "$VIGIL" serve --demo --workers 1 --bind "127.0.0.1:$P1" >"$work/vigil.log" 2>&1) &
VPID=$!; pids+=("$VPID")
wait_port "$P1"
URL1="http://127.0.0.1:$P1/api/v1/events/beslan-2004"
curl -sf "$URL1" -o "$work/doc.json"
curl -sf "http://127.0.0.1:$P1/api/v1/events" -o "$work/events.json"
ETAG="$(curl -sfI "$URL1" | awk 'tolower($1) == "etag:" {sub(/\r$/, "", $2); print $2}')"
"$BARE" "$work/doc.json" "$work/events.json" "$ETAG" "127.0.0.1:$P2" >"$work/bare.log" 2>&1 &
pids+=("$!")
wait_port "$P2"
URL2="http://127.0.0.1:$P2/api/v1/events/beslan-2004"
cmp -s <(curl -sf "$URL1") <(curl -sf "$URL2") || { echo "the two servers answer different bytes" >&2; exit 1; }
cmp -s <(curl -sf "http://127.0.0.1:$P1/api/v1/events") <(curl -sf "http://127.0.0.1:$P2/api/v1/events") || { echo "the event lists differ" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL1")" = 304 ] || { echo "vigil does not answer 304" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL2")" = 304 ] || { echo "the bare server does not answer 304" >&2; exit 1; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$VPID/status"; }
RSS_START="$(rss_kb)"

# One wrk run of URL, with an optional header; prints "req/s p99_ms".
measure() {
    local out
    if [ -n "${2:-}" ]; then
        out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$2" "$1")"
    else
        out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1")"
    fi
    local rps p99
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")"
    # wrk counts 304 as non-2xx: the 304 route expects them.
    if grep -q "Socket errors" <<<"$out" || { [ -z "${2:-}" ] && grep -q "Non-2xx" <<<"$out"; }; then echo "errors during the run:" >&2; echo "$out" >&2; exit 1; fi
    echo "$rps $p99"
}

wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$URL1" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$URL2" >/dev/null
path_of() { case "$1" in doc|304) echo /api/v1/events/beslan-2004 ;; events) echo /api/v1/events ;; healthz) echo /healthz ;; esac; }
header_of() { [ "$1" = 304 ] && echo "If-None-Match: $ETAG" || true; }
printf '%-8s %-6s %-8s %12s %10s\n' route round server "req/s" "p99 ms"
summary=""
worst_p99=0
for route in $ROUTES; do
    sum_v=0; sum_b=0
    path="$(path_of "$route")"; hdr="$(header_of "$route")"
    for r in $(seq 1 "$ROUNDS"); do
        read -r b_rps b_p99 < <(measure "http://127.0.0.1:$P2$path" "$hdr")
        printf '%-8s %-6s %-8s %12s %10s\n' "$route" "$r" bare "$b_rps" "$b_p99"
        read -r v_rps v_p99 < <(measure "http://127.0.0.1:$P1$path" "$hdr")
        printf '%-8s %-6s %-8s %12s %10s\n' "$route" "$r" vigil "$v_rps" "$v_p99"
        sum_v="$(awk -v a="$sum_v" -v b="$v_rps" 'BEGIN {print a+b}')"
        sum_b="$(awk -v a="$sum_b" -v b="$b_rps" 'BEGIN {print a+b}')"
        [ "$route" = doc ] && worst_p99="$(awk -v a="$worst_p99" -v b="$v_p99" 'BEGIN {print (b>a)?b:a}')"
    done
    summary="$summary$(awk -v r="$route" -v v="$sum_v" -v b="$sum_b" -v n="$ROUNDS" 'BEGIN {printf "%-8s mean req/s: vigil %.0f, bare %.0f; ratio vigil/bare %.3f (target >= 0.8)", r, v/n, b/n, v/b}')
"
done
RSS_END="$(rss_kb)"
HWM="$(awk '/^VmHWM/ {print $2}' "/proc/$VPID/status")"
BYTES="$(wc -c <"$work/doc.json")"
echo
echo "document: $BYTES bytes; $CONNECTIONS connections, $ROUNDS rounds of $DURATION, one server worker each"
printf '%s' "$summary"
echo "vigil worst p99 on the document: ${worst_p99} ms (target < 2 ms)"
awk -v s="$RSS_START" -v e="$RSS_END" -v h="$HWM" 'BEGIN {printf "vigil resident memory: %.1f MB at start, %.1f MB at end, peak %.1f MB (target < 64 MB)\n", s/1024, e/1024, h/1024}'
