#!/usr/bin/python3
"""HTTPS through the proxy with the standard library's urllib.request.

Proxy: HTTPS_PROXY / HTTP_PROXY from the environment (urllib's default
ProxyHandler). Trust: SSL_CERT_FILE, which OpenSSL's default verify paths
read when urllib builds its default SSL context. urllib has no keep-alive:
every request opens its own CONNECT tunnel and sends Connection: close,
exactly as functions using urlopen behave. See client_cli.py for the
options and the JSON lines printed.
"""
import os
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_cli  # noqa: E402


def one_request(opener, args, url):
    req = urllib.request.Request(url, data=args.body, headers=args.headers, method=args.method)
    try:
        with opener.open(req, timeout=args.timeout) as r:
            return client_cli.response_record(r.status, r.headers.items(), r.read())
    except urllib.error.HTTPError as r:  # a 4xx/5xx is still a response
        with r:
            return client_cli.response_record(r.code, r.headers.items(), r.read())


def run_session(args):
    ok = True
    opener = urllib.request.build_opener()  # ProxyHandler(getproxies()) by default
    for _ in range(args.count):
        for url in args.url:
            try:
                client_cli.emit(one_request(opener, args, url))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                ok = False
                client_cli.emit(client_cli.error_record(exc))
    return ok


if __name__ == "__main__":
    sys.exit(client_cli.run_sessions(client_cli.parse_args(__doc__.splitlines()[0]), run_session))
