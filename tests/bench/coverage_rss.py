#!/usr/bin/env python3
"""Peak memory and speed of `blindspot check --rule inspector2-coverage` as the
fleet grows, end to end: the release binary against the simulated AWS over HTTP.

For each fleet size it starts `blindspot sim --fleet N` (in its own process, so
the simulator's memory is not counted), runs one check, and prints the check's
peak RSS, wall time, resources per second and the ratio to the smallest fleet.
Memory should stay flat: the rule streams ListCoverage pages and keeps only
findings. The uncovered share is fixed in absolute numbers (--uncovered) so the
findings, which are the output, stay the same size while the fleet grows.

Usage: cargo build --release && python3 tests/bench/coverage_rss.py [10000 100000]
Prints figures; asserts nothing about time.
"""
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "blindspot")
UNCOVERED = 500  # uncovered resources in every fleet


def run_check(endpoint):
    env = dict(os.environ,
               AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="AKIDBENCH",
               AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", BLINDSPOT_LOG="warn")
    # A fresh interpreter per check, so RUSAGE_CHILDREN is that check's alone.
    probe = (
        "import json,resource,subprocess,sys,time;"
        "t=time.time();p=subprocess.run(sys.argv[1:],capture_output=True);"
        "print(json.dumps({'code':p.returncode,'secs':time.time()-t,"
        "'maxrss_kib':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        "'stdout':p.stdout.decode(),'stderr':p.stderr.decode()[-2000:]}))"
    )
    cmd = [sys.executable, "-c", probe, BIN, "check", "--rule", "inspector2-coverage",
           "--regions", "us-east-1", "--format", "json"]
    out = subprocess.run(cmd, env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: run `cargo build --release` first")
    rows = []
    for n in sizes:
        percent = 100.0 * UNCOVERED / n
        sim = subprocess.Popen(
            [BIN, "sim", "--fleet", str(n), "--fleet-regions", "us-east-1",
             "--fleet-uncovered-percent", f"{percent:.4f}", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = sim.stdout.readline().strip()
            endpoint = line.rsplit(" ", 1)[-1]
            result = run_check(endpoint)
        finally:
            sim.terminate()
            sim.wait()
        if result["code"] not in (0, 1):
            sys.exit(f"check failed with {result['code']}: {result['stderr']}")
        report = json.loads(result["stdout"])
        evaluation = report["evaluations"][0]
        counts = evaluation.get("counts", {})
        rows.append((n, result, len(report["findings"]), counts.get("calls.ListCoverage")))
    base = rows[0]
    print(f"{'resources':>10} {'peak RSS KiB':>13} {'RSS ratio':>9} {'wall s':>7} "
          f"{'resources/s':>11} {'findings':>8} {'ListCoverage calls':>18}")
    for n, r, findings, calls in rows:
        print(f"{n:>10} {r['maxrss_kib']:>13} {r['maxrss_kib'] / base[1]['maxrss_kib']:>9.2f} "
              f"{r['secs']:>7.2f} {n / r['secs']:>11.0f} {findings:>8} {str(calls):>18}")
    print(f"fleet grew {rows[-1][0] / base[0]:.0f}x; peak RSS grew "
          f"{rows[-1][1]['maxrss_kib'] / base[1]['maxrss_kib']:.2f}x")


if __name__ == "__main__":
    main()
