#!/usr/bin/env python3
"""Steady-state memory of `blindspot run`, end to end: the release binary as a
daemon against the simulated AWS (a separate `blindspot sim` process, so the
simulator's memory is not counted).

Two worlds: the demo scenario, and a generated fleet with about 100k open
findings. For each it waits until /readyz answers 200, lets the rules run
--cycles more times, and prints the daemon's RSS (VmRSS) and peak (VmHWM), the
open findings and the time the first full evaluation took. Prints figures;
asserts nothing about time.

Usage: cargo build --release && python3 tests/bench/daemon_rss.py [--cycles 3]
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "blindspot")
INTERVAL = 20  # seconds between evaluations of each rule


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def open_findings(base):
    total, cursor = 0, None
    while True:
        url = f"{base}/api/v1/findings?status=open&limit=1000" + (f"&cursor={cursor}" if cursor else "")
        _, body = get(url)
        page = json.loads(body)
        total += len(page["findings"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def measure(name, sim_args, regions, cycles):
    sim = subprocess.Popen([BIN, "sim", "--listen", "127.0.0.1:0", *sim_args],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    endpoint = sim.stdout.readline().strip().rsplit(" ", 1)[-1]
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "blindspot.toml")
        with open(config, "w") as f:
            f.write(f"""
[aws]
regions = {json.dumps(regions)}
endpoint_url = "{endpoint}"
[server]
listen = "127.0.0.1:0"
[store]
path = "{tmp}/blindspot.db"
[scheduler]
jitter = "1s"
[rules.inspector-exclusions]
interval = "{INTERVAL}s"
[rules.inspector2-associations]
interval = "{INTERVAL}s"
[rules.inspector2-coverage]
interval = "{INTERVAL}s"
timeout = "10m"
""")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", BLINDSPOT_LOG="warn")
        start = time.time()
        daemon = subprocess.Popen([BIN, "run", "--config", config], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = daemon.stdout.readline().strip().rsplit(" ", 1)[-1].rstrip("/")
            while get(f"{base}/readyz")[0] != 200:
                if daemon.poll() is not None:
                    sys.exit(f"{name}: the daemon exited with {daemon.returncode}")
                time.sleep(0.5)
            ready = time.time() - start
            samples = []
            for _ in range(cycles):
                time.sleep(INTERVAL + 2)
                samples.append(status_kib(daemon.pid, "VmRSS"))
            hwm = status_kib(daemon.pid, "VmHWM")
            findings = open_findings(base)
        finally:
            daemon.terminate()
            daemon.wait()
            sim.terminate()
            sim.wait()
    return name, findings, ready, samples, hwm


def main():
    cycles = 3
    if "--cycles" in sys.argv:
        cycles = int(sys.argv[sys.argv.index("--cycles") + 1])
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: run `cargo build --release` first")
    demo = os.path.join(ROOT, "tests", "scenarios", "demo.toml")
    rows = [
        measure("demo scenario", ["--scenario", demo], ["us-east-1", "eu-west-1", "ap-southeast-2"], cycles),
        # 111,112 instances, all uncovered; 10% are stopped (benign), so about
        # 100k findings stay open.
        measure("100k findings", ["--fleet", "111112", "--fleet-regions", "us-east-1",
                                  "--fleet-uncovered-percent", "100"], ["us-east-1"], cycles),
    ]
    print(f"{'world':<15} {'open findings':>13} {'ready after s':>13} {'RSS KiB per cycle':>30} {'peak KiB':>9}")
    for name, findings, ready, samples, hwm in rows:
        print(f"{name:<15} {findings:>13} {ready:>13.1f} {' '.join(map(str, samples)):>30} {hwm:>9}")


if __name__ == "__main__":
    main()
