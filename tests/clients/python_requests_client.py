#!/usr/bin/python3
"""HTTPS through the proxy with `requests`, as a Python function does it.

Proxy: HTTPS_PROXY / HTTP_PROXY from the environment (requests' trust_env).
Trust: REQUESTS_CA_BUNDLE (requests reads it per request, replacing its
default bundle). One requests.Session per --parallel session: its pool
keeps the CONNECT tunnel alive across the URLs and --count repetitions.
See client_cli.py for the options and the JSON lines printed.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_cli  # noqa: E402
import requests  # noqa: E402


def run_session(args):
    ok = True
    with requests.Session() as session:
        for _ in range(args.count):
            for url in args.url:
                try:
                    r = session.request(args.method, url, headers=args.headers, data=args.body,
                                        timeout=args.timeout)
                    client_cli.emit(client_cli.response_record(r.status_code, r.headers.items(), r.content))
                except requests.RequestException as exc:
                    ok = False
                    client_cli.emit(client_cli.error_record(exc))
    return ok


if __name__ == "__main__":
    sys.exit(client_cli.run_sessions(client_cli.parse_args(__doc__.splitlines()[0]), run_session))
