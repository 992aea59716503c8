"""The lesson's blocking server, as the guide shows it: accept, read a
request, answer b'Yes', close; one client at a time.

Two changes for benchmarking, both arguments: the address (default
127.0.0.1:8000) and the listen backlog (default 128 rather than the
lesson's 3, so 50 concurrent clients measure the blocking model rather than
SYN retries). It prints nothing unless --verbose, matching twig's
reply_server run with RUST_LOG=warn. SIGTERM exits.
"""
import signal
import socket
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    verbose = "--verbose" in sys.argv
    host, port = (args[0].rsplit(":", 1) if args else ("127.0.0.1", "8000"))
    backlog = int(args[1]) if len(args) > 1 else 128
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(backlog)
    while True:
        conn, addr = s.accept()
        if verbose:
            print("Connected by", addr)
        data = conn.recv(1024)
        if verbose:
            print("request is:", data)
        conn.sendall(b"Yes")
        conn.close()


if __name__ == "__main__":
    main()
