#!/usr/bin/env bash
# Hostile request bodies: what anonymous clients can make `vigil serve`
# allocate. Sends ROUNDS rounds of 16 concurrent worst-case anonymous
# requests and prints the server's peak resident memory (VmHWM).
#
#   bash benches/hostile_bodies.sh                 # release build
#   PROFILE=debug bash benches/hostile_bodies.sh   # the debug build, no rebuild
#   VIGIL=/path/to/vigil bash benches/hostile_bodies.sh   # another binary
#
# Each round: 4 gzip bombs (1 MiB of gzip inflating to 1 GiB, Content-Encoding:
# gzip) to POST /api/v1/session, 4 anonymous 60 MiB panel uploads to
# /admin/changesets/1/import, 4 JSON bodies of 4 MiB of `[0,0,…]` to
# /api/v1/session, and 4 log-in forms of 256 KiB to /admin/login.
#
# Target (issue 16): peak RSS < 256 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
PROFILE="${PROFILE:-release}"
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }

if [ -z "${VIGIL:-}" ]; then
    if [ "$PROFILE" = release ]; then
        cargo build --release --quiet --bin vigil
    else
        cargo build --quiet --bin vigil
    fi
    VIGIL="$PWD/target/$PROFILE/vigil"
fi

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }

python3 - "$work" <<'EOF'
import gzip, io, sys, os
work = sys.argv[1]
# 1 GiB of zeros, gzip-compressed (about 1 MiB).
buf = io.BytesIO()
with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as g:
    chunk = b"\0" * (1 << 20)
    for _ in range(1024):
        g.write(chunk)
open(os.path.join(work, "bomb.gz"), "wb").write(buf.getvalue())
# A 60 MiB multipart upload.
b = b"--vigilbench"
with open(os.path.join(work, "upload.bin"), "wb") as f:
    f.write(b"--" + b + b"\r\nContent-Disposition: form-data; name=\"files\"; filename=\"figures.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n")
    line = b"key,label,unit,parent,breakdown,position,low,best,high,status,notes\n" * 16
    for _ in range((60 << 20) // len(line)):
        f.write(line)
    f.write(b"\r\n--" + b + b"--\r\n")
# 4 MiB of JSON array, just under the limit.
open(os.path.join(work, "array.json"), "wb").write(b"[" + b"0," * ((4 << 20) // 2 - 2) + b"0]")
# A log-in form of 256 KiB.
open(os.path.join(work, "form.txt"), "wb").write(b"password=x&username=" + b"a" * (256 * 1024 - 40))
EOF

port="$(free_port)"
(cd "$work" && exec "$VIGIL" serve --demo --workers 2 --bind "127.0.0.1:$port" >"$work/vigil.log" 2>&1) &
pid=$!
wait_port "$port"
base="http://127.0.0.1:$port"
rss() { awk '/^VmRSS/{print $2}' "/proc/$pid/status"; }
hwm() { awk '/^VmHWM/{print $2}' "/proc/$pid/status"; }
echo "hostile_bodies: $VIGIL, idle RSS $(( $(rss) / 1024 )) MB"

send() {
    local code
    code="$(case "$1" in
        bomb) curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/session" \
                -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
                --data-binary @"$work/bomb.gz" ;;
        upload) curl -s -o /dev/null -w '%{http_code}' -X POST "$base/admin/changesets/1/import" \
                -H 'Content-Type: multipart/form-data; boundary=--vigilbench' \
                --data-binary @"$work/upload.bin" ;;
        array) curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/session" \
                -H 'Content-Type: application/json' --data-binary @"$work/array.json" ;;
        form) curl -s -o /dev/null -w '%{http_code}' -X POST "$base/admin/login" \
                -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$work/form.txt" ;;
    esac)"
    echo "$1 $code"
}
export -f send
export base work

for r in $(seq 1 "$ROUNDS"); do
    statuses="$(printf '%s\n' bomb upload array form bomb upload array form \
        bomb upload array form bomb upload array form \
        | xargs -P 16 -I{} bash -c 'send {}' | sort | uniq -c | awk '{printf " %s×%s %s", $1, $2, $3}')"
    echo "hostile_bodies: round $r: answers:$statuses; RSS $(( $(rss) / 1024 )) MB, peak $(( $(hwm) / 1024 )) MB"
done
peak=$(( $(hwm) / 1024 ))
echo "hostile_bodies: peak RSS ${peak} MB over $ROUNDS rounds of 16 concurrent requests (target < 256 MB)"
[ "$peak" -lt 256 ]
