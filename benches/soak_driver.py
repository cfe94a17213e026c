#!/usr/bin/env python3
"""Admin-side load for benches/soak.sh, standard library only.

  soak_driver.py run   --base URL --event SLUG --tokens FILE --duration S --out FILE
  soak_driver.py check --base URL --event SLUG --tokens FILE RESULTS...

`run`: curator writers, each in a loop: open a changeset, GET one figure
(with its ETag), PUT it back with If-Match and a unique marker in `notes`,
sometimes PUT again with the old ETag (a stale edit: 409 expected), submit,
and wait until the reviewer has dealt with it. Submit refuses (409 naming the
figure) a changeset whose figure a version approved since it was opened
changed: that is a conflict too, and the writer withdraws the changeset. One reviewer polls the review
queue through the API and approves; a 409 naming the changeset's figure is a
conflict (another approval changed it first) and the changeset is rejected
with that answer as the comment. Writers pick a figure from a small hot set
with probability --hot, else any figure, so two changesets sometimes edit
the same figure. Every response is checked against what the operation may
answer; anything else is recorded as unexpected. Writes a JSON result file.

`check`: after one or more runs, reads the published state through the public
API and checks that no approval was lost: the versions are consecutive from
the first run's starting version, one per approval; each approval's version
carries its changeset, its hash and its marker; each figure's latest approved
marker is what the latest document and figures.csv show; the latest
document's hash recomputes; none of the runs' changesets is left open.

The tokens file holds lines `writer SECRET` (one per writer) and
`reviewer SECRET`, so no secret appears on a command line.
"""

import argparse
import csv
import hashlib
import http.client
import io
import json
import random
import sys
import threading
import time
import urllib.parse


class Client:
    """One keep-alive connection; every request is timed and classified."""

    def __init__(self, base, token, stats, role):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.stats = stats
        self.role = role
        self.conn = None
        self.used = 0.0

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, op, method, path, body=None, headers=None, expect=(200,)):
        """Returns (status, headers, parsed body) or None on a socket error.
        A status outside `expect` is recorded as unexpected."""
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        # actix closes keep-alive connections idle for 5 s: a writer waiting
        # for its review may idle longer, so start afresh rather than send
        # into a connection the server may be closing.
        if self.conn is not None and time.monotonic() - self.used > 2:
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self._connect()
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=h)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            self.stats.socket_error(op, method, path, repr(e))
            return None
        dt = time.perf_counter() - t0
        self.used = time.monotonic()
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        self.stats.record(op, r.status, dt)
        if r.status not in expect:
            self.stats.unexpected(op, method, path, r.status, parsed)
        return r.status, r, parsed


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}  # op -> [seconds]
        self.status = {}  # "op status" -> count
        self.counters = {}
        self.errors = []  # unexpected answers and socket errors, described
        self.socket_errors = 0
        self.unexpected_count = 0

    def record(self, op, status, dt):
        with self.lock:
            self.lat.setdefault(op, []).append(dt)
            k = f"{op} {status}"
            self.status[k] = self.status.get(k, 0) + 1

    def count(self, name, n=1):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def unexpected(self, op, method, path, status, body):
        with self.lock:
            self.unexpected_count += 1
            if len(self.errors) < 50:
                self.errors.append(
                    {"op": op, "request": f"{method} {path}", "status": status,
                     "body": body if isinstance(body, (dict, list)) else str(body)[:500]})

    def wrong(self, what, **detail):
        """An answer with an expected status but the wrong content."""
        with self.lock:
            self.unexpected_count += 1
            if len(self.errors) < 50:
                self.errors.append({"wrong": what, **detail})

    def socket_error(self, op, method, path, err):
        with self.lock:
            self.socket_errors += 1
            if len(self.errors) < 50:
                self.errors.append({"op": op, "request": f"{method} {path}", "socket_error": err})


def read_tokens(path):
    writers, reviewer = [], None
    with open(path) as f:
        for line in f:
            role, _, secret = line.strip().partition(" ")
            if role == "writer":
                writers.append(secret)
            elif role == "reviewer":
                reviewer = secret
    if not writers or not reviewer:
        sys.exit(f"{path}: needs 'writer SECRET' lines and a 'reviewer SECRET' line")
    return writers, reviewer


def get_json(base, path):
    c = Client(base, None, Stats(), "check")
    got = c.request("check", "GET", path)
    if got is None or got[0] != 200:
        sys.exit(f"GET {path}: {got and got[0]} {got and got[2]}")
    return got[2]


class Run:
    """The state the writers and the reviewer share."""

    def __init__(self, args, writer_tokens, reviewer_token):
        self.args = args
        self.base = args.base
        self.event = args.event
        self.writer_tokens = writer_tokens
        self.reviewer_token = reviewer_token
        self.stats = Stats()
        self.lock = threading.Lock()
        self.pending = {}  # changeset id -> {figure, marker, writer, done: Event}
        self.approvals = []
        self.conflicts = []
        self.stop_writers = threading.Event()
        self.writers_done = threading.Event()
        self.tag = args.tag or f"{int(time.time())}-{random.randrange(1 << 30):x}"

    def writer(self, n, token):
        rnd = random.Random(f"{self.args.seed}-{self.tag}-{n}")
        c = Client(self.base, token, self.stats, "writer")
        ev = urllib.parse.quote(self.event)
        i = 0
        while not self.stop_writers.is_set():
            i += 1
            figure = (rnd.choice(self.hot) if rnd.random() < self.args.hot
                      else rnd.choice(self.figures))
            marker = f"soak {self.tag} w{n} #{i}"
            got = c.request("open", "POST", "/api/v1/changesets",
                            {"event": self.event, "reason": f"soak: {marker} on {figure}"},
                            expect=(201,))
            if not got or got[0] != 201:
                time.sleep(0.2)
                continue
            cid = got[2]["id"]
            item_path = f"/api/v1/changesets/{cid}/figures/{urllib.parse.quote(figure)}"
            got = c.request("get_item", "GET", item_path)
            if not got or got[0] != 200:
                continue
            etag = got[1].getheader("ETag")
            item = got[2]["item"]
            if not etag or not item or got[2]["etag"] != etag.strip('"'):
                self.stats.wrong("GET item: no item or no ETag", path=item_path, body=got[2])
                continue
            item = dict(item, notes=marker)
            got = c.request("put", "PUT", item_path, item, {"If-Match": etag})
            if not got or got[0] != 200:
                continue
            new_etag = got[1].getheader("ETag")
            if (got[2].get("item") or {}).get("notes") != marker:
                self.stats.wrong("PUT answered another item", path=item_path, body=got[2])
            if rnd.random() < self.args.stale:
                # The same edit again, made against what was seen before the
                # first PUT: it must be refused with the item as it is now.
                got = c.request("put_stale", "PUT", item_path,
                                dict(item, notes=marker + " (stale)"), {"If-Match": etag},
                                expect=(409,))
                if got and got[0] == 409:
                    body = got[2] if isinstance(got[2], dict) else {}
                    cur = body.get("current") or {}
                    if cur.get("notes") != marker or f'"{body.get("etag")}"' != new_etag:
                        self.stats.wrong("stale PUT: 409 without the current item",
                                         path=item_path, body=body)
                    self.stats.count("stale_409")
            done = threading.Event()
            with self.lock:
                self.pending[cid] = {"figure": figure, "marker": marker, "writer": n,
                                     "done": done}
            got = c.request("submit", "POST", f"/api/v1/changesets/{cid}/submit", {},
                            expect=(200, 409))
            if got and got[0] == 409:
                # A conflict known already: a version approved since this
                # changeset was opened changed the same figure. Submit says
                # so, and the writer withdraws the changeset.
                with self.lock:
                    self.pending.pop(cid, None)
                detail = got[2].get("detail", "") if isinstance(got[2], dict) else str(got[2])
                if f"figures/{figure}" not in detail:
                    self.stats.wrong("submit: 409 not naming the edited figure",
                                     id=cid, figure=figure, body=got[2])
                with self.lock:
                    self.conflicts.append({"id": cid, "figure": figure, "detail": detail,
                                           "at": "submit"})
                c.request("withdraw", "POST", f"/api/v1/changesets/{cid}/withdraw",
                          {"comment": "conflict: " + detail[:1500]})
                continue
            if not got or got[0] != 200:
                with self.lock:
                    self.pending.pop(cid, None)
                continue
            if got[2]["changeset"]["state"] != "submitted":
                self.stats.wrong("submit: not submitted", id=cid, body=got[2])
            # One changeset in review per writer at a time, so the queue
            # stays bounded whatever the reviewer's pace.
            if not done.wait(timeout=120):
                self.stats.wrong("changeset not reviewed within 120 s", id=cid)

    def reviewer(self):
        c = Client(self.base, self.reviewer_token, self.stats, "reviewer")
        q = urllib.parse.urlencode({"event": self.event, "state": "submitted"})
        drain_deadline = None
        while True:
            if self.writers_done.is_set():
                drain_deadline = drain_deadline or time.monotonic() + 120
                with self.lock:
                    if not self.pending:
                        return
                if time.monotonic() > drain_deadline:
                    self.stats.wrong("changesets left unreviewed", ids=sorted(self.pending))
                    return
            got = c.request("list", "GET", f"/api/v1/changesets?{q}")
            if not got or got[0] != 200:
                time.sleep(0.2)
                continue
            queue = [cs["id"] for cs in got[2]]
            revision = {cs["id"]: cs["revision"] for cs in got[2]}
            with self.lock:
                mine = [cid for cid in reversed(queue) if cid in self.pending]
            if not mine:
                time.sleep(0.01)
                continue
            for cid in mine:
                with self.lock:
                    p = self.pending[cid]
                seen = {"If-Match": str(revision[cid])}
                got = c.request("approve", "POST", f"/api/v1/changesets/{cid}/approve", {},
                                headers=seen, expect=(200, 409))
                if not got:
                    continue
                status, _, body = got
                if status == 200:
                    pub = body.get("published") or {}
                    if body["changeset"]["state"] != "approved" or "version" not in pub:
                        self.stats.wrong("approve: 200 without a published version", id=cid,
                                         body=body)
                    self.approvals.append({"id": cid, "figure": p["figure"],
                                           "marker": p["marker"], "version": pub.get("version"),
                                           "sha256": pub.get("sha256")})
                elif status == 409:
                    detail = body.get("detail", "") if isinstance(body, dict) else str(body)
                    if f"figures/{p['figure']}" not in detail:
                        # A 409 that is not the expected conflict.
                        self.stats.wrong("approve: 409 not naming the edited figure",
                                         id=cid, figure=p["figure"], body=body)
                    self.conflicts.append({"id": cid, "figure": p["figure"], "detail": detail})
                    got = c.request("reject", "POST", f"/api/v1/changesets/{cid}/reject",
                                    {"comment": "conflict: " + detail[:1500]}, headers=seen)
                    if not got or got[0] != 200:
                        continue
                with self.lock:
                    self.pending.pop(cid)["done"].set()

    def go(self):
        doc = get_json(self.base, f"/api/v1/events/{urllib.parse.quote(self.event)}")
        self.start_version = doc["version"]
        self.figures = [f["key"] for f in doc["figures"]]
        hot = [k for k in self.args.hot_figures.split(",") if k in self.figures]
        self.hot = hot or self.figures[:2]
        threads = [threading.Thread(target=self.writer, args=(n + 1, t), daemon=True)
                   for n, t in enumerate(self.writer_tokens)]
        rev = threading.Thread(target=self.reviewer, daemon=True)
        t0 = time.monotonic()
        for t in threads + [rev]:
            t.start()
        time.sleep(self.args.duration)
        self.stop_writers.set()
        for t in threads:
            t.join(timeout=180)
        self.writers_done.set()
        # Writers waiting on a review are released by the reviewer; set them
        # all, in case the reviewer gave up.
        rev.join(timeout=180)
        with self.lock:
            for p in self.pending.values():
                p["done"].set()
        elapsed = time.monotonic() - t0
        return self.result(elapsed)

    def result(self, elapsed):
        s = self.stats
        lat_all = sorted(x for v in s.lat.values() for x in v)
        ops = {}
        for op, v in sorted(s.lat.items()):
            v = sorted(v)
            ops[op] = {"n": len(v), "p50_ms": pct(v, 50) * 1000, "p99_ms": pct(v, 99) * 1000,
                       "max_ms": v[-1] * 1000}
        return {
            "tag": self.tag,
            "event": self.event,
            "start_version": self.start_version,
            "seconds": elapsed,
            "writers": len(self.writer_tokens),
            "requests": len(lat_all),
            "p99_ms": pct(lat_all, 99) * 1000,
            "ops": ops,
            "status": dict(sorted(s.status.items())),
            "counters": s.counters,
            "approvals": sorted(self.approvals, key=lambda a: a["version"] or 0),
            "conflicts": self.conflicts,
            "socket_errors": s.socket_errors,
            "unexpected": s.unexpected_count,
            "errors": s.errors,
            "hot": self.hot,
        }


def pct(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def canonical_sha256(doc):
    d = dict(doc)
    d.pop("sha256", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def check(args):
    """Returns a list of failures (empty when everything holds)."""
    runs = []
    for path in args.results:
        with open(path) as f:
            runs.append(json.load(f))
    ev = urllib.parse.quote(args.event)
    fails = []
    approvals = [a for r in runs for a in r["approvals"]]
    start = runs[0]["start_version"]

    versions = get_json(args.base, f"/api/v1/events/{ev}/versions")["versions"]
    numbers = [v["number"] for v in versions]
    if numbers != list(range(1, len(numbers) + 1)):
        fails.append(f"versions are not consecutive from 1: {numbers[:5]}…{numbers[-5:]}")
    last = numbers[-1] if numbers else 0
    if last != start + len(approvals):
        fails.append(f"latest version is {last}, but {start} + {len(approvals)} approvals "
                     f"= {start + len(approvals)}")
    by_number = {v["number"]: v for v in versions}
    seen = set()
    for a in approvals:
        v = by_number.get(a["version"])
        if v is None:
            fails.append(f"changeset {a['id']}: approved as version {a['version']}, "
                         "which the history does not hold")
            continue
        if a["version"] in seen:
            fails.append(f"version {a['version']} was reported by two approvals")
        seen.add(a["version"])
        if v["changeset"] != a["id"] or v["sha256"] != a["sha256"]:
            fails.append(f"version {a['version']}: history says changeset {v['changeset']} "
                         f"sha256 {v['sha256']}, the approval said changeset {a['id']} "
                         f"sha256 {a['sha256']}")
    for n in range(start + 1, last + 1):
        if n not in seen:
            fails.append(f"version {n} was published by no approval of the runs")

    # Each approved version's own document holds its marker (sampled when
    # --sample-versions is given: every older version is built on demand).
    sample = approvals
    if args.sample_versions and len(approvals) > args.sample_versions:
        sample = random.Random(0).sample(approvals, args.sample_versions)
    for a in sample:
        d = get_json(args.base, f"/api/v1/events/{ev}?version={a['version']}")
        notes = {f["key"]: f.get("notes") for f in d["figures"]}
        if notes.get(a["figure"]) != a["marker"]:
            fails.append(f"version {a['version']} (changeset {a['id']}): {a['figure']} notes "
                         f"{notes.get(a['figure'])!r}, expected {a['marker']!r}")
        if d.get("sha256") != a["sha256"] or canonical_sha256(d) != a["sha256"]:
            fails.append(f"version {a['version']}: document hash does not match")

    latest = {}
    for a in sorted(approvals, key=lambda a: a["version"]):
        latest[a["figure"]] = a
    doc = get_json(args.base, f"/api/v1/events/{ev}")
    if doc["version"] != last:
        fails.append(f"the latest document is version {doc['version']}, the history's {last}")
    if canonical_sha256(doc) != doc["sha256"]:
        fails.append("the latest document's sha256 does not recompute")
    notes = {f["key"]: f.get("notes") for f in doc["figures"]}
    c = Client(args.base, None, Stats(), "check")
    got = c.request("check", "GET", f"/api/v1/events/{ev}/figures.csv")
    if got is None or got[0] != 200:
        fails.append("figures.csv did not answer 200")
        csv_notes = {}
    else:
        csv_notes = {row["key"]: row["notes"] for row in csv.DictReader(io.StringIO(got[2]))}
    lost = 0
    for fig, a in sorted(latest.items()):
        if notes.get(fig) != a["marker"] or csv_notes.get(fig) != a["marker"]:
            lost += 1
            fails.append(f"lost update: {fig} was last approved in version {a['version']} "
                         f"(changeset {a['id']}) as {a['marker']!r}; the document says "
                         f"{notes.get(fig)!r}, figures.csv {csv_notes.get(fig)!r}")

    # None of the runs' changesets is left open.
    writers, reviewer = read_tokens(args.tokens)
    c = Client(args.base, reviewer, Stats(), "check")
    open_left = []
    for state in ("draft", "submitted"):
        q = urllib.parse.urlencode({"event": args.event, "state": state})
        got = c.request("check", "GET", f"/api/v1/changesets?{q}")
        if got is None or got[0] != 200:
            fails.append(f"could not list {state} changesets")
            continue
        tags = tuple(r["tag"] for r in runs)
        open_left += [cs["id"] for cs in got[2] if any(t in cs["reason"] for t in tags)]
    if open_left:
        fails.append(f"changesets of the runs left open: {open_left[:20]}")

    print(f"history: versions 1..{last}, {len(approvals)} approvals from version {start}; "
          f"{len(sample)} approved versions' documents read back; "
          f"{len(latest)} figures' latest markers checked against the document and "
          f"figures.csv; {lost} lost")
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--event", default="beslan-2004")
    r.add_argument("--tokens", required=True)
    r.add_argument("--duration", type=float, required=True, help="seconds")
    r.add_argument("--hot", type=float, default=0.3,
                   help="chance that a writer edits one of the hot figures")
    r.add_argument("--hot-figures", default="fatalities.staff,hostages.children")
    r.add_argument("--stale", type=float, default=0.1,
                   help="chance of a second PUT with the old ETag (409 expected)")
    r.add_argument("--seed", default="0")
    r.add_argument("--tag", default=None)
    r.add_argument("--out", required=True)
    k = sub.add_parser("check")
    k.add_argument("--base", required=True)
    k.add_argument("--event", default="beslan-2004")
    k.add_argument("--tokens", required=True)
    k.add_argument("--sample-versions", type=int, default=0,
                   help="read back only this many approved versions' documents (0: all)")
    k.add_argument("results", nargs="+")
    args = ap.parse_args()
    if args.cmd == "run":
        writers, reviewer = read_tokens(args.tokens)
        res = Run(args, writers, reviewer).go()
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
        print(f"{res['requests']} requests in {res['seconds']:.1f} s; "
              f"{len(res['approvals'])} approved, {len(res['conflicts'])} conflicts, "
              f"{res['counters'].get('stale_409', 0)} stale edits refused; "
              f"{res['unexpected']} unexpected, {res['socket_errors']} socket errors")
    else:
        fails = check(args)
        for f in fails[:50]:
            print("FAIL:", f)
        if len(fails) > 50:
            print(f"FAIL: … and {len(fails) - 50} more")
        sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
