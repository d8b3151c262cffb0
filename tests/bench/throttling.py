#!/usr/bin/env python3
"""One-shot `blindspot check` under throttling, end to end: the binary against
the simulated AWS (a separate `blindspot sim` process serving the demo world,
Inspector Classic retired in eu-west-1 as in the demo).

For each throttling fault and each retry setting it runs --runs checks and
prints how many were complete (exit 1, every evaluation ok or unavailable)
with the same findings as an unthrottled check, the throttled calls, and the
mean and slowest time against the unthrottled check. Faults:

  random30   30% of all calls answer ThrottlingException (throttle_probability)
  rate2      a token bucket per (account, region, service, operation):
             burst 2, then 2 calls a second (rate_limit), as AWS throttles
  fleet      the coverage rule alone over a generated 20k-instance fleet
             (100 ListCoverage pages), 5 calls a second, 100 ms latency

Prints figures; asserts nothing.

Usage: cargo build --release && python3 tests/bench/throttling.py [--runs 10] [--bin PATH]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

# (label, the [aws] keys); blindspot's defaults are 10 attempts, standard
# mode, backoff capped at 5 s. The first row is the old default.
SETTINGS = [
    ("3 attempts, standard", 'max_attempts = 3\nretry_mode = "standard"'),
    ("default (10, standard)", ""),
    ("10 attempts, adaptive", 'retry_mode = "adaptive"'),
]


def request(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


class Sim:
    def __init__(self, binary, args):
        self.proc = subprocess.Popen([binary, "sim", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.endpoint = self.proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        for _ in range(200):
            try:
                request("GET", f"{self.endpoint}/_sim/healthz")
                break
            except OSError:
                time.sleep(0.1)

    def faults(self, faults):
        request("PUT", f"{self.endpoint}/_sim/faults", json.dumps(faults).encode())

    def throttled(self):
        return sum(c["faults"] for c in request("GET", f"{self.endpoint}/_sim/calls"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def check(binary, endpoint, regions, aws, rule):
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "blindspot.toml")
        with open(config, "w") as f:
            f.write(f"[aws]\nregions = {json.dumps(regions)}\n{aws}\n")
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="AKIDBENCH",
                   AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
                   AWS_EC2_METADATA_DISABLED="true", BLINDSPOT_LOG="error")
        args = [binary, "check", "--config", config, "--format", "json"]
        if rule:
            args += ["--rule", rule]
        started = time.monotonic()
        out = subprocess.run(args, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    doc = json.loads(out.stdout)
    findings = sorted((f["rule"], f["id"]) for f in doc["findings"])
    statuses = sorted((e["rule"], e["region"], e["status"]) for e in doc["evaluations"])
    return out.returncode, findings, statuses, elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "blindspot"))
    args = parser.parse_args()

    worlds = [
        ("random30", [], REGIONS, None, {"classic_retired": ["eu-west-1"], "throttle_probability": 0.3}),
        ("rate2", [], REGIONS, None,
         {"classic_retired": ["eu-west-1"], "rate_limit": {"*": {"rate": 2.0, "burst": 2.0}}}),
        ("fleet", ["--fleet", "20000", "--fleet-regions", "us-east-1"], ["us-east-1"], "inspector2-coverage",
         {"latency_ms": 100, "rate_limit": {"*": {"rate": 5.0, "burst": 5.0}}}),
    ]
    print(f"{'fault':<9} {'retry settings':<24} {'complete':>9} {'throttled':>9} "
          f"{'mean s':>7} {'max s':>7} {'unthrottled s':>13} {'ratio':>6}")
    for name, sim_args, regions, rule, faults in worlds:
        sim = Sim(args.bin, sim_args)
        base_faults = {k: v for k, v in faults.items() if k in ("classic_retired", "latency_ms")}
        sim.faults(base_faults)
        code, findings, statuses, unthrottled = check(args.bin, sim.endpoint, regions, "", rule)
        assert code in (0, 1), f"unthrottled check failed with exit {code}"
        runs = args.runs if name != "fleet" else max(1, args.runs // 5)
        for label, aws in SETTINGS:
            complete, times, before = 0, [], sim.throttled()
            for _ in range(runs):
                # Fresh buckets: every run starts as a first run does.
                sim.faults(faults)
                c, f, s, elapsed = check(args.bin, sim.endpoint, regions, aws, rule)
                times.append(elapsed)
                complete += c == code and f == findings and s == statuses
            mean = sum(times) / len(times)
            print(f"{name:<9} {label:<24} {complete:>4}/{runs:<4} {sim.throttled() - before:>9} "
                  f"{mean:>7.2f} {max(times):>7.2f} {unthrottled:>13.2f} {mean / unthrottled:>6.1f}")
        sim.stop()


if __name__ == "__main__":
    main()
