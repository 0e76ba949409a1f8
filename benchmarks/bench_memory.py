"""Resident memory of ``nnlib.train.fit``, epoch by epoch: does training hold steady or grow?

Workloads, each in a fresh interpreter of its own so that their peaks do not mix:

- ``mlp-digits``: scikit-learn's 8x8 digits (``nnlib.data.load_digits``, 1797 x 64), an MLP
  64-128-10 (ReLU, softmax), Adam 1e-3, batch 32, 20 % held out for validation, accuracy;
- ``cnn-28x28``: 4096 random 28x28x1 images with random labels (only memory is measured),
  conv3x3(32)-ReLU-maxpool2-conv3x3(64)-ReLU-maxpool2-flatten-dense(10) (softmax), Adam 1e-3,
  batch 64 (the CNN of ``bench_train_step.py``).

Each child reads its ``VmRSS`` (resident now) and ``VmHWM`` (resident high-water mark) from
``/proc/self/status``: after its imports (the baseline; scikit-learn's included for the
digits), with data and parameters ready (this includes starting JAX's CPU runtime), and after
every epoch through a ``fit`` callback; at the end ``getrusage``'s peak. The table gives the
baseline, the first epoch (which compiles), the minimum and maximum of the later epochs, the
peak, and the slope of RSS over epochs 2..N in KiB per epoch, by least squares and as the
*ceiling slope* (:func:`ceiling_slope_kib_per_epoch`): both near zero when nothing
accumulates from one epoch to the next. The CNN's RSS dips by 10-50 MiB at some epochs, when
freed buffers go back to the system; over 30 epochs that moves a least-squares slope by
hundreds of KiB/epoch (and, measured, a median-of-pairs slope by over 100), but not the
highest values. A text curve of RSS per epoch follows. JAX's compilation cache is off in the
children (``NNLIB_COMPILE_CACHE=0``), so that the first epoch always pays the same compile.

Exit status 1 when a workload's ceiling slope is above ``--max-slope`` (default 64 KiB/epoch:
a leak of one batch's activations per epoch, 64 x 26 x 26 x 32 floats = 5.3 MiB, would be far
above it; without a leak it measured at most 15) over at least ``MIN_EPOCHS_FOR_CHECK`` later
epochs; a ``--quick`` run (a few epochs on small data, a smoke test) is never judged.

Usage::

    python benchmarks/bench_memory.py                  # both workloads, 30 epochs
    python benchmarks/bench_memory.py --quick          # smoke test (seconds)
    python benchmarks/bench_memory.py --epochs 50 --plot memory.png
    python benchmarks/bench_memory.py --workloads mlp-digits --epochs 21 --simulate-leak 1024  # exit 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("mlp-digits", "cnn-28x28")
MIN_EPOCHS_FOR_CHECK = 20  # the MLP settles in its first ~15 epochs (measured: up to 73 at 12)
SPARK = " ▁▂▃▄▅▆▇█"
KiB_PER_MiB = 1024


def status_kib() -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of this process, in KiB, from ``/proc/self/status``."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])  # "123456 kB"
    return out


# ------------------------------------------------------------------- the child process
def worker(name: str, epochs: int, quick: bool, leak_kib: int = 0) -> dict:
    """Runs one workload in this process; returns its memory samples (KiB) and timings.

    ``leak_kib`` > 0 keeps that many KiB more after every epoch, written so that they are
    resident: a leak on purpose, to check that the slope check catches one."""
    import jax
    import numpy as np

    from nnlib import data, optim, train
    from nnlib.layers import Conv2D, Dense, Flatten, MaxPool2D, Sequential

    if name == "mlp-digits":
        import sklearn.datasets  # noqa: F401 - load_digits's import, counted in the baseline
    samples = {"baseline": status_kib()}
    if name == "mlp-digits":
        x, y = data.load_digits()
        if quick:
            x, y = x[:256], y[:256]
        model = Sequential([Dense(128, activation="relu"), Dense(10, activation="softmax")])
        batch, extra = 32, {"validation_split": 0.2, "metrics": ["accuracy"]}
    elif name == "cnn-28x28":
        rng = np.random.default_rng(0)
        n = 256 if quick else 4096
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int32)
        model = Sequential([Conv2D(32, 3, activation="relu"), MaxPool2D(2),
                            Conv2D(64, 3, activation="relu"), MaxPool2D(2),
                            Flatten(), Dense(10, activation="softmax")])
        batch, extra = 64, {}
    else:
        raise ValueError(f"unknown workload {name!r}; valid names are: {', '.join(WORKLOADS)}")
    params, _ = model.init(jax.random.key(0), x.shape[1:])
    samples["ready"] = status_kib()

    epochs_kib: list[dict[str, int]] = []
    times: list[float] = []
    leaked: list[bytearray] = []
    start = time.perf_counter()

    def record(epoch, logs):
        if leak_kib:
            leaked.append(bytearray(b"\x01") * (leak_kib * 1024))
        epochs_kib.append(status_kib())
        times.append(time.perf_counter() - start)

    train.fit(model, params, x, y, loss="sparse_categorical_crossentropy",
              optimizer=optim.adam(1e-3), epochs=epochs, batch_size=batch,
              key=jax.random.key(1), progress=False, callbacks=[record], **extra)
    return {"name": name, "examples": len(x), "batch": batch, "epochs": epochs_kib,
            "seconds": times, **samples,
            "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def run_child(name: str, epochs: int, quick: bool, leak_kib: int = 0) -> dict:
    """Runs :func:`worker` for ``name`` in a fresh interpreter; returns its samples."""
    env = {**os.environ, "NNLIB_COMPILE_CACHE": "0", "JAX_PLATFORMS":
           os.environ.get("JAX_PLATFORMS", "cpu"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, __file__, "--worker", name, "--epochs", str(epochs),
           "--simulate-leak", str(leak_kib)]
    out = subprocess.run(cmd + (["--quick"] if quick else []), env=env, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"workload {name} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------- the report
def slope_kib_per_epoch(rss: list[int]) -> float | None:
    """Least-squares slope of RSS (KiB) over epochs 2..N; None with fewer than two of them."""
    ys = rss[1:]
    if len(ys) < 2:
        return None
    xs = range(len(ys))
    mx, my = (len(ys) - 1) / 2, sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def ceiling_slope_kib_per_epoch(rss: list[int]) -> float | None:
    """How fast the ceiling of RSS (KiB) rises over epochs 2..N: the highest value of the
    second half minus the highest of the first half, per epoch between them (exactly the
    slope for a steady leak). Dips, when freed buffers go back to the system, do not move it;
    None with fewer than four epochs."""
    ys = rss[1:]
    if len(ys) < 4:
        return None
    half = len(ys) // 2
    return (max(ys[half:]) - max(ys[:half])) / (len(ys) - half)


def summarize(r: dict) -> dict:
    """The table's numbers for one workload's samples (MiB, and KiB/epoch for the slope)."""
    rss = [e["VmRSS"] for e in r["epochs"]]
    later = rss[1:] or rss
    def mib(kib: float) -> float:
        return kib / KiB_PER_MiB

    return {
        "baseline": mib(r["baseline"]["VmRSS"]), "ready": mib(r["ready"]["VmRSS"]),
        "epoch1": mib(rss[0]), "later_min": mib(min(later)), "later_max": mib(max(later)),
        "peak": mib(max(r["epochs"][-1]["VmHWM"], r["ru_maxrss"])),
        "growth": mib(max(later) - r["baseline"]["VmRSS"]),
        "slope": slope_kib_per_epoch(rss), "ceiling_slope": ceiling_slope_kib_per_epoch(rss),
        "s_per_epoch": (r["seconds"][-1] - r["seconds"][0]) / max(len(rss) - 1, 1),
    }


def sparkline(values: list[float], low: float, high: float, width: int = 60) -> str:
    """One character per value (per group of values, each its group's maximum, beyond
    ``width``), from ``low`` (blank) to ``high`` (full block)."""
    if len(values) > width:
        edges = [round(i * len(values) / width) for i in range(width + 1)]
        values = [max(values[a:b]) for a, b in itertools.pairwise(edges)]
    span = max(high - low, 1e-9)
    return "".join(SPARK[round((min(max(v, low), high) - low) / span * (len(SPARK) - 1))]
                   for v in values)


def plot(results: list[dict], path: Path) -> None:
    """RSS per epoch of every workload, with its baseline dashed, saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        rss = [e["VmRSS"] / KiB_PER_MiB for e in r["epochs"]]
        line, = ax.plot(range(1, len(rss) + 1), rss, marker=".", label=r["name"])
        ax.axhline(r["baseline"]["VmRSS"] / KiB_PER_MiB, color=line.get_color(), ls="--", lw=0.8)
    ax.set(xlabel="epoch", ylabel="resident memory (MiB)",
           title="nnlib.train.fit: RSS after each epoch (dashed: after imports)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default 30 (3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke test: small data, 3 epochs")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--max-slope", type=float, default=64.0, metavar="KIB",
                        help="exit 1 above this RSS slope, KiB/epoch (default 64)")
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write every sample (KiB) to PATH")
    parser.add_argument("--simulate-leak", type=int, default=0, metavar="KIB",
                        help="keep KIB more KiB after every epoch (checks the slope check)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 30)
    if epochs < 2:
        parser.error("--epochs must be at least 2 (the first one compiles)")
    if args.worker:
        print(json.dumps(worker(args.worker, epochs, args.quick, args.simulate_leak)))
        return 0

    results = [run_child(name, epochs, args.quick, args.simulate_leak) for name in args.workloads]
    print(f"{os.cpu_count()} cores, {epochs} epochs{' (quick)' if args.quick else ''}; "
          "MiB unless said; later = epochs 2..N")
    print("| workload | examples | batch | baseline | data+params | epoch 1 | later min | "
          "later max | peak (HWM) | growth | slope KiB/epoch | ceiling slope | s/epoch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    failed = []
    for r in results:
        s = summarize(r)
        slope, ceiling = ("n/a" if s[k] is None else f"{s[k]:+.1f}"
                          for k in ("slope", "ceiling_slope"))
        print(f"| {r['name']} | {r['examples']} | {r['batch']} | {s['baseline']:.1f} | "
              f"{s['ready']:.1f} | {s['epoch1']:.1f} | {s['later_min']:.1f} | "
              f"{s['later_max']:.1f} | {s['peak']:.1f} | {s['growth']:+.1f} | {slope} | "
              f"{ceiling} | {s['s_per_epoch']:.3f} |")
        if (not args.quick and len(r["epochs"]) - 1 >= MIN_EPOCHS_FOR_CHECK
                and s["ceiling_slope"] is not None and s["ceiling_slope"] > args.max_slope):
            failed.append(r["name"])
    print("\nRSS after each epoch (a character per epoch, or per group of epochs beyond 60; "
          "blank = with data and params ready, full = the workload's maximum):")
    for r in results:
        s = summarize(r)
        rss = [e["VmRSS"] / KiB_PER_MiB for e in r["epochs"]]
        print(f"  {r['name']:>10} {s['ready']:7.1f} |{sparkline(rss, s['ready'], max(rss))}| "
              f"{max(rss):.1f} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.plot:
        plot(results, args.plot)
        print(f"\nplot: {args.plot}")
    if args.quick or epochs - 1 < MIN_EPOCHS_FOR_CHECK:
        print(f"\nslope check: not judged (--quick, or fewer than {MIN_EPOCHS_FOR_CHECK} "
              "later epochs)")
    elif failed:
        print(f"\nslope check: FAILED for {', '.join(failed)} (ceiling slope above "
              f"{args.max_slope:g} KiB/epoch)")
    else:
        print(f"\nslope check: every ceiling slope at most {args.max_slope:g} KiB/epoch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
