"""Does the CPU fast path change what the chapters teach? Final test error, fp32 vs fast path, 3
seeds each.

    python benchmarks/fastpath_accuracy.py         # LeNet-5 (chapter 01), ResNet-20 (chapter 07)
    python benchmarks/fastpath_accuracy.py --seeds 0,1,2,3,4 --networks resnet20 --write

Each network is trained as its chapter trains it in the ``cpu`` profile (same data, sizes, recipe),
once per seed in each mode: **fp32** (``fit(..., amp=False, channels_last=False)``) and **fast
path** (``fit``'s defaults, ``cnnlit.fastpath.plan``). Where the fast path leaves a network in fp32
(LeNet-5), bfloat16 is also forced (``amp=True, channels_last=True``) to show what it would have
done. The verdict: is the fast path's mean test error inside the range fp32 spans across the seeds?
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from throughput import load_average, machine_line, markdown, write_section  # noqa: E402
from torch import nn  # noqa: E402

import cnnlit  # noqa: E402  (before torch: it sets OpenMP's wait policy, as the chapters' setup cell does)
from cnnlit import fastpath  # noqa: E402
from cnnlit.models import get_model  # noqa: E402
from cnnlit.models.lenet import MAPCriterion, paper_distortions, paper_input  # noqa: E402
from cnnlit.train import evaluate, fit  # noqa: E402

PROFILE = cnnlit.profile("cpu")
MODES = {"fp32": {"amp": False, "channels_last": False}, "fast path": {}}
FORCED_BF16 = {"amp": True, "channels_last": True}


def lenet5_run(seed: int, switches: dict) -> tuple:
    """Chapter 01, cpu profile: LeNet-5 on MNIST, 20 epochs, eq. 9 criterion, distortions, cosine.
    """
    train = cnnlit.data.load("mnist", "train", subset=PROFILE.train_size,
                             verbose=False).map(paper_input)
    test = cnnlit.data.load("mnist", "test", subset=PROFILE.test_size,
                            verbose=False).map(paper_input)
    epochs, criterion = 20, MAPCriterion(j=10, temperature=8)
    cnnlit.seed_everything(seed)
    model = get_model("lenet5")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    history = fit(model, train, epochs, optimizer=optimizer, scheduler=schedule, loss_fn=criterion,
                  batch_size=64,
                  augment=paper_distortions(shift=2, scale=0.1, shear=0.15), device="cpu",
                  progress=False,
                  **switches)
    step = fastpath.plan(model, "cpu", **switches)
    return evaluate(model, test, loss_fn=criterion).error, history.total_seconds, step, train


def resnet20_run(seed: int, switches: dict) -> tuple:
    """Chapter 07, cpu profile: ResNet-20 on Fashion-MNIST shrunk to 14x14, 8 epochs, He et al.'s
    SGD.
    """
    train = cnnlit.data.load_first_available(["cifar10", "fashion-mnist"], "train",
                                             subset=PROFILE.train_size,
                                             verbose=False)
    test = cnnlit.data.load_first_available(["cifar10", "fashion-mnist"], "test",
                                            subset=PROFILE.test_size,
                                            verbose=False)
    shrink = lambda x: nn.functional.interpolate(x, size=(14, 14), mode="bilinear", antialias=True)  # noqa: E731
    train, test = train.map(shrink), test.map(shrink)
    epochs = 8
    cnnlit.seed_everything(seed)
    model = get_model("resnet20", in_channels=train.images.shape[1])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [epochs // 2, 3 * epochs // 4],
                                                    gamma=0.1)
    history = fit(model, train, epochs, optimizer=optimizer, scheduler=schedule,
                  batch_size=PROFILE.batch_size,
                  device="cpu", progress=False, **switches)
    step = fastpath.plan(model, "cpu", **switches)
    return evaluate(model, test).error, history.total_seconds, step, train


NETWORKS = {"lenet5": ("LeNet-5, chapter 01", lenet5_run, lambda: get_model("lenet5")),
            "resnet20": ("ResNet-20, chapter 07", resnet20_run,
                         lambda: get_model("resnet20", in_channels=1))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="lenet5,resnet20")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's); 1 on a CPU shared with "
                             "other jobs")
    parser.add_argument("--write", action="store_true",
                        help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    bad = [n for n in names if n not in NETWORKS]
    if bad or len(seeds) < 2:
        parser.error(f"networks from {', '.join(NETWORKS)} (got {bad}) and at least 2 seeds")
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"{started} | {machine_line()} | load average {load_average()}", flush=True)
    start_load, rows = load_average(), []
    for name in names:
        title, run, build = NETWORKS[name]
        modes = dict(MODES)
        default_step = fastpath.plan(build(), "cpu")
        # the fast path is fp32 here: show bf16 anyway
        if default_step.autocast_dtype is None:
            modes["bf16 forced"] = FORCED_BF16
        print(f"{title}: the fast path here is {default_step}", flush=True)
        for seed in seeds:
            for mode, switches in modes.items():
                error, seconds, step, train = run(seed, switches)
                rows.append(dict(network=name, mode=mode, seed=seed, error=error, seconds=seconds,
                                 plan=str(step).split(" (")[0],
                                 data=f"{train.name} ({len(train):,} training images)"))
                print(f"  {name} seed {seed} {mode}: test error {error:.2%}, {seconds:.0f} s "
                      f"training [{rows[-1]['plan']}] load {load_average()}", flush=True)

    summary = []
    for name in names:
        fp32 = [r["error"] for r in rows if r["network"] == name and r["mode"] == "fp32"]
        low, high = min(fp32), max(fp32)
        for mode in ("fp32", "fast path", "bf16 forced"):
            mine = [r for r in rows if r["network"] == name and r["mode"] == mode]
            if not mine:
                continue
            errors = [r["error"] for r in mine]
            mean = statistics.mean(errors)
            summary.append({
                "network": NETWORKS[name][0], "mode": mode, "runs as": mine[0]["plan"],
                "test error per seed": ", ".join(f"{e:.2%}" for e in errors),
                "mean ± sd": f"{mean:.2%} ± {statistics.stdev(errors):.2%}",
                "training s (mean)": f"{statistics.mean(r['seconds'] for r in mine):.0f}",
                "mean inside fp32's range?": "—" if mode == "fp32" else
                ("yes" if low <= mean <= high else f"no ({low:.2%}–{high:.2%})")})
    data = "; ".join(sorted({f"{r['network']}: {r['data']}" for r in rows if "data" in r}))
    command = " ".join(argv if argv is not None else sys.argv[1:])
    text = (f"Measured {started} by `python benchmarks/fastpath_accuracy.py {command}` "
            f"({machine_line()}); {data}. Load average at the start {start_load}.\n\n"
            + markdown(summary, ["network", "mode", "runs as", "test error per seed", "mean ± sd",
                                 "training s (mean)", "mean inside fp32's range?"])
            + f"\n\nLoad average at the end: {load_average()}.")
    print("\n" + text)
    if args.write:
        write_section("fastpath-accuracy", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
