"""Command line and output shared by the Python test clients.

Each client makes its requests the way a function runtime does: the proxy
comes from the environment (HTTPS_PROXY / HTTP_PROXY), trust from the
client's own CA variable. It prints one JSON line per request:
    {"status": N, "headers": {lower-case name: value}, "body": "..."}
or  {"error": "..."}
and exits 0 only when every request got an HTTP response (any status).
"""
import argparse
import json
import sys
import threading

_print_lock = threading.Lock()


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", action="append", required=True,
                   help="request URL; several = several requests on one keep-alive session")
    p.add_argument("--header", "-H", action="append", default=[], help="'Name: value', repeatable")
    p.add_argument("--method", default=None, help="default GET, or POST with --data")
    p.add_argument("--data", default=None, help="request body (UTF-8)")
    p.add_argument("--content-type", default=None, help="Content-Type of --data")
    p.add_argument("--count", type=int, default=1, help="repeat the URL list N times on the same session")
    p.add_argument("--parallel", type=int, default=1, help="P concurrent sessions, each doing the whole list")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per request (connect and each read)")
    args = p.parse_args()
    if args.count < 1 or args.parallel < 1 or args.timeout <= 0:
        p.error("--count, --parallel and --timeout must be positive")
    headers = {}
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            p.error("--header must be 'Name: value': " + h)
        headers[name.strip()] = value.strip()
    if args.content_type:
        headers["Content-Type"] = args.content_type
    args.headers = headers
    args.method = (args.method or ("POST" if args.data is not None else "GET")).upper()
    args.body = None if args.data is None else args.data.encode("utf-8")
    return args


def emit(record):
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def response_record(status, header_pairs, body_bytes):
    headers = {}
    for name, value in header_pairs:
        key = name.lower()
        headers[key] = headers[key] + ", " + value if key in headers else value
    return {"status": status, "headers": headers, "body": body_bytes.decode("utf-8", errors="replace")}


def error_record(exc):
    return {"error": "%s: %s" % (type(exc).__name__, exc)}


def run_sessions(args, run_session):
    """Runs run_session(args) -> all_ok in args.parallel threads; the exit code."""
    results = [False] * args.parallel

    def worker(i):
        try:
            results[i] = run_session(args)
        except Exception as exc:  # a bug in the client itself still prints a line
            emit(error_record(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0 if all(results) else 1
