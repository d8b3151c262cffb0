#!/usr/bin/env python3
"""Organisation scale, end to end: a generated organisation of 300 accounts x
17 regions (5 associations per region, 20 coverage resources per account and
region) served by `blindspot sim`, and the release binary against it.

Prints, side by side with the issue's budget where it has one:
  - the wall time and peak RSS of one full `blindspot check`;
  - the AWS calls per operation that check made (the simulator's counts);
  - the daemon's /metrics series count, body size and scrape time once every
    rule has evaluated every scope (/readyz 200), and its RSS.
Asserts nothing about time.

Usage: cargo build --release && python3 tests/bench/org_scale.py [--accounts 300] [--regions 17]
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "blindspot")
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3",
]
SERIES_BUDGET = 50_000


def arg(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def get(url, timeout=120):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def config(tmp, endpoint, regions, daemon):
    text = f"""
[aws]
regions = {json.dumps(regions)}
endpoint_url = "{endpoint}"
concurrency = 32

[aws.organization]
role_name = "blindspot-audit"
refresh = "1h"
"""
    if daemon:
        text += f"""
[server]
listen = "127.0.0.1:0"
[store]
path = "{tmp}/blindspot.db"
[scheduler]
jitter = "0s"
"""
    for rule in ["inspector-exclusions", "inspector2-associations", "inspector2-coverage",
                 "inspector2-organization"]:
        text += f'\n[rules.{rule}]\ninterval = "6h"\ntimeout = "30m"\n'
    path = os.path.join(tmp, "daemon.toml" if daemon else "check.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    accounts = arg("--accounts", 300)
    regions = REGIONS[: arg("--regions", 17)]
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: run `cargo build --release` first")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="bench",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", BLINDSPOT_LOG="error")
    started = time.time()
    sim = subprocess.Popen(
        [BIN, "sim", "--listen", "127.0.0.1:0", "--fleet", "20", "--fleet-accounts", str(accounts),
         "--fleet-regions", ",".join(regions)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    endpoint = sim.stdout.readline().strip().rsplit(" ", 1)[-1]
    sim_ready = time.time() - started
    sim_rss = status_kib(sim.pid, "VmRSS")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # One full check.
            before = {(c["service"], c["operation"]): c["calls"]
                      for c in json.loads(get(f"{endpoint}/_sim/calls")[1] or b"[]")}
            t0 = time.time()
            check = subprocess.run([BIN, "check", "--format", "json", "--config",
                                    config(tmp, endpoint, regions, False)],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            wall = time.time() - t0
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            report = json.loads(check.stdout) if check.stdout else {"evaluations": [], "findings": []}
            statuses = {}
            for e in report["evaluations"]:
                statuses[e["status"]] = statuses.get(e["status"], 0) + 1
            calls = {}
            for c in json.loads(get(f"{endpoint}/_sim/calls")[1] or b"[]"):
                key = (c["service"], c["operation"])
                calls[key] = calls.get(key, 0) + c["calls"]
            for key, n in before.items():
                calls[key] = calls.get(key, 0) - n

            # The daemon: /metrics once every scope has been evaluated.
            t0 = time.time()
            daemon = subprocess.Popen([BIN, "run", "--config", config(tmp, endpoint, regions, True)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True)
            try:
                base = daemon.stdout.readline().strip().rsplit(" ", 1)[-1].rstrip("/")
                # Every scope evaluated once: three rules in every account and
                # region, the organisation rule in the home account's regions.
                expected = 3 * accounts * len(regions) + len(regions)
                while True:
                    if daemon.poll() is not None:
                        sys.exit(f"the daemon exited with {daemon.returncode}")
                    status, body = get(f"{base}/api/v1/rules?evaluations=none")
                    if status == 200:
                        done = sum(r["scopes"]["total"] for r in json.loads(body)["rules"])
                        if done >= expected:
                            break
                    time.sleep(1)
                ready = time.time() - t0
                s0 = time.time()
                status, body = get(f"{base}/metrics")
                scrape = time.time() - s0
                series = sum(1 for line in body.decode().splitlines()
                             if line and not line.startswith("#"))
                daemon_rss = status_kib(daemon.pid, "VmRSS")
                daemon_hwm = status_kib(daemon.pid, "VmHWM")
            finally:
                daemon.terminate()
                daemon.wait()
    finally:
        sim.terminate()
        sim.wait()

    scopes = accounts * len(regions)
    print(f"organisation: {accounts} accounts x {len(regions)} regions = {scopes} account-regions")
    print(f"simulator: ready in {sim_ready:.1f} s, RSS {sim_rss / 1024:.0f} MiB")
    print(f"check: exit {check.returncode}, wall {wall:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB, "
          f"{len(report['evaluations'])} evaluations {statuses}, {len(report['findings'])} findings")
    total = sum(calls.values())
    print(f"check: {total} AWS calls ({total / scopes:.1f} per account-region)")
    for (service, operation), n in sorted(calls.items(), key=lambda kv: -kv[1]):
        if n:
            print(f"  {service:<14} {operation:<36} {n:>8}  {n / scopes:6.2f} per account-region")
    print(f"daemon: every scope evaluated after {ready:.1f} s, RSS {daemon_rss / 1024:.0f} MiB, "
          f"peak {daemon_hwm / 1024:.0f} MiB")
    print(f"/metrics: HTTP {status}, {series} series ({series / SERIES_BUDGET:.0%} of the "
          f"{SERIES_BUDGET} budget), {len(body) / 1e6:.2f} MB, scraped in {scrape * 1000:.0f} ms")


if __name__ == "__main__":
    main()
