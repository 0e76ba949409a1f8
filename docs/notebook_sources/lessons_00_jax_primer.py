"""Cells of lesson 00, the JAX primer (built by ``docs/notebook_sources/lessons_build.py``)."""

from lessons_build import code, md

CELLS = [
    md(r"""
# 00 · A JAX primer

Every later lesson writes its maths as small JAX functions and lets JAX differentiate,
compile and vectorise them. This lesson covers just enough JAX for that, one idea per section.

**After this lesson you will be able to**

- create JAX arrays and "modify" them the JAX way (`x.at[i].set(v)`), knowing why they are immutable;
- differentiate a Python function with `jax.grad` and `jax.value_and_grad`;
- compile a function with `jax.jit`, and explain why its first call is slower than the rest;
- turn a one-example function into a batched one with `jax.vmap`;
- store parameters as a *pytree* (nested dicts/lists of arrays) and update all of them with `jax.tree.map`;
- draw random numbers with explicit keys, split keys, and spot the bug of reusing one;
- tell which device (CPU or GPU) runs your code, and when you need `float64`.

**Assumed:** Python and basic NumPy (arrays, shapes, broadcasting), and the derivative of a
function of one variable. No JAX experience needed.

Each section ends with a short **Try it**; the answers hide behind a click.
"""),
    code(r"""
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

print("JAX", jax.__version__)
"""),
    md(r"""
## 1. Arrays: like NumPy, but immutable

`jax.numpy` (imported as `jnp`) mirrors the NumPy API. Two differences matter from day one:

1. **The default float is 32-bit** (`float32`), because accelerators are fastest there.
2. **Arrays are immutable.** `x[0] = 1.0` is an error. Instead, `x.at[0].set(1.0)` *returns a
   new array* with that entry changed, and leaves `x` alone. Immutability is what lets JAX
   treat your functions as pure mathematical functions that it can differentiate and compile
   (inside `jit` the copy is optimised away, so it costs nothing there).
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
x = jnp.arange(5.0)
print("x      =", x, "dtype:", x.dtype, "shape:", x.shape)

try:
    x[0] = 100.0
except TypeError as err:
    print("in-place assignment ->", type(err).__name__)

y = x.at[0].set(100.0)        # a new array
z = x.at[1:3].add(10.0)       # also .multiply, .min, .max, .get ...
print("x      =", x, "(unchanged)")
print("y      =", y)
print("z      =", z)
"""),
    md(r"""
NumPy and JAX arrays convert freely: `jnp.asarray(np_array)` moves data to JAX's device,
`np.asarray(jax_array)` brings it back to the host. Data loaders in `nnlib.data` return
NumPy arrays; the training loop moves them to the device once.

<details><summary><b>Try it:</b> set every negative entry of <code>v = jnp.array([-2., 3., -1.])</code> to zero, two ways.</summary>

```python
v = jnp.array([-2.0, 3.0, -1.0])
v.at[v < 0].set(0.0)        # boolean-mask indexing works with .at outside jit
jnp.where(v < 0, 0.0, v)    # the form that also works inside jit (fixed output shape)
```
</details>
"""),
    md(r"""
## 2. Which device runs my code?

JAX places every array on a *device*: the CPU, a GPU or a TPU. `jax.devices()` lists the
devices JAX found, `jax.default_backend()` names the one it uses by default, and
`x.devices()` says where a particular array lives. On a machine with a CUDA GPU and the GPU
build of JAX (`pip install "jax[cuda12]"`), arrays land on the GPU without any code change;
setting the environment variable `JAX_PLATFORMS=cpu` forces the CPU. The output below depends
on the machine that ran this notebook.
"""),
    code(r"""
print("devices found:  ", jax.devices())
print("default backend:", jax.default_backend())
print("x lives on:     ", x.devices())

cpu = jax.devices("cpu")[0]
x_cpu = jax.device_put(x, cpu)        # explicit placement, if you ever need it
print("x_cpu lives on: ", x_cpu.devices())
"""),
    md(r"""
**Asynchronous dispatch.** A JAX operation returns as soon as the work is *queued*, not when
it is done. To time code honestly, wait for the result with `.block_until_ready()`
(or convert it to NumPy, which has to wait).
"""),
    md(r"""
## 3. `jax.grad`: derivatives of Python functions

`jax.grad(f)` takes a function $f$ that returns a **scalar** and gives back a new function
that computes its gradient. For $f(x) = x^3 + 2x$ the derivative is
$f'(x) = 3x^2 + 2$, so $f'(2) = 14$:
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
def f(x):
    return x**3 + 2.0 * x

df = jax.grad(f)
print("f'(2) =", round(float(df(2.0)), 4))
print("f''(2) =", round(float(jax.grad(df)(2.0)), 4), "(grad of grad: 6x = 12)")
"""),
    md(r"""
The argument can be any *pytree* of arrays (Section 6), and the gradient comes back with
the same structure. `jax.value_and_grad` returns the value and the gradient together, which
is what a training step wants. `argnums` picks which positional argument to differentiate.

Below, a mean squared error of a linear model
$L(w, b) = \frac{1}{N}\sum_{n=1}^{N} (w x_n + b - t_n)^2$ with inputs $x_n$ and targets
$t_n$. By hand,
$\frac{\partial L}{\partial w} = \frac{2}{N}\sum_n (w x_n + b - t_n)\,x_n$ and
$\frac{\partial L}{\partial b} = \frac{2}{N}\sum_n (w x_n + b - t_n)$; JAX agrees.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
def mse(params, x, t):
    pred = params["w"] * x + params["b"]
    return jnp.mean((pred - t) ** 2)

params = {"w": jnp.array(0.5), "b": jnp.array(0.0)}
xs = jnp.array([0.0, 1.0, 2.0, 3.0])
ts = jnp.array([1.0, 3.0, 5.0, 7.0])          # t = 2x + 1

loss, grads = jax.value_and_grad(mse)(params, xs, ts)
resid = params["w"] * xs + params["b"] - ts
by_hand = {"b": 2 * jnp.mean(resid), "w": 2 * jnp.mean(resid * xs)}
print("loss          :", round(float(loss), 4))
print("jax.grad      :", {k: round(float(v), 4) for k, v in grads.items()})
print("by hand       :", {k: round(float(v), 4) for k, v in by_hand.items()})
"""),
    md(r"""
How `jax.grad` does this (reverse-mode automatic differentiation, i.e. backpropagation) is the
subject of lesson 01, where you will write the backward pass yourself.

<details><summary><b>Try it:</b> what goes wrong with <code>jax.grad(lambda x: x * 2)(3)</code>, and with <code>jax.grad(lambda x: x * 2)(jnp.ones(3))</code>?</summary>

The first passes an *integer*: `grad` needs floating-point inputs (use `3.0`). The second
returns an array of 3 numbers, not a scalar: `grad` only differentiates scalar-valued
functions. Use `jnp.sum(...)` if you want the gradient of a sum, or `jax.jacobian` for the
full matrix of derivatives.
</details>
"""),
    md(r"""
## 4. `jax.jit`: compile once, run fast

`jax.jit(f)` *traces* `f` once with abstract placeholders (it records which operations
happen on arrays of which shape and dtype), hands that program to the XLA compiler, and
caches the compiled code. Later calls with the **same shapes and dtypes** skip Python
entirely. Two consequences:

- the **first call is slow** (trace + compile); later ones are fast;
- Python side effects such as `print` run **only while tracing**, and a call with a new
  shape or dtype traces and compiles again.
"""),
    code(r"""
def mlp(x, W1, W2):
    return jnp.tanh(jnp.tanh(x @ W1) @ W2).sum()

k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
x_big = jax.random.normal(k1, (2000, 256))
W1 = jax.random.normal(k2, (256, 256)) / 16
W2 = jax.random.normal(k3, (256, 256)) / 16
mlp_jit = jax.jit(mlp)

def seconds(fn, *args):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start

first = seconds(mlp_jit, x_big, W1, W2)                       # trace + compile + run
later = min(seconds(mlp_jit, x_big, W1, W2) for _ in range(5))  # cached, run only
print(f"first call : {first * 1e3:8.1f} ms  (trace + compile + run)")
print(f"later calls: {later * 1e3:8.1f} ms  (run only)")
print(f"the first call cost about {first / later:.0f}x a later one on this machine")
"""),
    md(r"""
The exact numbers depend on the machine; the pattern does not. Compilation is paid once per
input *shape*, which is why `nnlib.train` keeps every batch the same shape. Now the
side effect: count how often Python actually runs the body.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
traces = []

@jax.jit
def scaled_sum(v):
    traces.append(v.shape)          # Python side effect: runs only while tracing
    return 2.0 * v.sum()

for v in [jnp.ones(3), jnp.zeros(3), jnp.ones(3), jnp.ones(4)]:
    scaled_sum(v)
print("4 calls, Python body ran for shapes:", traces)
"""),
    md(r"""
While tracing, array *values* are unknown, so Python `if` on an array value fails inside
`jit`. Use `jnp.where` (both branches computed, one selected) or `jax.lax.cond`:
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
@jax.jit
def relu_with_if(v):
    if v > 0:                       # needs the concrete value: not known while tracing
        return v
    return 0.0 * v

try:
    relu_with_if(jnp.array(2.0))
except jax.errors.TracerBoolConversionError:
    print("Python `if` on a traced value -> TracerBoolConversionError")

relu_where = jax.jit(lambda v: jnp.where(v > 0, v, 0.0))
print("jnp.where works:", relu_where(jnp.array([-1.0, 2.0])))
"""),
    md(r"""
<details><summary><b>Try it:</b> a jitted training step runs fast for 99 batches and then compiles again on the last one. Why, and what are two fixes?</summary>

The last batch is smaller (e.g. 1000 examples in batches of 32 leaves 8), so its shape is
new and `jit` compiles a second version. Fixes: drop the incomplete last batch, or pad it to
full size and mask the padded examples out of the loss.
</details>
"""),
    md(r"""
## 5. `jax.vmap`: write for one example, run on a batch

`jax.vmap(f)` maps `f` over a leading axis without a Python loop; `in_axes` says which
arguments are batched (`0`) and which are shared (`None`). A classic use: the gradient of the
loss for **each example separately** (needed, e.g., to clip per-example gradients), which a
plain `jax.grad` of the mean loss cannot give.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
def loss_one(params, x, t):                    # one example, scalar x and t
    return (params["w"] * x + params["b"] - t) ** 2

per_example = jax.vmap(jax.grad(loss_one), in_axes=(None, 0, 0))(params, xs, ts)
looped = [jax.grad(loss_one)(params, x, t) for x, t in zip(xs, ts)]

print("per-example dL/dw:", per_example["w"] + 0.0)   # + 0.0 turns -0. into 0.
print("same as a Python loop:", bool(jnp.allclose(per_example["w"], jnp.stack([g["w"] for g in looped]))))
print("their mean is the batch gradient:", bool(jnp.allclose(per_example["w"].mean(), grads["w"])))
"""),
    md(r"""
<details><summary><b>Try it:</b> given <code>def dot(a, b): return a @ b</code> for two vectors, compute all pairwise dot products of the rows of <code>A</code> (shape (m, d)) and <code>B</code> (shape (n, d)) with two vmaps.</summary>

```python
pairwise = jax.vmap(jax.vmap(dot, in_axes=(None, 0)), in_axes=(0, None))
pairwise(A, B)          # shape (m, n), equal to A @ B.T
```
</details>
"""),
    md(r"""
## 6. Pytrees: parameters as nested containers

A **pytree** is any nesting of lists, tuples and dicts (and a few other registered types)
whose leaves are arrays. A network's parameters are naturally one: a list with one dict per
layer. `jax.grad` returns gradients with the same structure, and `jax.tree.map(fn, tree, ...)`
applies `fn` leaf by leaf, which makes a gradient-descent step a one-liner for *any* model:

$$\theta \leftarrow \theta - \alpha\,\nabla_\theta L(\theta)$$

where $\theta$ is every parameter, $\alpha$ the learning rate and $\nabla_\theta L$ the
gradient of the loss.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
key = jax.random.key(42)
key_1, key_2 = jax.random.split(key)
net = [
    {"W": jax.random.normal(key_1, (2, 8)) * 0.5, "b": jnp.zeros(8)},
    {"W": jax.random.normal(key_2, (8, 1)) * 0.5, "b": jnp.zeros(1)},
]
print("shapes:", jax.tree.map(lambda p: p.shape, net))
print("number of leaves:", len(jax.tree.leaves(net)))
print("number of parameters:", sum(p.size for p in jax.tree.leaves(net)))

fake_grads = jax.tree.map(jnp.ones_like, net)
lr = 0.1
stepped = jax.tree.map(lambda p, g: p - lr * g, net, fake_grads)
print("b of layer 0 after one step:", stepped[0]["b"][:3], "...")
"""),
    md(r"""
<details><summary><b>Try it:</b> compute the global gradient norm $\sqrt{\sum_i g_i^2}$ over all leaves of a gradient pytree.</summary>

```python
def global_norm(tree):
    return jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(tree)))
```
Lesson 05 uses this to clip gradients.
</details>
"""),
    md(r"""
## 7. Random numbers: explicit keys, split, never reuse

NumPy keeps a hidden global random state. JAX does not: every random function takes a
**key**, and the same key always gives the same numbers. This makes runs reproducible and
lets `jit`/`vmap` reason about randomness, but it puts one rule on you:

> **Never use a key twice.** Split it into fresh keys with `jax.random.split`, use each once.

JAX's generator is the counter-based Threefry generator (Salmon et al., 2011) with splittable
keys (Claessen & Pałka, 2013). Here is the bug of reusing a key: two layers initialised with
the same key get *identical* weights, and two dropout steps drop the same units.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
key = jax.random.key(0)

# The bug: one key, two draws -> the same "random" numbers.
w_a = jax.random.normal(key, (3,))
w_b = jax.random.normal(key, (3,))
print("reused key, identical draws:", bool(jnp.array_equal(w_a, w_b)))

# The fix: split first, use each new key once.
key, key_a, key_b = jax.random.split(key, 3)     # keep `key` for later splits
w_a = jax.random.normal(key_a, (3,))
w_b = jax.random.normal(key_b, (3,))
print("split keys, identical draws:", bool(jnp.array_equal(w_a, w_b)))
"""),
    code(r"""
# Same seed -> same numbers, on every run (rounded so they print the same).
print(np.asarray(jax.random.uniform(jax.random.key(7), (4,))).round(3))
print(np.asarray(jax.random.uniform(jax.random.key(7), (4,))).round(3))

# A loop that needs a fresh key each step: split inside the loop.
key = jax.random.key(1)
for step in range(3):
    key, subkey = jax.random.split(key)
    print("step", step, "noise:", np.asarray(jax.random.normal(subkey, (2,))).round(3))
"""),
    md(r"""
In this course every function that needs randomness takes a keyword argument `key=`
(for example `nnlib.data.make_moons(200, key=...)`), and forgetting it is an error rather than
a silent default.

<details><summary><b>Try it:</b> you need one key per epoch and, inside each epoch, one per batch. How do you make them?</summary>

```python
key = jax.random.key(0)
for epoch in range(epochs):
    key, epoch_key = jax.random.split(key)
    batch_keys = jax.random.split(epoch_key, n_batches)   # an array of keys
    for batch_key in batch_keys:
        ...
```
`jax.random.fold_in(key, step)` is another way to derive a distinct key from a step number.
</details>
"""),
    md(r"""
## 8. `float32` vs `float64`, and why gradient checks need 64 bits

A `float32` carries about 7 significant decimal digits (machine epsilon
$\varepsilon \approx 1.2\times10^{-7}$), a `float64` about 16 ($\varepsilon \approx 2.2\times10^{-16}$)
(Goldberg, 1991). Training is happy with `float32`. **Gradient checking** is not: it estimates
a derivative by the central difference
$$f'(x) \approx \frac{f(x+h) - f(x-h)}{2h},$$
whose truncation error shrinks like $h^2$ but whose round-off error grows like
$\varepsilon / h$. In `float32` the two meet at a poor accuracy (about $10^{-5}$ relative
at best); in `float64` near $10^{-11}$.

JAX ignores requests for 64-bit arrays unless 64-bit mode is on. Turn it on for a whole program
with `jax.config.update("jax_enable_x64", True)` *at startup* (before creating arrays), or for a
block of code with the context manager `jax.enable_x64(True)` as below.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print("float32 eps:", jnp.finfo(jnp.float32).eps)
print("float64 eps:", jnp.finfo(jnp.float64).eps)
print("in float32, 1 + 1e-8 == 1:", bool(jnp.float32(1.0) + jnp.float32(1e-8) == jnp.float32(1.0)))
"""),
    code(r"""
def central_diff_error(dtype, h):
    x = jnp.asarray(1.0, dtype)
    h = jnp.asarray(h, dtype)
    estimate = (jnp.sin(x + h) - jnp.sin(x - h)) / (2 * h)
    return abs(float(estimate) - float(np.cos(1.0))) / abs(float(np.cos(1.0)))

print(f"{'h':>8} | {'rel. error float32':>18} | {'rel. error float64':>18}")
with jax.enable_x64(True):
    for h in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]:
        e32 = central_diff_error(jnp.float32, h)
        e64 = central_diff_error(jnp.float64, h)
        print(f"{h:8.0e} | {e32:18.0e} | {e64:18.0e}")
"""),
    md(r"""
In `float32` the error stops improving and then grows as $h$ shrinks: round-off wins.
In `float64` it keeps falling to about $10^{-11}$. This is why `nnlib.gradcheck` and the
course's tests check gradients in `float64`. Lesson 01 uses it.
"""),
    md(r"""
## 9. Everything together: fitting a line

A full training loop is now a few lines: a loss, its gradient with `value_and_grad`, a pytree
update with `tree.map`, all under `jit`, with data drawn from explicit keys. We fit
$t = 3x - 1$ plus a little noise.
"""),
    code(r"""
key = jax.random.key(2024)
key_x, key_noise = jax.random.split(key)
x_data = jax.random.uniform(key_x, (100,), minval=-1.0, maxval=1.0)
t_data = 3.0 * x_data - 1.0 + 0.1 * jax.random.normal(key_noise, (100,))

@jax.jit
def train_step(params, x, t, lr=0.1):
    loss, grads = jax.value_and_grad(mse)(params, x, t)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss

params = {"w": jnp.array(0.0), "b": jnp.array(0.0)}
for step in tqdm(range(300), desc="gradient descent"):
    params, loss = train_step(params, x_data, t_data)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print("w ~", round(float(params["w"]), 1), " b ~", round(float(params["b"]), 1),
      " (true: 3.0, -1.0)")
print("final loss below 0.02:", bool(loss < 0.02))
"""),
    md(r"""
## 10. Pitfalls and how to recognise them

| symptom | likely cause | fix |
|---|---|---|
| `TypeError: ... immutable ... item assignment` | `x[i] = v` on a JAX array | `x = x.at[i].set(v)` |
| two "random" things are equal; dropout masks repeat | a key used twice | `jax.random.split`, use each key once |
| timing says an op takes microseconds | asynchronous dispatch | `.block_until_ready()` before stopping the clock |
| every step slow, or one step slow at epoch end | recompiling for new shapes, or `jit` inside the loop | `jit` once outside the loop, keep shapes fixed |
| `print` in a jitted function prints once, or shows `Traced<...>` | Python runs only while tracing | `jax.debug.print` for runtime values |
| `TracerBoolConversionError` | Python `if`/`while` on an array value inside `jit` | `jnp.where`, `jax.lax.cond`, `jax.lax.fori_loop` |
| `UserWarning: Explicitly requested dtype float64 ... truncated` | 64-bit mode is off | `jax_enable_x64` at startup or `jax.enable_x64(True)` |
| gradient check "fails" with relative error ~1e-3 | checking in `float32` | check in `float64` |

## Next

Lesson **01 · Backpropagation** opens up `jax.grad`: you derive the backward pass of a small
network by hand, check it numerically, plug it into JAX and train with it. Its graded
assignment is `assignments/backprop/backprop.ipynb`.

## References

- Bradbury, J., Frostig, R., Hawkins, P., Johnson, M. J., Leary, C., Maclaurin, D., Necula, G.,
  Paszke, A., VanderPlas, J., Wanderman-Milne, S., & Zhang, Q. (2018). *JAX: composable
  transformations of Python+NumPy programs.* http://github.com/jax-ml/jax
- Salmon, J. K., Moraes, M. A., Dror, R. O., & Shaw, D. E. (2011). *Parallel random numbers:
  as easy as 1, 2, 3.* Proceedings of SC11.
- Claessen, K., & Pałka, M. H. (2013). *Splittable pseudorandom number generators using
  cryptographic hashing.* Haskell Symposium 2013.
- Goldberg, D. (1991). *What every computer scientist should know about floating-point
  arithmetic.* ACM Computing Surveys, 23(1), 5–48.
- Griewank, A., & Walther, A. (2008). *Evaluating Derivatives: Principles and Techniques of
  Algorithmic Differentiation* (2nd ed.). SIAM. (Central differences and their error.)
"""),
]
