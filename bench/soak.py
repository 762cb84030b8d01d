#!/usr/bin/env python3
"""credproxy soak: mixed load for N minutes; RSS and descriptors must stay flat.

    python3 bench/soak.py --credproxy build/credproxy --minutes 20
    make soak SOAK_MINUTES=20 [CREDPROXY=path/to/credproxy]

Everything runs on 127.0.0.1 in a temp dir: `credproxy serve` (listen and
admin_listen on port 0, ports read from its log), a threaded fake origin (two
listeners: one with credentials bound to it, one without, for tunnels and
unbound-host errors) and a fake OAuth IdP issuing client_credentials tokens
that live SOAK_TOKEN_LIFETIME (12) seconds, so the proxy refreshes all the time.

Load, all at once, each loop bounded by the phase deadline:
  inject  wrk (-t1, a few connections, a per-request delay) sending absolute-form
          requests with {{cred:...}} for an api_key (header), a basic
          (Authorization) and a secret (header and query); the origin checks
          the values it gets
  oauth   Python keep-alive clients with Authorization: {{cred:soak.oauth}};
          the origin accepts only tokens the IdP issued (the IdP fails one
          token request in 25 with a 503, to exercise the backoff)
  error   fresh connections: unknown key (403), unbound host (403), egress
          denied (403), bad placeholder (400), closed upstream port (502),
          malformed heads (400), oversized head (431), a head cut off halfway
  tunnel  opaque CONNECT tunnels to the unbound origin listener: a request
          inside, or abandoned right after the 200; CONNECT to a closed port (502)
  reload  every 15 s: `cred update` of the api_key with a new secret (every
          other time through the admin API instead) and a SIGHUP

Phases: warm-up (30 s), quiescent sample Q0, first half, quiescent sample Q1,
second half, quiescent sample Q2. A quiescent sample is taken after all load
stopped and a 3 s pause, so client connections are closed; idle pooled
upstream connections may remain and are counted apart. A sample every 30 s
during load: serve's VmRSS, VmHWM, threads, descriptors (by kind: proxy
client sockets, admin, idle/busy upstream sockets, listeners, other) and the
requests by outcome since the last sample.

Exits non-zero if: serve dies; RSS grows by more than SOAK_RSS_BOUND_KIB
(2048) over the second half (Q2 - Q1, or the least-squares slope of the
second half's samples times its length); descriptors other than pooled
upstream sockets differ by more than SOAK_FD_SLACK (3) between Q0 and Q2; a
placeholder reaches an origin; a secret (every one contains CANARY) appears
in serve's log. Unexpected statuses are reported (and fail the run above
0.5% of a kind's requests).

Knobs (flags or environment): --minutes/SOAK_MINUTES, --credproxy/CREDPROXY,
--keep-tmp/SOAK_KEEP_TMP=1, --sample-s/SOAK_SAMPLE_S, --warmup-s/SOAK_WARMUP_S.
"""

import argparse
import base64
import collections
import ctypes
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

RSS_BOUND_KIB = int(os.environ.get("SOAK_RSS_BOUND_KIB", "2048"))
FD_SLACK = int(os.environ.get("SOAK_FD_SLACK", "3"))
# 12 s: a refresh every ~6 s (refresh margin is half the lifetime). Not 4 s: the proxy never
# injects a token with 5 s or less left, so a 4 s token is never usable (see the report).
TOKEN_LIFETIME = int(os.environ.get("SOAK_TOKEN_LIFETIME", "12"))
RELOAD_EVERY_S = 15
UNEXPECTED_FAIL_RATIO = 0.005
IO_TIMEOUT = 15.0

# What each kind of request may answer; anything else is "unexpected".
EXPECTED = {
    "inject": {"2xx"},
    "oauth": {"200"},
    "err.unknown_key": {"403"},
    "err.unbound_host": {"403"},
    "err.egress": {"403"},
    "err.bad_placeholder": {"400"},
    "err.upstream_down": {"502"},
    "err.malformed": {"400"},
    "err.oversized": {"431", "reset"},
    "err.cut_head": {"closed"},
    "tunnel": {"200"},
    "tunnel.abandoned": {"200"},
    "tunnel.down": {"502"},
    "reload.cli": {"ok"},
    "reload.admin": {"200"},
    "reload.sighup": {"ok"},
}


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- counters
class Counts:
    """(kind, outcome) -> count, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = collections.Counter()

    def add(self, kind, outcome, n=1):
        with self.lock:
            self.c[(kind, outcome)] += n

    def snapshot(self):
        with self.lock:
            return collections.Counter(self.c)


COUNTS = Counts()
STATS = Counts()  # origin/IdP side: ("origin", "ok"), ("idp", "issued"), ...


# ------------------------------------------------------------- children, cleanup
CHILDREN = []  # Popen objects, killed on exit
CHILDREN_LOCK = threading.Lock()
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG: SIGKILL if soak.py (the starting thread) dies, even by SIGKILL.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def spawn(args, **kw):
    p = subprocess.Popen(args, preexec_fn=_die_with_parent, **kw)
    with CHILDREN_LOCK:
        CHILDREN.append(p)
    return p


def reap(p, grace=5.0):
    if p.poll() is None:
        try:
            p.terminate()
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    with CHILDREN_LOCK:
        if p in CHILDREN:
            CHILDREN.remove(p)


def kill_all_children():
    with CHILDREN_LOCK:
        procs = list(CHILDREN)
    for p in procs:
        try:
            reap(p)
        except Exception as e:  # keep killing the others
            log(f"could not stop pid {p.pid}: {e}")


# ------------------------------------------------------------ fake origin + IdP
class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.api_secrets = collections.deque(maxlen=4)  # current and recent api_key secrets
        self.tokens = {}  # access token -> accepted until (monotonic)
        self.token_requests = 0
        self.client_secret = ""
        self.basic = ""
        self.secret = ""
        self.all_canaries = []  # every secret value, for the log check


STATE = State()
PLACEHOLDER_RE = re.compile(r"\{\{cred|%7B%7Bcred", re.I)


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 90  # a pooled upstream connection idles at most 60 s on the proxy's side

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"ok\n", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drain_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


class OriginHandler(Quiet):
    def do_GET(self):
        self.drain_body()
        raw = self.path + "\n" + "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        if PLACEHOLDER_RE.search(raw):
            STATS.add("origin", "PLACEHOLDER_LEAK")
            return self.reply(500, b"placeholder reached the origin\n")
        port = self.server.server_address[1]
        path, _, query = self.path.partition("?")
        why = None
        with STATE.lock:
            if port != self.server.bound_port:
                why = None if path == "/t" else "unbound listener got " + path
            elif path == "/k":
                if self.headers.get("X-Api-Key") not in STATE.api_secrets:
                    why = "api_key"
            elif path == "/b":
                if self.headers.get("Authorization") != STATE.basic:
                    why = "basic"
            elif path == "/s":
                sig = urllib.parse.parse_qs(query).get("sig", [None])[0]
                if self.headers.get("X-Secret") != STATE.secret or sig != STATE.secret:
                    why = "secret"
            elif path == "/o":
                auth = self.headers.get("Authorization") or ""
                tok = auth[7:] if auth.startswith("Bearer ") else None
                until = STATE.tokens.get(tok)
                if until is None:
                    why = "oauth_unknown_token"
                elif until < time.monotonic():
                    why = "oauth_expired_token"
            else:
                why = "unknown path " + path
        if why:
            STATS.add("origin", "rejected:" + why)
            return self.reply(401, b"rejected\n")
        STATS.add("origin", "ok")
        self.reply(200)


class IdPHandler(Quiet):
    def do_POST(self):
        body = self.drain_body().decode("latin-1")
        if self.path != "/token":
            return self.reply(404, b"{}", "application/json")
        form = urllib.parse.parse_qs(body)
        auth = self.headers.get("Authorization") or ""
        with STATE.lock:
            STATE.token_requests += 1
            n = STATE.token_requests
            cs = STATE.client_secret
        basic_ok = False
        if auth.startswith("Basic "):
            try:
                _, _, pw = base64.b64decode(auth[6:]).decode("latin-1").partition(":")
                basic_ok = urllib.parse.unquote_plus(pw) == cs
            except ValueError:
                pass
        if form.get("client_secret", [None])[0] != cs and not basic_ok:
            STATS.add("idp", "bad_client_auth")
            return self.reply(401, b'{"error":"invalid_client"}', "application/json")
        if form.get("grant_type", [None])[0] != "client_credentials":
            STATS.add("idp", "bad_grant")
            return self.reply(400, b'{"error":"unsupported_grant_type"}', "application/json")
        if n % 25 == 0:
            STATS.add("idp", "failed_503_on_purpose")
            return self.reply(503, b'{"error":"temporarily_unavailable"}', "application/json")
        tok = f"CANARY-at-{n}-{secrets.token_hex(8)}"
        now = time.monotonic()
        with STATE.lock:
            # Accept a token a little past its lifetime (requests in flight), then forget it.
            STATE.tokens = {t: u for t, u in STATE.tokens.items() if u > now}
            STATE.tokens[tok] = now + TOKEN_LIFETIME + 5
        STATS.add("idp", "issued")
        self.reply(200, json.dumps({"access_token": tok, "token_type": "Bearer",
                                    "expires_in": TOKEN_LIFETIME}).encode(), "application/json")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def start_server(handler, bound_port=None):
    s = Server(("127.0.0.1", 0), handler)
    s.bound_port = bound_port
    t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    return s


# ----------------------------------------------------------------- raw exchanges
def raw_exchange(port, data, expect_eof=True):
    """Send bytes on a fresh connection, read until EOF; -> status string or outcome."""
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return "reset"
        buf = b""
        try:
            while len(buf) < 1 << 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except ConnectionResetError:
            if not buf:
                return "reset"
        except socket.timeout:
            return "timeout"
        if not buf:
            return "closed"
        m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
        return m.group(1).decode() if m else "garbage"
    finally:
        s.close()


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


# ------------------------------------------------------------------- load loops
class Load:
    def __init__(self, ctx, deadline, stop):
        self.ctx, self.deadline, self.stop = ctx, deadline, stop

    def running(self):
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def guard(self, kind, fn):
        try:
            COUNTS.add(kind, fn())
        except socket.timeout:
            COUNTS.add(kind, "timeout")
        except OSError as e:
            COUNTS.add(kind, "exc:" + type(e).__name__)


WRK_LUA = r"""
local reqs, i = {}, 0
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "20")
function init(args)
  local base, host = os.getenv("SOAK_BASE"), os.getenv("SOAK_HOST")
  reqs[1] = wrk.format("GET", base .. "/k", {Host = host, ["X-Api-Key"] = "{{cred:soak.apikey}}"})
  reqs[2] = wrk.format("GET", base .. "/b", {Host = host, ["Authorization"] = "{{cred:soak.basic}}"})
  reqs[3] = wrk.format("GET", base .. "/s?sig={{cred:soak.secret}}",
                       {Host = host, ["X-Secret"] = "{{cred:soak.secret}}"})
end
function request() i = i % #reqs + 1; return reqs[i] end
function delay() return delay_ms end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SOAK_WRK requests=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def wrk_loop(ld):
    ctx = ld.ctx
    env = dict(os.environ, SOAK_BASE=f"http://127.0.0.1:{ctx.origin_port}",
               SOAK_HOST=f"127.0.0.1:{ctx.origin_port}", SOAK_DELAY_MS=str(ctx.wrk_delay_ms))
    while ld.running():
        secs = int(min(30, ld.deadline - time.monotonic()))
        if secs < 1:
            break
        p = spawn(["wrk", "-t1", f"-c{ctx.wrk_conns}", f"-d{secs}s", "--timeout", "10s",
                   "-s", ctx.wrk_lua, f"http://127.0.0.1:{ctx.proxy_port}"],
                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        end = time.monotonic() + secs + 30
        while p.poll() is None and time.monotonic() < end and not ld.stop.is_set():
            time.sleep(0.2)
        if p.poll() is None:
            p.terminate()  # stopped early: its counts are lost, say so
            COUNTS.add("inject", "wrk_killed")
        out = p.communicate(timeout=10)[0]
        reap(p)
        m = re.search(r"SOAK_WRK requests=(\d+) status=(\d+) connect=(\d+) read=(\d+) write=(\d+) timeout=(\d+)", out)
        if not m:
            if not ld.stop.is_set():
                COUNTS.add("inject", "wrk_no_result")
                log("wrk gave no result: " + out[-500:])
            continue
        req, st, cn, rd, wr, to = map(int, m.groups())
        COUNTS.add("inject", "2xx", req - st)
        for name, n in (("non2xx", st), ("connect_err", cn), ("read_err", rd), ("write_err", wr), ("timeout", to)):
            if n:
                COUNTS.add("inject", name, n)


def oauth_loop(ld):
    ctx = ld.ctx
    url = f"http://127.0.0.1:{ctx.origin_port}/o"
    conn = None
    while ld.running():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", ctx.proxy_port, timeout=IO_TIMEOUT)
            conn.request("GET", url, headers={"Authorization": "{{cred:soak.oauth}}"})
            r = conn.getresponse()
            r.read()
            outcome = str(r.status)
            if r.status != 200:
                outcome += ":" + (r.getheader("Credproxy-Error") or "-")
            COUNTS.add("oauth", outcome)
            if r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            COUNTS.add("oauth", "exc:" + type(e).__name__)
            if conn:
                conn.close()
            conn = None
        time.sleep(ctx.oauth_sleep_s)
    if conn:
        conn.close()


def error_loop(ld):
    ctx = ld.ctx
    o, o2, dead = ctx.origin_port, ctx.origin2_port, ctx.dead_port

    def get(target, extra=""):
        host = urllib.parse.urlsplit(target).netloc
        return (f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").encode()

    cases = [
        ("err.unknown_key", lambda: get(f"http://127.0.0.1:{o}/k", "X-Api-Key: {{cred:soak.nope}}\r\n")),
        ("err.unbound_host", lambda: get(f"http://127.0.0.1:{o2}/u", "X-Api-Key: {{cred:soak.apikey}}\r\n")),
        ("err.egress", lambda: get("http://10.255.255.1:9/x")),
        ("err.bad_placeholder", lambda: get(f"http://127.0.0.1:{o}/k", "X-Api-Key: {{cred:}}\r\n")),
        ("err.upstream_down", lambda: get(f"http://127.0.0.1:{dead}/x")),
        ("err.malformed", lambda: b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\nBad Field : x\r\n\r\n"),
        ("err.malformed", lambda: b"\x16\x03\x01\x00\xa5garbage\r\n\r\n"),
        ("err.malformed", lambda: get(f"http://127.0.0.1:{o}/k", "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n")),
        ("err.oversized", lambda: get(f"http://127.0.0.1:{o}/k", "X-Big: " + "a" * 70000 + "\r\n")),
        ("err.cut_head", lambda: f"GET http://127.0.0.1:{o}/k HTTP/1.1\r\nHost: 127.".encode()),
    ]
    i = 0
    while ld.running():
        kind, make = cases[i % len(cases)]
        i += 1
        if kind == "err.cut_head":
            def cut(data=make()):
                s = socket.create_connection(("127.0.0.1", ctx.proxy_port), timeout=IO_TIMEOUT)
                s.sendall(data)
                s.close()  # the proxy must drop the half-read connection
                return "closed"
            ld.guard(kind, cut)
        else:
            ld.guard(kind, lambda data=make(): raw_exchange(ctx.proxy_port, data))
        time.sleep(ctx.error_sleep_s)


def tunnel_loop(ld):
    ctx = ld.ctx
    o2 = ctx.origin2_port

    def tunnel(abandon):
        s = socket.create_connection(("127.0.0.1", ctx.proxy_port), timeout=IO_TIMEOUT)
        try:
            s.sendall(f"CONNECT 127.0.0.1:{o2} HTTP/1.1\r\nHost: 127.0.0.1:{o2}\r\n\r\n".encode())
            head = read_head(s)
            m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
            if not m or m.group(1) != b"200":
                return "connect:" + (m.group(1).decode() if m else "none")
            if abandon:
                return "200"
            s.sendall(f"GET /t HTTP/1.1\r\nHost: 127.0.0.1:{o2}\r\nConnection: close\r\n\r\n".encode())
            buf = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            m = re.search(rb"\r\n\r\n", buf)
            m2 = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
            return m2.group(1).decode() if m2 and m else "inner:garbage"
        finally:
            s.close()

    i = 0
    while ld.running():
        i += 1
        if i % 10 == 0:
            ld.guard("tunnel.down", lambda: raw_exchange(
                ctx.proxy_port, f"CONNECT 127.0.0.1:{ctx.dead_port} HTTP/1.1\r\nHost: 127.0.0.1:{ctx.dead_port}\r\n\r\n".encode()))
        elif i % 4 == 0:
            ld.guard("tunnel.abandoned", lambda: tunnel(True))
        else:
            ld.guard("tunnel", lambda: tunnel(False))
        time.sleep(ctx.tunnel_sleep_s)


def reload_loop(ld):
    ctx = ld.ctx
    n = 0
    next_at = time.monotonic() + RELOAD_EVERY_S
    while ld.running():
        if time.monotonic() < next_at:
            time.sleep(0.2)
            continue
        next_at += RELOAD_EVERY_S
        n += 1
        new = f"CANARY-api-{secrets.token_hex(8)}"
        with STATE.lock:
            STATE.api_secrets.append(new)  # accepted before the proxy can send it
            STATE.all_canaries.append(new)
        doc = json.dumps({"type": "api_key", "secret": new, "hosts": [f"127.0.0.1:{ctx.origin_port}"],
                          "allowPlaintext": True})
        if n % 2:
            kind = "reload.cli"
            try:
                r = subprocess.run([ctx.bin, "cred", "update", "--config", ctx.cfg, "--solution", "default",
                                    "--key", "soak.apikey", "--json", "-"], input=doc, text=True,
                                   capture_output=True, timeout=30, preexec_fn=_die_with_parent)
                COUNTS.add(kind, "ok" if r.returncode == 0 else f"rc{r.returncode}")
                if r.returncode:
                    log("cred update failed: " + r.stderr.strip())
            except subprocess.TimeoutExpired:
                COUNTS.add(kind, "timeout")
        else:
            kind = "reload.admin"

            def put():
                c = http.client.HTTPConnection("127.0.0.1", ctx.admin_port, timeout=IO_TIMEOUT)
                try:
                    c.request("PUT", "/v1/solutions/default/credentials/soak.apikey", body=doc,
                              headers={"Authorization": "Bearer " + ctx.admin_token,
                                       "Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    return str(r.status)
                finally:
                    c.close()
            ld.guard(kind, put)
        try:
            os.kill(ctx.serve.pid, signal.SIGHUP)
            COUNTS.add("reload.sighup", "ok")
        except OSError as e:
            COUNTS.add("reload.sighup", "exc:" + type(e).__name__)


LOOPS = [("wrk", wrk_loop, 1), ("oauth", oauth_loop, 2), ("errors", error_loop, 1),
         ("tunnels", tunnel_loop, 1), ("reload", reload_loop, 1)]


def run_load(ctx, seconds, sampler=None):
    """All loops for `seconds`; samples every ctx.sample_s meanwhile; joins everything."""
    stop = threading.Event()
    ld = Load(ctx, time.monotonic() + seconds, stop)
    threads = []
    for name, fn, n in LOOPS:
        for k in range(n):
            t = threading.Thread(target=fn, args=(ld,), name=f"{name}{k}", daemon=True)
            t.start()
            threads.append(t)
    try:
        next_sample = time.monotonic() + ctx.sample_s
        while time.monotonic() < ld.deadline:
            if ctx.serve.poll() is not None:
                raise RuntimeError(f"credproxy serve exited with {ctx.serve.returncode} during the load")
            if sampler and time.monotonic() >= next_sample:
                next_sample += ctx.sample_s
                sampler("load")
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=IO_TIMEOUT + 20)
            if t.is_alive():
                log(f"load thread {t.name} did not stop in time")


# --------------------------------------------------------------------- sampling
def tcp_table(pid):
    """inode -> (local port, remote port, state hex) for the process's net namespace."""
    out = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    p = line.split()
                    out[p[9]] = (int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16), p[3])
        except OSError:
            pass
    return out


def sample(ctx):
    pid = ctx.serve.pid
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                st[k] = int(v.split()[0])
    fds = os.listdir(f"/proc/{pid}/fd")
    tcp = tcp_table(pid)
    kinds = collections.Counter()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if not m:
            kinds["other"] += 1
            continue
        t = tcp.get(m.group(1))
        if t is None:
            kinds["sock_other"] += 1
            continue
        lport, rport, state = t
        if state == "0A":
            kinds["listen"] += 1
        elif lport == ctx.proxy_port:
            kinds["client"] += 1
        elif lport in (ctx.admin_port, ctx.health_port):
            kinds["admin"] += 1
        elif rport in (ctx.origin_port, ctx.origin2_port, ctx.idp_port):
            kinds["upstream"] += 1
        else:
            kinds["tcp_other"] += 1
        if state == "08":
            kinds["close_wait"] += 1
    return {"t": time.monotonic() - ctx.t0, "rss": st.get("VmRSS", 0), "hwm": st.get("VmHWM", 0),
            "threads": st.get("Threads", 0), "fds": len(fds), "kinds": kinds}


def metrics(ctx):
    try:
        c = http.client.HTTPConnection("127.0.0.1", ctx.health_port, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
    except (OSError, http.client.HTTPException) as e:
        return {"error": str(e)}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, val = line.rpartition(" ")
            out[name] = val
    return out


class Sampler:
    KINDS = ["inject", "oauth", "err", "tunnel", "reload"]

    def __init__(self, ctx):
        self.ctx, self.rows, self.prev = ctx, [], collections.Counter()
        hdr = (f"{'min':>6} {'phase':<6} {'RSS KiB':>8} {'HWM KiB':>8} {'fds':>4} {'cli':>3} {'up':>3} "
               f"{'lis':>3} {'oth':>4} {'cw':>3} {'thr':>3} " + " ".join(f"{k:>7}" for k in self.KINDS)
               + f" {'unexp':>5} {'tokens':>6}")
        self.header = hdr
        print(hdr, flush=True)
        print("(per sample: requests since the previous sample; wrk's are counted when a 30 s wrk run ends;"
              " cli/up/lis/oth/cw = client, upstream, listening, other fds, CLOSE_WAIT)", flush=True)

    def __call__(self, phase):
        s = sample(self.ctx)
        s["phase"] = phase
        now = COUNTS.snapshot()
        delta = now - self.prev
        self.prev = now
        per = collections.Counter()
        unexp = 0
        for (kind, outcome), n in delta.items():
            per[kind.split(".")[0]] += n
            if outcome not in EXPECTED.get(kind, set()):
                unexp += n
        s["delta"], s["unexpected"] = per, unexp
        s["tokens"] = STATS.snapshot()[("idp", "issued")]
        k = s["kinds"]
        oth = s["fds"] - k["client"] - k["upstream"] - k["listen"]
        print(f"{s['t'] / 60:6.1f} {phase:<6} {s['rss']:8d} {s['hwm']:8d} {s['fds']:4d} {k['client']:3d} "
              f"{k['upstream']:3d} {k['listen']:3d} {oth:4d} {k['close_wait']:3d} {s['threads']:3d} "
              + " ".join(f"{per[x]:7d}" for x in self.KINDS) + f" {unexp:5d} {s['tokens']:6d}", flush=True)
        self.rows.append(s)
        return s


def quiescent(ctx, sampler, name):
    time.sleep(3)  # in-flight connections close; pooled idle upstream ones may stay
    s = sampler(name)
    s["metrics"] = metrics(ctx)
    return s


def slope_kib_per_min(rows):
    if len(rows) < 2:
        return 0.0
    xs = [r["t"] / 60 for r in rows]
    ys = [r["rss"] for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


# ------------------------------------------------------------------------ setup
def run_cli(ctx, *args, stdin=None):
    r = subprocess.run([ctx.bin, *args, "--config", ctx.cfg], input=stdin, text=True, capture_output=True,
                       timeout=60, preexec_fn=_die_with_parent)
    if r.returncode:
        raise RuntimeError(f"credproxy {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()  # nothing listens there: connections are refused
    return p


def setup(ctx):
    ctx.origin = start_server(OriginHandler)
    ctx.origin_port = ctx.origin.server_address[1]
    ctx.origin.bound_port = ctx.origin_port
    ctx.origin2 = start_server(OriginHandler, bound_port=ctx.origin_port)
    ctx.origin2_port = ctx.origin2.server_address[1]
    ctx.idp = start_server(IdPHandler)
    ctx.idp_port = ctx.idp.server_address[1]
    ctx.dead_port = free_port()

    ctx.cfg = os.path.join(ctx.tmp, "credproxy.yaml")
    with open(ctx.cfg, "w") as f:
        f.write(f"""listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
health_listen: 127.0.0.1:0
workers: {ctx.workers}
vault:
  path: {ctx.tmp}/soak.vault
  key_file: {ctx.tmp}/soak.key
egress:
  allow_cidrs: [127.0.0.0/8]
log:
  level: info
""")
    ctx.wrk_lua = os.path.join(ctx.tmp, "soak.lua")
    with open(ctx.wrk_lua, "w") as f:
        f.write(WRK_LUA)

    hosts = [f"127.0.0.1:{ctx.origin_port}"]
    api = f"CANARY-api-{secrets.token_hex(8)}"
    pw = f"CANARY-pw-{secrets.token_hex(8)}"
    sec = f"CANARY-sec-{secrets.token_hex(8)}"
    cs = f"CANARY-cs-{secrets.token_hex(8)}"
    with STATE.lock:
        STATE.api_secrets.append(api)
        STATE.basic = "Basic " + base64.b64encode(f"soakuser:{pw}".encode()).decode()
        STATE.secret, STATE.client_secret = sec, cs
        STATE.all_canaries += [api, pw, sec, cs, STATE.basic[6:]]

    run_cli(ctx, "vault", "init")
    docs = {
        "soak.apikey": {"type": "api_key", "secret": api, "hosts": hosts, "allowPlaintext": True},
        "soak.basic": {"type": "basic", "username": "soakuser", "password": pw, "hosts": hosts,
                       "allowPlaintext": True},
        "soak.secret": {"type": "secret", "secret": sec, "hosts": hosts, "allowPlaintext": True},
        "soak.oauth": {"type": "oauth", "clientId": "soak-client", "clientSecret": cs,
                       "grantType": "client_credentials", "allowHttpEndpoints": True,
                       "serviceConfiguration": {"tokenEndpoint": f"http://127.0.0.1:{ctx.idp_port}/token"},
                       "hosts": hosts, "allowPlaintext": True},
    }
    for key, doc in docs.items():
        run_cli(ctx, "cred", "add", "--solution", "default", "--key", key, "--json", "-", stdin=json.dumps(doc))
    ctx.admin_token = run_cli(ctx, "admin", "token", "create", "--description", "soak").strip().split()[-1]

    ctx.serve_log = os.path.join(ctx.tmp, "serve.log")
    ctx.serve_log_f = open(ctx.serve_log, "wb")
    ctx.serve = spawn([ctx.bin, "serve", "--config", ctx.cfg], stdout=ctx.serve_log_f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    ctx.proxy_port = ctx.admin_port = ctx.health_port = 0
    while time.monotonic() < deadline and not (ctx.proxy_port and ctx.admin_port and ctx.health_port):
        if ctx.serve.poll() is not None:
            break
        time.sleep(0.1)
        with open(ctx.serve_log, errors="replace") as f:
            text = f.read()
        m = re.search(r"proxy listening on 127\.0\.0\.1:(\d+)", text)
        a = re.search(r"admin listening on 127\.0\.0\.1:(\d+)", text)
        ctx.proxy_port = int(m.group(1)) if m else 0
        ctx.admin_port = int(a.group(1)) if a else 0
        h = re.search(r"health listening on 127\.0\.0\.1:(\d+)", text)
        ctx.health_port = int(h.group(1)) if h else 0
    if not (ctx.proxy_port and ctx.admin_port and ctx.health_port):
        with open(ctx.serve_log, errors="replace") as f:
            tail = f.read()[-2000:]
        raise RuntimeError("credproxy serve did not report its ports within 10 s:\n" + tail)


# ------------------------------------------------------------------------- main
class Ctx:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--credproxy", default=os.environ.get("CREDPROXY", "build/credproxy"))
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "20")))
    ap.add_argument("--sample-s", type=float, default=float(os.environ.get("SOAK_SAMPLE_S", "30")))
    ap.add_argument("--warmup-s", type=float, default=float(os.environ.get("SOAK_WARMUP_S", "30")))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep-tmp", action="store_true", default=os.environ.get("SOAK_KEEP_TMP") == "1")
    args = ap.parse_args()
    if args.minutes <= 0 or args.sample_s < 1:
        ap.error("--minutes must be > 0 and --sample-s >= 1")
    for tool in ("wrk",):
        if not shutil.which(tool):
            sys.exit(f"soak: {tool} not found")
    if not os.access(args.credproxy, os.X_OK):
        sys.exit(f"soak: {args.credproxy} is not executable (make build, or CREDPROXY=...)")

    ctx = Ctx()
    ctx.bin = os.path.abspath(args.credproxy)
    ctx.workers = args.workers
    ctx.sample_s = args.sample_s
    ctx.wrk_conns, ctx.wrk_delay_ms = 4, 20  # <= ~200 req/s: the soak is about flatness, not speed
    ctx.oauth_sleep_s, ctx.error_sleep_s, ctx.tunnel_sleep_s = 0.05, 0.05, 0.1
    ctx.tmp = tempfile.mkdtemp(prefix="credproxy-soak.")
    ctx.t0 = time.monotonic()
    failed = []
    keep = args.keep_tmp

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        setup(ctx)
        log(f"credproxy {ctx.bin} pid {ctx.serve.pid}: proxy :{ctx.proxy_port} admin :{ctx.admin_port}; "
            f"origin :{ctx.origin_port} (bound) :{ctx.origin2_port} (unbound), IdP :{ctx.idp_port}, "
            f"tokens live {TOKEN_LIFETIME} s; temp dir {ctx.tmp}")
        log(f"{args.minutes:g} min of load after a {args.warmup_s:g} s warm-up; a sample every {args.sample_s:g} s")
        smp = Sampler(ctx)
        time.sleep(1)
        start = smp("start")
        run_load(ctx, args.warmup_s)
        q0 = quiescent(ctx, smp, "Q0")
        half = args.minutes * 30
        run_load(ctx, half, smp)
        q1 = quiescent(ctx, smp, "Q1")
        run_load(ctx, half, smp)
        q2 = quiescent(ctx, smp, "Q2")
        if ctx.serve.poll() is not None:
            failed.append(f"credproxy serve exited with {ctx.serve.returncode}")
        failed += summary(ctx, smp, start, q0, q1, q2)
    except KeyboardInterrupt as e:
        log(f"interrupted ({e or 'Ctrl-C'})")
        failed.append("interrupted")
        keep = True
    except Exception as e:
        log(f"FAILED: {type(e).__name__}: {e}")
        failed.append(str(e))
        keep = True
    finally:
        kill_all_children()
        for name in ("origin", "origin2", "idp"):
            srv = getattr(ctx, name, None)
            if srv:
                srv.shutdown()
                srv.server_close()
        if getattr(ctx, "serve_log_f", None):
            ctx.serve_log_f.close()
        if keep:
            log(f"kept {ctx.tmp}")
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    if failed:
        for f in failed:
            log("FAILED: " + f)
        sys.exit(1)
    log("PASSED")


def summary(ctx, smp, start, q0, q1, q2):
    failed = []
    rows = smp.rows
    second = [r for r in rows if r["phase"] == "load" and q1["t"] <= r["t"] <= q2["t"]]
    slope = slope_kib_per_min(second)
    half_min = (q2["t"] - q1["t"]) / 60
    rss_max = max(r["rss"] for r in rows)
    fd_max = max(r["fds"] for r in rows)
    print("\n== summary ==")
    print(f"duration       : {(q2['t'] - q0['t']) / 60:.1f} min of load after the warm-up, {len(rows)} samples")
    print(f"RSS KiB        : start {start['rss']}  Q0 {q0['rss']}  Q1 {q1['rss']}  Q2 (last) {q2['rss']}  "
          f"max {rss_max}  (VmHWM {q2['hwm']})")
    print(f"RSS 2nd half   : Q2 - Q1 = {q2['rss'] - q1['rss']:+d} KiB; slope {slope:+.1f} KiB/min over "
          f"{len(second)} load samples (x {half_min:.1f} min = {slope * half_min:+.0f} KiB); bound {RSS_BOUND_KIB} KiB")

    def fdline(s):
        k = s["kinds"]
        return (f"{s['fds']} (client {k['client']}, admin {k['admin']}, pooled upstream {k['upstream']}, "
                f"listen {k['listen']}, other {s['fds'] - k['client'] - k['admin'] - k['upstream'] - k['listen']}, "
                f"CLOSE_WAIT {k['close_wait']})")
    print(f"fds start      : {fdline(start)}")
    print(f"fds Q0         : {fdline(q0)}")
    print(f"fds Q1         : {fdline(q1)}")
    print(f"fds Q2 (last)  : {fdline(q2)}")
    print(f"fds max        : {fd_max}; threads start {start['threads']} last {q2['threads']} "
          f"max {max(r['threads'] for r in rows)}")

    total = COUNTS.snapshot()
    by_kind = collections.defaultdict(collections.Counter)
    for (kind, outcome), n in total.items():
        by_kind[kind][outcome] += n
    print("requests       :")
    unexpected = []
    for kind in sorted(by_kind):
        c = by_kind[kind]
        n = sum(c.values())
        outs = ", ".join(f"{o}={v}" for o, v in c.most_common())
        print(f"  {kind:<20} {n:8d}  {outs}")
        bad = {o: v for o, v in c.items() if o not in EXPECTED.get(kind, set())}
        if bad:
            nbad = sum(bad.values())
            unexpected.append(f"{kind}: {bad}")
            if nbad > UNEXPECTED_FAIL_RATIO * n:
                failed.append(f"{kind}: {nbad} of {n} unexpected outcomes {bad}")
    print(f"  total {sum(total.values())}")
    side = STATS.snapshot()
    print("origin/IdP     : " + ", ".join(f"{a}.{b}={v}" for (a, b), v in sorted(side.items())))
    print("unexpected     : " + ("; ".join(unexpected) if unexpected else "none"))
    m = q2.get("metrics", {})
    keep = [k for k in m if re.search(r"conn|idle|pool|vault_re|oauth|token|tunnel", k)]
    if keep:
        print("metrics at Q2  : " + ", ".join(f"{k}={m[k]}" for k in sorted(keep)[:40]))

    if side[("origin", "PLACEHOLDER_LEAK")]:
        failed.append(f"{side[('origin', 'PLACEHOLDER_LEAK')]} requests reached an origin with a placeholder")
    growth = q2["rss"] - q1["rss"]
    if growth > RSS_BOUND_KIB:
        failed.append(f"RSS grew {growth} KiB between Q1 and Q2 (bound {RSS_BOUND_KIB})")
    if len(second) >= 4 and slope * half_min > RSS_BOUND_KIB:
        failed.append(f"RSS slope {slope:.1f} KiB/min over the second half projects {slope * half_min:.0f} KiB")

    def steady(s):
        return s["fds"] - s["kinds"]["upstream"]
    if abs(steady(q2) - steady(q0)) > FD_SLACK:
        failed.append(f"descriptors other than pooled upstream sockets: Q0 {steady(q0)} -> Q2 {steady(q2)} "
                      f"(slack {FD_SLACK})")
    if q2["kinds"]["client"]:
        failed.append(f"{q2['kinds']['client']} client connections still open at the quiescent end")
    if q2["kinds"]["close_wait"]:
        failed.append(f"{q2['kinds']['close_wait']} sockets in CLOSE_WAIT at the end (peer closed, proxy did not)")

    with open(ctx.serve_log, "rb") as f:
        text = f.read().decode("latin-1")
    with STATE.lock:
        canaries = list(STATE.all_canaries)
    leaked = [c for c in canaries if c in text]
    n_canary = text.count("CANARY")
    print(f"serve log      : {len(text) // 1024} KiB, {text.count(chr(10))} lines; secrets found: "
          f"{len(leaked) + n_canary} (checked {len(canaries)} values and the CANARY marker of every token)")
    if leaked or n_canary:
        failed.append(f"secrets in serve's log: {len(leaked)} values, {n_canary} CANARY markers")
    # Lines are "TIMESTAMP LEVEL message": everything above info, grouped with digits masked.
    warn = collections.Counter()
    for ln in text.splitlines():
        parts = ln.split(" ", 2)
        if len(parts) == 3 and parts[1] not in ("info", "debug", "trace"):
            warn[re.sub(r"\d+", "N", parts[1] + " " + parts[2])[:160]] += 1
    if warn:
        print("log above info : " + "; ".join(f"{v}x {k}" for k, v in warn.most_common(8)))
    return failed


if __name__ == "__main__":
    main()
