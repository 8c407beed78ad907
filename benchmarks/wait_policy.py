"""OpenMP's wait policy on the CPU: LeNet-5 and ResNet-20 training speed (``fit``, torch's default
threads) with GNU OpenMP's default (spin 300,000 times, then sleep), ``OMP_WAIT_POLICY=PASSIVE``
(sleep at once) and a short spin (``GOMP_SPINCOUNT=3000``, what ``import cnnlit`` sets, see
``cnnlit/threads.py``), on a quiet machine and with busy competitors (pure-Python busy loops, as
other students' jobs would be).

    python benchmarks/wait_policy.py                           # quiet, and one competitor per core
    python benchmarks/wait_policy.py --competitors 0,2,8       # quiet, then 2 and 8 competitors
    python benchmarks/wait_policy.py --write       # and write the table into benchmarks/RESULTS.md

The policy is read once, when torch loads its OpenMP runtime, so every measurement runs in a fresh
process started with that environment. The settings are timed in alternating order round by round.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"default (spin, then sleep)": {},
            "PASSIVE (sleep at once)": {"OMP_WAIT_POLICY": "PASSIVE"},
            "short spin (GOMP_SPINCOUNT=3000, cnnlit's choice)": {"GOMP_SPINCOUNT": "3000"}}
NETWORKS = ("lenet5", "resnet20")

# One child measurement: the chapters' networks as benchmarks/throughput.py trains them (fit, fp32
# NCHW, so the policy is all that differs), one warm-up epoch, then images/s over one timed epoch.
CHILD = """
import json, sys, time
import torch  # first, so that importing cnnlit cannot choose the policy for the default setting
sys.path.insert(0, {root!r}); sys.path.insert(0, {benchmarks!r})
import throughput as t
name, count = {name!r}, {count}
case = t.CASES[name]
data = t.prepared(case, "train", count)
model, _ = t._fresh(case)
t.fit_epoch(model, data.subset(2 * case.batch_size), case.optimizer(model), case, amp=False,
            channels_last=False)
tick = time.perf_counter()
t.fit_epoch(model, data, case.optimizer(model), case, amp=False, channels_last=False)
print(json.dumps(count / (time.perf_counter() - tick)))
"""


def measure(name: str, count: int, extra: dict) -> float:
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",
                                                                    "GOMP_SPINCOUNT")}
    environment.update(extra)
    code = CHILD.format(root=str(ROOT), benchmarks=str(ROOT / "benchmarks"), name=name, count=count)
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                            text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def table(rounds: int, counts: dict, competitors: list) -> list:
    rows = []
    for busy in competitors:
        stop = multiprocessing.Event()
        workers = [multiprocessing.Process(target=_spin, args=(stop,),
                                           daemon=True) for _ in range(busy)]
        for worker in workers:
            worker.start()
        try:
            for name in NETWORKS:
                speeds = {label: [] for label in SETTINGS}
                for round_index in range(rounds):
                    order = list(SETTINGS) if round_index % 2 == 0 else list(SETTINGS)[::-1]
                    for label in order:
                        # fewer images under heavy load, where a collapsed setting runs 10-20x
                        # slower
                        count = counts[name] if busy <= (os.cpu_count() or 1) else counts[name] // 4
                        speeds[label].append(measure(name, count, SETTINGS[label]))
                row = {"network": name, "competitors": busy,
                       **{label: statistics.median(v) for label, v in speeds.items()},
                       "load": " / ".join(f"{x:.1f}" for x in os.getloadavg())}
                rows.append(row)
                print(
                    f"  {name:9s} {busy} busy: "
                    + " | ".join(f"{label} {row[label]:,.0f}/s" for label in SETTINGS),
                    flush=True,
                )
        finally:
            stop.set()
            for worker in workers:
                worker.join()
    return rows


def markdown(rows: list) -> str:
    head = (
        "| network | busy competitors | "
        + " | ".join(f"{label}, images/s" for label in SETTINGS)
        + " | load after |"
    )
    lines = [head, "|" + "---|" * (len(SETTINGS) + 3)]
    for row in rows:
        lines.append(
            f"| {row['network']} | {row['competitors']} | "
            + " | ".join(f"{row[label]:,.0f}" for label in SETTINGS)
            + f" | {row['load']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--competitors", default=f"0,{os.cpu_count() or 1}",
                        help="comma-separated numbers of busy competitor processes to measure with")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M")
    before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    competitors = [int(n) for n in args.competitors.split(",")]
    rows = table(args.rounds, {"lenet5": 4000, "resnet20": 1280}, competitors)
    text = (f"Measured {started} by `python benchmarks/wait_policy.py` ({os.cpu_count()} CPUs, "
            f"torch's default "
            f"threads, `fit` in fp32 NCHW, median of {args.rounds} rounds; load average at the "
            f"start {before}).\n\n"
            + markdown(rows))
    print(text)
    if args.write:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from throughput import write_section
        write_section("wait-policy", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
