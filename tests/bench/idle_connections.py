#!/usr/bin/env python3
"""/healthz latency while 500 idle TCP connections are held open against
`blindspot run` (the daemon against a separate `blindspot sim`, demo scenario).

An idle connection is what a slow or hostile client costs the server: a socket
that sends nothing. The server holds at most [server] max_connections (default
1024) of them, and closes each one that sends no request head within
header_read_timeout (default 10 s). This script opens --idle connections
(default 500), then times /healthz on fresh connections in two phases:

  burst      --requests back to back right after the idle connections opened;
  sustained  --requests spaced --spacing seconds apart (long enough for the
             header-read timeout to close the idle connections), reopening
             every idle connection the server closed before each request, so
             --idle are held throughout, as a client that keeps reconnecting
             would.

For each phase it prints p50, p99 and max, and how many idle connections the
server had closed. It also prints the daemon's open file descriptors while the
connections are held. /healthz must answer within 1 s (exit 1 otherwise).

Usage: cargo build -p blindspot && python3 tests/bench/idle_connections.py \\
           [--binary target/debug/blindspot (default: the newest build)] [--idle 500] [--requests 20] [--spacing 1]
"""
import argparse
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIMIT = 1.0  # seconds /healthz may take


def default_binary():
    """The most recently built of target/release and target/debug."""
    paths = [os.path.join(ROOT, "target", p, "blindspot") for p in ("release", "debug")]
    built = [p for p in paths if os.path.exists(p)]
    return max(built, key=os.path.getmtime) if built else paths[1]


def healthz(host, port):
    """Seconds from connect to the complete answer of one GET /healthz."""
    start = time.perf_counter()
    # Generous, so a run beyond max_connections shows the wait instead of failing.
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    elapsed = time.perf_counter() - start
    if not answer.startswith(b"HTTP/1.1 200 "):
        sys.exit(f"/healthz answered {answer[:80]!r}")
    return elapsed


def ready(host, port):
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(f"GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return s.recv(64).startswith(b"HTTP/1.1 200 ")
    except OSError:
        return False


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name, samples, closed):
    ms = [s * 1000 for s in samples]
    return (f"{name:<10} p50 {percentile(ms, 50):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms   "
            f"max {max(ms):7.1f} ms   ({len(ms)} requests; idle connections closed by the server: {closed})")


class IdlePool:
    """Idle connections that send nothing; closed ones can be reopened."""

    def __init__(self, host, port, count):
        self.addr = (host, port)
        self.count = count
        self.selector = selectors.DefaultSelector()
        self.closed_by_server = 0
        self.refill()

    def open_one(self):
        s = socket.create_connection(self.addr, timeout=10)
        s.setblocking(False)
        self.selector.register(s, selectors.EVENT_READ)

    def reap(self):
        """Closes (and counts) the connections the server has closed."""
        gone = 0
        for key, _ in self.selector.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                self.selector.unregister(s)
                s.close()
                gone += 1
        self.closed_by_server += gone
        return gone

    def refill(self):
        """Reopens closed connections until `count` are held again."""
        self.reap()
        while self.held() < self.count:
            self.open_one()

    def held(self):
        return len(self.selector.get_map())

    def close(self):
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=default_binary())
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=1.0)
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `cargo build -p blindspot` first")
    # This process holds --idle sockets itself.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.idle + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    scenario = os.path.join(ROOT, "tests", "scenarios", "demo.toml")
    sim = subprocess.Popen([args.binary, "sim", "--listen", "127.0.0.1:0", "--scenario", scenario],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    daemon = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            endpoint = sim.stdout.readline().strip().rsplit(" ", 1)[-1]
            config = os.path.join(tmp, "blindspot.toml")
            with open(config, "w") as f:
                f.write(f"""
[aws]
regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
endpoint_url = "{endpoint}"
[server]
listen = "127.0.0.1:0"
[store]
path = "{tmp}/blindspot.db"
""")
            env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="bench",
                       AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", BLINDSPOT_LOG="warn")
            daemon = subprocess.Popen([args.binary, "run", "--config", config], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            base = daemon.stdout.readline().strip().rsplit(" ", 1)[-1].rstrip("/")
            host, port = base.removeprefix("http://").rsplit(":", 1)
            port = int(port)
            # Measure the steady state, not the first evaluations.
            while not ready(host, port):
                if daemon.poll() is not None:
                    sys.exit(f"the daemon exited with {daemon.returncode}")
                time.sleep(0.5)
            print(f"binary {os.path.relpath(args.binary, ROOT)}; daemon at {base}; "
                  f"its open-file limit: {open_file_limit(daemon.pid)}")

            quiet = [healthz(host, port) for _ in range(args.requests)]
            print(summary("no idle", quiet, 0))

            fds_before = open_fds(daemon.pid)
            opened = time.perf_counter()
            pool = IdlePool(host, port, args.idle)
            took = time.perf_counter() - opened
            # The daemon accepts them shortly after the handshakes complete.
            deadline = time.time() + 5
            while open_fds(daemon.pid) < fds_before + args.idle and time.time() < deadline:
                time.sleep(0.05)
            print(f"opened {args.idle} idle connections in {took:.2f} s; "
                  f"daemon fds {fds_before} -> {open_fds(daemon.pid)}")

            burst = [healthz(host, port) for _ in range(args.requests)]
            pool.reap()
            print(summary("burst", burst, pool.closed_by_server) + f"; held {pool.held()}")

            pool.closed_by_server = 0
            sustained = []
            for _ in range(args.requests):
                time.sleep(args.spacing)
                pool.refill()
                sustained.append(healthz(host, port))
            pool.reap()
            print(summary("sustained", sustained, pool.closed_by_server) +
                  f"; held {pool.held()} (reopened as they closed)")
            pool.close()
        finally:
            for p in (daemon, sim):
                if p is not None:
                    p.terminate()
                    p.wait()
    worst = max(quiet + burst + sustained)
    if worst > LIMIT:
        print(f"FAIL: /healthz took {worst * 1000:.0f} ms, more than {LIMIT * 1000:.0f} ms")
        sys.exit(1)
    print(f"ok: every /healthz answered within {LIMIT * 1000:.0f} ms (worst {worst * 1000:.1f} ms)")


def open_file_limit(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return line.split()[3]
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    main()
