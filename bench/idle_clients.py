#!/usr/bin/env python3
"""Idle keep-alive client connections for bench/run.sh's idle suite.

Opens COUNT connections to a proxy at 127.0.0.1:PORT and sends one request on
each (so every connection is a served keep-alive connection, not just an
accepted socket), then prints "held N" and waits for a line on stdin. The
caller measures the proxy's memory meanwhile. On that line it sends a second
request on every connection, proving the proxy still holds all of them,
prints "alive M" and exits. Every response must be 200.

    idle_clients.py PORT COUNT TARGET HOST APIKEY
"""
import socket
import sys


def request_bytes(target, host, apikey):
    return (f"GET {target} HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {apikey}\r\n\r\n").encode()


def read_response(sock):
    """Reads one response with a Content-Length body; returns its status (0 on EOF or error)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return 0
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return 0
        body += chunk
    return status


def exchange(sock, request):
    try:
        sock.sendall(request)
        return read_response(sock) == 200
    except OSError:
        return False


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    request = request_bytes(sys.argv[3], sys.argv[4], sys.argv[5])
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if not exchange(sock, request):
            print(f"failed after {len(sockets)}", flush=True)
            return 1
        sockets.append(sock)
    print(f"held {len(sockets)}", flush=True)
    sys.stdin.readline()
    alive = sum(1 for sock in sockets if exchange(sock, request))
    print(f"alive {alive}", flush=True)
    for sock in sockets:
        sock.close()
    return 0 if alive == count else 1


if __name__ == "__main__":
    sys.exit(main())
