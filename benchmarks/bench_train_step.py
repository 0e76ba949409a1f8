"""Train-step throughput: nnlib against plain JAX, Flax+optax and PyTorch eager.

Workloads (random data, since only speed is measured; softmax cross-entropy on integer labels,
Adam with learning rate 1e-3):

- ``mlp32`` / ``mlp256``: MNIST MLP 784-128-10 with ReLU, batch 32 / 256;
- ``cnn64``: 28x28x1 -> conv3x3(32)-ReLU-maxpool2-conv3x3(64)-ReLU-maxpool2-flatten-dense(10)
  ("valid" convolutions, as Keras's default), batch 64.

Contenders:

- ``nnlib step``: ``nnlib.train.make_train_step`` (jitted), called once per step;
- ``nnlib fit-scan``: the jitted epoch that ``nnlib.train.fit`` runs (one ``lax.scan`` over the
  steps of an epoch), time per step;
- ``plain JAX``: hand-written params, ``jax.grad``, an optax-free Adam, ``jax.jit`` per step
  (the baseline: ratios are time / plain-JAX time, so > 1 is slower);
- ``Flax+optax``: ``flax.linen`` modules, ``optax.adam``, ``jax.jit`` per step (if installed);
- ``PyTorch eager``: ``torch.nn`` + ``torch.optim.Adam``, no compilation (if installed).

Every contender is compiled and warmed up first; then, over several rounds, the contenders run
one after the other (the order rotates each round), so that a slow patch of a shared machine
hits them all. Per-step contenders run ``--steps`` steps per round on pre-made device batches
(data loading is not measured) and block on the result once at the end of the round. The
table reports the median over rounds.

Usage::

    python benchmarks/bench_train_step.py --quick                 # smoke test (seconds)
    python benchmarks/bench_train_step.py --rounds 5 --steps 50 --out results.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from nnlib import optim, train  # noqa: E402
from nnlib.layers import Conv2D, Dense, Flatten, MaxPool2D, Sequential  # noqa: E402
from nnlib.train import loop as _loop  # noqa: E402
from nnlib.train import step as _step  # noqa: E402

LR = 1e-3
WORKLOADS = {"mlp32": ("mlp", 32), "mlp256": ("mlp", 256), "cnn64": ("cnn", 64)}
N_BATCHES = 4  # distinct pre-made batches cycled by the per-step contenders


def _device_batches(a: np.ndarray) -> list:
    """The batches ``a[0], a[1], ...`` as separate device arrays, made before timing (indexing
    a device array inside the timed loop would dispatch one more op per step)."""
    return [jax.device_put(b) for b in a]


def _data(kind: str, batch: int, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (n, batch, 784) if kind == "mlp" else (n, batch, 28, 28, 1)
    return rng.normal(size=shape).astype(np.float32), rng.integers(0, 10, (n, batch)).astype(np.int32)


# ---------------------------------------------------------------------------- nnlib


def _nnlib_model(kind: str) -> Sequential:
    if kind == "mlp":
        return Sequential([Dense(128, activation="relu"), Dense(10, activation="softmax")])
    return Sequential([Conv2D(32, 3, activation="relu"), MaxPool2D(2),
                       Conv2D(64, 3, activation="relu"), MaxPool2D(2), Flatten(),
                       Dense(10, activation="softmax")])


def nnlib_step(kind, xs, ys):
    model = _nnlib_model(kind)
    params, _ = model.init(jax.random.key(0), xs.shape[2:])
    tx = optim.adam(LR)
    step = train.make_train_step(model, "sparse_categorical_crossentropy", tx)
    carry = [params, tx.init(params), model.init_state(xs.shape[2:])]
    xs, ys, key = _device_batches(xs), _device_batches(ys), jax.random.key(1)

    def run(n_steps):
        p, o, s = carry
        for i in range(n_steps):
            p, o, s, loss = step(p, o, s, xs[i % N_BATCHES], ys[i % N_BATCHES], key)
        loss.block_until_ready()
        carry[:] = [p, o, s]
    return run


def nnlib_scan(kind, xs, ys, n_steps):
    """The jitted epoch of ``nnlib.train.fit`` over ``n_steps`` full batches."""
    model = _nnlib_model(kind)
    in_shape = xs.shape[2:]
    params, _ = model.init(jax.random.key(0), in_shape)
    tx = optim.adam(LR)
    batch = xs.shape[1]
    reps = -(-n_steps // N_BATCHES)
    x = jnp.asarray(np.concatenate([xs.reshape(-1, *in_shape)] * reps)[: n_steps * batch])
    y = jnp.asarray(np.concatenate([ys.reshape(-1)] * reps)[: n_steps * batch])
    step = _step.build_step(model, "sparse_categorical_crossentropy", tx)
    epoch = _loop.make_epoch(step, n_steps * batch, batch)
    carry = [params, tx.init(params), model.init_state(in_shape)]
    key, index = jax.random.key(2), jnp.int32(0)  # made once, as fit does

    def run(_):
        p, o, s, losses, _m = epoch(*carry, x, y, key, index)
        losses.block_until_ready()
        carry[:] = [p, o, s]
    return run


# ---------------------------------------------------------------------------- plain JAX


def _glorot(key, shape):
    fan_in = int(np.prod(shape[:-1]))
    fan_out = shape[-1] * (int(np.prod(shape[:-2])) if len(shape) > 2 else 1)
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _plain_params(kind):
    k = jax.random.split(jax.random.key(0), 3)
    if kind == "mlp":
        return {"W1": _glorot(k[0], (784, 128)), "b1": jnp.zeros(128),
                "W2": _glorot(k[1], (128, 10)), "b2": jnp.zeros(10)}
    return {"K1": _glorot(k[0], (3, 3, 1, 32)), "c1": jnp.zeros(32),
            "K2": _glorot(k[1], (3, 3, 32, 64)), "c2": jnp.zeros(64),
            "W": _glorot(k[2], (1600, 10)), "b": jnp.zeros(10)}


def _pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _conv(x, k, b):
    dn = ("NHWC", "HWIO", "NHWC")
    return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=dn) + b


def _plain_logits(kind, p, x):
    if kind == "mlp":
        return jax.nn.relu(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    h = _pool(jax.nn.relu(_conv(x, p["K1"], p["c1"])))
    h = _pool(jax.nn.relu(_conv(h, p["K2"], p["c2"])))
    return h.reshape(h.shape[0], -1) @ p["W"] + p["b"]


def plain_jax(kind, xs, ys):
    params = _plain_params(kind)

    def loss_fn(p, x, y):
        logp = jax.nn.log_softmax(_plain_logits(kind, p, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, m, v, t, x, y):  # Adam (Kingma & Ba 2015), written out
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        t = t + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        p = jax.tree.map(lambda p, m, v: p - LR * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), p, m, v)
        return p, m, v, t, loss

    zeros = jax.tree.map(jnp.zeros_like, params)
    carry = [params, zeros, zeros, jnp.zeros((), jnp.float32)]
    xs, ys = _device_batches(xs), _device_batches(ys)

    def run(n_steps):
        p, m, v, t = carry
        for i in range(n_steps):
            p, m, v, t, loss = step(p, m, v, t, xs[i % N_BATCHES], ys[i % N_BATCHES])
        loss.block_until_ready()
        carry[:] = [p, m, v, t]
    return run


# ---------------------------------------------------------------------------- Flax + optax


def flax_optax(kind, xs, ys):
    import flax.linen as nn
    import optax

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(10)(nn.relu(nn.Dense(128)(x)))

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            for f in (32, 64):
                x = nn.max_pool(nn.relu(nn.Conv(f, (3, 3), padding="VALID")(x)), (2, 2), (2, 2))
            return nn.Dense(10)(x.reshape(x.shape[0], -1))

    net = MLP() if kind == "mlp" else CNN()
    params = net.init(jax.random.key(0), jnp.asarray(xs[0]))
    tx = optax.adam(LR)

    @jax.jit
    def step(p, o, x, y):
        def loss_fn(p):
            logits = net.apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        loss, g = jax.value_and_grad(loss_fn)(p)
        updates, o = tx.update(g, o, p)
        return optax.apply_updates(p, updates), o, loss

    carry = [params, tx.init(params)]
    xs, ys = _device_batches(xs), _device_batches(ys)

    def run(n_steps):
        p, o = carry
        for i in range(n_steps):
            p, o, loss = step(p, o, xs[i % N_BATCHES], ys[i % N_BATCHES])
        loss.block_until_ready()
        carry[:] = [p, o]
    return run


# ---------------------------------------------------------------------------- PyTorch eager


def torch_eager(kind, xs, ys):
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    if kind == "mlp":
        net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        xt = torch.from_numpy(xs)
    else:
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(1600, 10))
        xt = torch.from_numpy(np.ascontiguousarray(xs.transpose(0, 1, 4, 2, 3)))  # NCHW
    yt = torch.from_numpy(ys.astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    def run(n_steps):
        for i in range(n_steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[i % N_BATCHES]), yt[i % N_BATCHES])
            loss.backward()
            opt.step()
        loss.item()
    return run


# ---------------------------------------------------------------------------- driver


def _contenders(kind, xs, ys, steps, notes):
    out = {"nnlib step": nnlib_step(kind, xs, ys),
           "nnlib fit-scan": nnlib_scan(kind, xs, ys, steps),
           "plain JAX": plain_jax(kind, xs, ys)}
    for name, make, module in (("Flax+optax", flax_optax, "flax"),
                               ("PyTorch eager", torch_eager, "torch")):
        try:
            __import__(module)
        except ImportError:
            notes.add(f"{name} skipped: `{module}` is not installed.")
            continue
        out[name] = make(kind, xs, ys)
    return out


def bench(workload: str, steps: int, rounds: int, notes: set) -> dict[str, float]:
    """Median seconds per step of each contender on ``workload``."""
    kind, batch = WORKLOADS[workload]
    xs, ys = _data(kind, batch, N_BATCHES)
    runs = _contenders(kind, xs, ys, steps, notes)
    for run in runs.values():  # compile and warm up
        run(min(steps, 3))
        run(min(steps, 3))
    return _rotate(runs, steps, rounds)


def _rotate(runs: dict, steps: int, rounds: int) -> dict[str, float]:
    """Runs every ``run(steps)`` once per round, the order rotated each round; the median
    seconds per step of each."""
    names = list(runs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            runs[name](steps)
            times[name].append((time.perf_counter() - t0) / steps)
    return {n: statistics.median(t) for n, t in times.items()}


# ---------------------------------------------------------------------------- work and peak


def step_flops(workload: str) -> float:
    """Floating-point operations of one training step, by the usual convention: three times
    the forward pass's matrix products (forward, ``dW`` and ``dx``), ``2 * m * k * n`` each
    (so ``6 * batch * weights`` for an MLP). Elementwise work, pooling and the optimizer are not
    counted; the first layer's ``dx``, which no one computes, is (as in ``6 * B * P``)."""
    kind, batch = WORKLOADS[workload]
    if kind == "mlp":
        forward = 2 * batch * (784 * 128 + 128 * 10)
    else:  # conv 3x3 1->32 on 26x26 outputs, conv 3x3 32->64 on 11x11, dense 1600->10
        forward = 2 * batch * (26 * 26 * 9 * 1 * 32 + 11 * 11 * 9 * 32 * 64 + 1600 * 10)
    return 3.0 * forward


def matmul_peak(rounds: int, quick: bool = False) -> dict[str, float]:
    """Measured float32 matrix-product speed (GFLOP/s) of ``jnp.dot`` under ``jax.jit`` on the
    default device, in the best of several rounds: square ``n x n`` products (the best of them
    is the machine's matmul peak for this table) and the MLP's own first-layer shape
    ``256x784 @ 784x128``."""
    shapes = {"1024²": (1024, 1024, 1024), "2048²": (2048, 2048, 2048),
              "256x784 @ 784x128": (256, 784, 128)}
    if quick:
        shapes.pop("2048²")
    rng = np.random.default_rng(0)
    out = {}
    for name, (m, k, n) in shapes.items():
        a = jax.device_put(rng.normal(size=(m, k)).astype(np.float32))
        b = jax.device_put(rng.normal(size=(k, n)).astype(np.float32))
        f = jax.jit(jnp.dot)
        f(a, b).block_until_ready()
        reps = max(1, int(2e9 // (2 * m * k * n)))  # about 2 GFLOP per round

        def run(_, f=f, a=a, b=b, reps=reps):
            for _ in range(reps):
                c = f(a, b)
            c.block_until_ready()
        times = []
        for _ in range(max(3, rounds)):  # a peak: the best round, not the median
            t0 = time.perf_counter()
            run(None)
            times.append((time.perf_counter() - t0) / reps)
        out[name] = 2 * m * k * n / min(times) / 1e9
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [f"jax {jax.__version__} ({jax.default_backend()})", f"numpy {np.__version__}"]
    for module in ("flax", "optax", "torch"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            pass
    threads = ""
    try:
        import torch
        threads = f", torch threads {torch.get_num_threads()}"
    except ImportError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical cores{threads}; Python "
            f"{platform.python_version()}; " + ", ".join(versions))


def table(results: dict[str, dict[str, float]], peak: float) -> str:
    header = ("| workload | contender | median ms/step | steps/s | GFLOP/s | % of matmul peak "
              "| time vs plain JAX | speed vs PyTorch |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for workload, res in results.items():
        base, torch_sec = res["plain JAX"], res.get("PyTorch eager")
        flops = step_flops(workload)
        for name, sec in res.items():
            gflops = flops / sec / 1e9
            vs_torch = f"{torch_sec / sec:.2f}x" if torch_sec else "-"
            lines.append(f"| {workload} | {name} | {1e3 * sec:.3f} | {1 / sec:,.0f} | "
                         f"{gflops:.0f} | {100 * gflops / peak:.0f}% | {sec / base:.2f}x | "
                         f"{vs_torch} |")
    return "\n".join(lines)


# The issue's targets, for nnlib's training path (``fit``'s scanned epoch): name, workload,
# the measured value, the bar, and how the value is shown.
def targets(results: dict[str, dict[str, float]], peak: float) -> list[str]:
    out = []

    def vs_torch(w):
        r = results.get(w, {})
        return r["PyTorch eager"] / r["nnlib fit-scan"] if "PyTorch eager" in r else None

    for w, bar, what in (("cnn64", 1.0, "CNN step at least as fast as PyTorch eager"),
                         ("mlp32", 3.0, "MLP batch 32 at least 3x PyTorch eager")):
        v = vs_torch(w)
        if v is not None:
            out.append(f"{what}: {v:.2f}x, {'met' if v >= bar else 'NOT met'}")
    if "mlp256" in results:
        frac = step_flops("mlp256") / results["mlp256"]["nnlib fit-scan"] / 1e9 / peak
        out.append(f"MLP batch 256 at least 75% of the matmul peak: {100 * frac:.0f}%, "
                   f"{'met' if frac >= 0.75 else 'NOT met'}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps and rounds (smoke test)")
    parser.add_argument("--steps", type=int, default=50, help="steps per round (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {', '.join(WORKLOADS)}")
    parser.add_argument("--out", help="also write the markdown report to this file")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads(N) (default: PyTorch's own choice)")
    args = parser.parse_args(argv)
    if args.torch_threads is not None:
        try:
            import torch
            torch.set_num_threads(args.torch_threads)
        except ImportError:
            pass
    steps, rounds = (4, 2) if args.quick else (args.steps, args.rounds)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or steps < 1 or rounds < 1:
        parser.error(f"unknown workloads {unknown}" if unknown else "--steps/--rounds must be >= 1")
    notes: set[str] = set()
    before = matmul_peak(rounds, quick=args.quick)
    print("matmul measured", file=sys.stderr)
    results = {}
    for w in workloads:
        results[w] = bench(w, steps, rounds, notes)
        print(f"{w} done", file=sys.stderr)
    after = matmul_peak(rounds, quick=args.quick)  # the machine's speed drifts: both ends
    peaks = {k: max(before[k], after[k]) for k in before}
    peak = max(v for k, v in peaks.items() if "²" in k)
    peak_line = ", ".join(f"{k}: {v:.0f}" for k, v in peaks.items())
    report = "\n".join([
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {machine()}  ",
        (f"Command: `python benchmarks/{Path(__file__).name} "
         f"{' '.join(argv if argv is not None else sys.argv[1:])}` "
         f"({steps} steps x {rounds} rounds, medians)  "),
        (f"float32 matmul, GFLOP/s (jit(jnp.dot), best round, before and after the "
         f"workloads): {peak_line}; peak = {peak:.0f}"),
        "", table(results, peak), "",
        "Targets (nnlib fit-scan):", *(f"- {t}" for t in targets(results, peak)),
        "", *sorted(f"- {n}" for n in notes)]).rstrip() + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
