"""Cells of lesson 01, backpropagation (built by ``docs/notebook_sources/lessons_build.py``).

The cells are split over two modules to keep each readable: this one (intuition, maths,
from-scratch code, gradient checking, cost) and ``lessons_01b_cells.py`` (JAX bridge,
training, nnlib, activations, losses, pitfalls, references).
"""

from lessons_01b_cells import CELLS_B
from lessons_build import code, md

CELLS_A = [
    md(r"""
# 01 · Backpropagation

A network learns by nudging every weight a little in the direction that lowers its error.
That needs the derivative of the error with respect to *every* weight, and
**backpropagation** computes all of them in one backward sweep through the network
(Rumelhart, Hinton & Williams, 1986). In this lesson you derive it, code it, check it, and
train with it.

**After this lesson you will be able to**

- write a small network as a composition of functions and draw its computational graph;
- apply the chain rule along that graph: forward pass, error at the output, backward pass,
  weight update $w \leftarrow w - \alpha\,\partial E/\partial w$;
- derive the gradients of a one-hidden-layer network (sigmoid or ReLU hidden layer, mean
  squared error) by hand, first for one example and then in matrix form for a batch, with
  the shape of every array;
- explain why one backward pass costs only a few forward passes, while finite differences
  cost two forward passes *per parameter*;
- check a gradient with central differences and a relative error, and say why in `float64`;
- plug your hand-written backward pass into JAX with `nnlib.autodiff.custom_vjp` and train
  with it;
- recognise the five classic backprop bugs from their symptoms.

**Assumed:** lesson 00 (JAX arrays, `jax.grad`, `jit`, pytrees, keys); matrix multiplication
and transposes; the derivative of a function of one variable and the chain rule
$\frac{d}{dx} f(g(x)) = f'(g(x))\,g'(x)$.

The graded assignment for this topic is `assignments/backprop/backprop.ipynb` (see the end).
"""),
    code(r"""
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from tqdm.auto import tqdm

import nnlib
import matplotlib.pyplot as plt
from IPython.display import Image, display

from nnlib import autodiff, data, gradcheck, layers, losses, optim, train, viz

print("JAX", jax.__version__, "on", jax.default_backend())
"""),
    md(r"""
## 1. A network is a composition of functions

A feed-forward network is a chain of simple functions. With one hidden layer:

$$
\underbrace{\mathbf{x}}_{\text{input}}
\;\xrightarrow{\;\mathbf{z}=\mathbf{x}W_1+\mathbf{b}_1\;}\;
\mathbf{z}
\;\xrightarrow{\;\mathbf{h}=\varphi(\mathbf{z})\;}\;
\mathbf{h}
\;\xrightarrow{\;\hat{\mathbf{y}}=\mathbf{h}W_2+\mathbf{b}_2\;}\;
\hat{\mathbf{y}}
\;\xrightarrow{\;E(\hat{\mathbf{y}},\,\mathbf{t})\;}\;
E
$$

- $\mathbf{x}\in\mathbb{R}^{D}$: one input (a row vector with $D$ features);
- $W_1\in\mathbb{R}^{D\times H}$, $\mathbf{b}_1\in\mathbb{R}^{H}$: weights and biases of the hidden layer with $H$ units;
- $\mathbf{z}\in\mathbb{R}^{H}$: the hidden *pre-activation*; $\mathbf{h}=\varphi(\mathbf{z})$ the hidden *activation*, where $\varphi$ is applied element by element (sigmoid, tanh or ReLU, Section 11);
- $W_2\in\mathbb{R}^{H\times K}$, $\mathbf{b}_2\in\mathbb{R}^{K}$: the output layer with $K$ outputs; $\hat{\mathbf{y}}\in\mathbb{R}^{K}$ the prediction;
- $\mathbf{t}\in\mathbb{R}^{K}$: the target; $E$ the error (loss), a single number.

Training means: find the weights that make $E$ small, averaged over the data. Gradient
descent does it by repeating the **weight update** for every weight $w$
(Rumelhart, Hinton & Williams, 1986):

$$w \;\leftarrow\; w - \alpha\,\frac{\partial E}{\partial w},$$

with the **learning rate** $\alpha>0$. The whole difficulty is the partial derivative
$\partial E/\partial w$ for *every* weight, and that is what backpropagation computes, in four steps:

1. **forward pass**: compute $\mathbf{z}, \mathbf{h}, \hat{\mathbf{y}}, E$ from the input, keeping the intermediate values;
2. **error at the output**: $\partial E/\partial \hat{\mathbf{y}}$;
3. **backward pass**: push that error back through each function with the chain rule, collecting $\partial E/\partial W_2$, $\partial E/\partial \mathbf{b}_2$, $\partial E/\partial W_1$, $\partial E/\partial \mathbf{b}_1$;
4. **weight update**: the rule above (lesson 02 varies it, lesson 04 replaces it with better optimizers).
"""),
    md(r"""
## 2. The computational graph and the chain rule

Write every intermediate value as a node and every elementary operation as an edge: that is
the **computational graph**. Take the smallest possible "network": one input $x$, one weight
$w$, one bias $b$, a sigmoid $\sigma(z) = 1/(1+e^{-z})$, and the squared error against a target $t$:

$$z = w x + b, \qquad h = \sigma(z), \qquad E = (h - t)^2 .$$

**Chain rule.** If $E$ depends on $w$ only through $z$, and on $z$ only through $h$, then
$$\frac{\partial E}{\partial w} = \frac{\partial E}{\partial h}\,\frac{\partial h}{\partial z}\,\frac{\partial z}{\partial w}.$$
When a value feeds *several* later nodes, its derivative is the **sum over all paths**: if
$E$ depends on $u$ through $v_1,\dots,v_m$, then
$\frac{\partial E}{\partial u} = \sum_{j=1}^{m} \frac{\partial E}{\partial v_j}\frac{\partial v_j}{\partial u}$.

**Backward order.** Compute the factors from the output backwards, reusing each product:
$\bar h := \partial E/\partial h = 2(h-t)$, then $\bar z := \partial E/\partial z = \bar h\,\sigma'(z)$
with $\sigma'(z) = \sigma(z)\,(1-\sigma(z)) = h(1-h)$, then
$\partial E/\partial w = \bar z\, x$ and $\partial E/\partial b = \bar z$. Each node needs only
the gradient arriving from its output and the values it saw in the forward pass. (The bar
notation $\bar v$ for "the derivative of the final output with respect to $v$" is the
*adjoint* of $v$; Griewank & Walther, 2008.)

Let us do it with numbers: $x = 1.5$, $w = 0.8$, $b = -0.5$, $t = 1$.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
x, w, b, t = 1.5, 0.8, -0.5, 1.0

# forward pass: keep every intermediate value
z = w * x + b
h = 1.0 / (1.0 + np.exp(-z))
E = (h - t) ** 2
print(f"forward : z = {z:.4f}   h = sigma(z) = {h:.4f}   E = {E:.4f}")

# backward pass: one local derivative per edge, multiplied from the output back
dE_dh = 2.0 * (h - t)            # error at the output
dE_dz = dE_dh * h * (1.0 - h)    # through the sigmoid: sigma'(z) = h (1 - h)
dE_dw = dE_dz * x                # z = w x + b  ->  dz/dw = x
dE_db = dE_dz * 1.0              #                 dz/db = 1
print(f"backward: dE/dh = {dE_dh:.4f}   dE/dz = {dE_dz:.4f}   dE/dw = {dE_dw:.4f}   dE/db = {dE_db:.4f}")

# jax.grad does the same sweep automatically
def tiny_error(w, b):
    return (jax.nn.sigmoid(w * x + b) - t) ** 2

gw, gb = jax.grad(tiny_error, argnums=(0, 1))(w, b)
print(f"jax.grad: dE/dw = {float(gw):.4f}   dE/db = {float(gb):.4f}")
"""),
    md(r"""
**Step through it.** The widget below shows the graph of a one-hidden-layer network on one
example. Step forward to fill in the values node by node, then backward to see each
gradient arrive, as the product of the gradient from above and the local derivative.
"""),
    code(r"""
stepper = viz.graph_stepper("network 2-2-1")
stepper
"""),
    md(r"""
<details><summary><b>Try it:</b> in the tiny example, change the target to $t = 0$. Which gradients change sign, and why does the update $w \leftarrow w - \alpha\,\partial E/\partial w$ now lower $w$?</summary>

With $t=0$, $\partial E/\partial h = 2(h-0) = 2h > 0$, so every gradient downstream changes
sign (all the other factors, $h(1-h)>0$ and $x>0$, are positive):
$\partial E/\partial w = 2h\cdot h(1-h)\cdot x \approx 0.297 > 0$. The update subtracts a positive
number, so $w$ decreases, which lowers $z$ and therefore $h$, moving the output towards the
target 0.
</details>
"""),
    md(r"""
## 3. Backpropagation by hand for one example

Back to the network of Section 1, now for one example with index notation: input
components $x_i$ ($i=1,\dots,D$), hidden units $j=1,\dots,H$, outputs $k=1,\dots,K$, and the mean squared
error over the $K$ outputs:

$$
z_j = \sum_{i} x_i\, w^{(1)}_{ij} + b^{(1)}_j, \qquad
h_j = \varphi(z_j), \qquad
\hat y_k = \sum_{j} h_j\, w^{(2)}_{jk} + b^{(2)}_k, \qquad
E = \frac{1}{K}\sum_{k} (\hat y_k - t_k)^2 .
$$

Following the graph from the output back (each line uses only the line above it and values
stored in the forward pass):

| step | quantity | formula |
|---|---|---|
| error at the output | $\delta^{(2)}_k := \dfrac{\partial E}{\partial \hat y_k}$ | $\dfrac{2}{K}\,(\hat y_k - t_k)$ |
| output weights | $\dfrac{\partial E}{\partial w^{(2)}_{jk}}$ | $h_j\,\delta^{(2)}_k$ |
| output biases | $\dfrac{\partial E}{\partial b^{(2)}_k}$ | $\delta^{(2)}_k$ |
| back to the hidden activations | $\dfrac{\partial E}{\partial h_j}$ | $\sum_k w^{(2)}_{jk}\,\delta^{(2)}_k$ (sum over the paths through every output) |
| through the activation | $\delta^{(1)}_j := \dfrac{\partial E}{\partial z_j}$ | $\varphi'(z_j)\,\dfrac{\partial E}{\partial h_j}$ |
| hidden weights | $\dfrac{\partial E}{\partial w^{(1)}_{ij}}$ | $x_i\,\delta^{(1)}_j$ |
| hidden biases | $\dfrac{\partial E}{\partial b^{(1)}_j}$ | $\delta^{(1)}_j$ |

The derivative of the activation is evaluated at the **pre-activation** $z_j$:

- sigmoid: $\varphi(z) = \sigma(z) = \dfrac{1}{1+e^{-z}}$, $\;\varphi'(z) = \sigma(z)\,\bigl(1-\sigma(z)\bigr) = h_j(1-h_j)$;
- ReLU: $\varphi(z) = \max(0, z)$, $\;\varphi'(z) = 1$ if $z>0$ and $0$ otherwise (at $z=0$ we take $0$).

The pattern repeats for any depth: *the gradient of a weight is (input to that weight)
$\times$ (the error $\delta$ at the unit it feeds)*, and each $\delta$ is the weighted sum of the
$\delta$'s one layer up, times the local slope $\varphi'$ (Rumelhart, Hinton & Williams, 1986).
"""),
    md(r"""
## 4. Matrix form for a batch

Training uses a batch of $N$ examples at once. Stack them as rows: $X\in\mathbb{R}^{N\times D}$,
targets $T\in\mathbb{R}^{N\times K}$. The forward pass, with the shape of every array:

| forward | shape |
|---|---|
| $Z_1 = X W_1 + \mathbf{1}\mathbf{b}_1^{\top}$ (the bias is added to every row; in code, broadcasting) | $(N, H)$ |
| $A_1 = \varphi(Z_1)$ | $(N, H)$ |
| $\hat Y = A_1 W_2 + \mathbf{1}\mathbf{b}_2^{\top}$ | $(N, K)$ |
| $E = \dfrac{1}{NK}\sum_{n=1}^{N}\sum_{k=1}^{K} (\hat Y_{nk} - T_{nk})^2$ (mean over all entries) | scalar |

Here $\mathbf{1}\in\mathbb{R}^{N}$ is a column of ones. The backward pass is the table of
Section 3 with the sums over $i, j, k$ turned into matrix products and the sum over examples
$n$ appearing wherever a parameter is shared by all examples:

| backward | shape |
|---|---|
| $\Delta_2 = \dfrac{\partial E}{\partial \hat Y} = \dfrac{2}{NK}\,(\hat Y - T)$ | $(N, K)$ |
| $\dfrac{\partial E}{\partial W_2} = A_1^{\top}\Delta_2$ | $(H, K)$, same as $W_2$ |
| $\dfrac{\partial E}{\partial \mathbf{b}_2} = \Delta_2^{\top}\mathbf{1} = \sum_{n}\Delta_{2,n:}$ (sum over the batch) | $(K,)$, same as $\mathbf{b}_2$ |
| $\dfrac{\partial E}{\partial A_1} = \Delta_2 W_2^{\top}$ | $(N, H)$ |
| $\Delta_1 = \dfrac{\partial E}{\partial Z_1} = \dfrac{\partial E}{\partial A_1} \odot \varphi'(Z_1)$ | $(N, H)$ |
| $\dfrac{\partial E}{\partial W_1} = X^{\top}\Delta_1$ | $(D, H)$, same as $W_1$ |
| $\dfrac{\partial E}{\partial \mathbf{b}_1} = \Delta_1^{\top}\mathbf{1}$ (sum over the batch) | $(H,)$, same as $\mathbf{b}_1$ |

$\odot$ is the element-wise product. Two checks come for free: **every gradient has the shape
of its parameter**, and **each matrix product's inner dimensions must match**; if you have to
transpose something to make a product fit, check the formula, not just the shapes.

Now in JAX, from scratch. The forward pass returns the prediction and a **cache** of what the
backward pass needs; the backward pass receives the gradient of the loss with respect to the
prediction, `dY` $=\Delta_2$, and returns the parameter gradients and `dX`
$=\Delta_1 W_1^{\top}$ (the gradient with respect to the input, needed when a layer sits
below this one). This split, `forward(params, x) -> (y, cache)` and
`backward(params, cache, dy) -> (dparams, dx)`, is the contract every `nnlib` layer follows.
"""),
    code(r"""
def sigmoid(z):
    return 1.0 / (1.0 + jnp.exp(-z))

ACTIVATIONS = {   # name -> (phi, phi' as a function of the pre-activation z)
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z))),
    "relu": (lambda z: jnp.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
}

def init_mlp(key, D, H, K, dtype=jnp.float32):
    '''Parameters of a D-H-K network: W1 (D, H), b1 (H,), W2 (H, K), b2 (K,).'''
    k1, k2 = jax.random.split(key)
    return {
        "W1": jax.random.normal(k1, (D, H), dtype) * jnp.sqrt(2.0 / D).astype(dtype),
        "b1": jnp.zeros(H, dtype),
        "W2": jax.random.normal(k2, (H, K), dtype) * jnp.sqrt(1.0 / H).astype(dtype),
        "b2": jnp.zeros(K, dtype),
    }

def mlp_forward(params, X, act="sigmoid"):
    '''X (N, D) -> (Y_hat (N, K), cache).'''
    phi, _ = ACTIVATIONS[act]
    Z1 = X @ params["W1"] + params["b1"]             # (N, H)
    A1 = phi(Z1)                                     # (N, H)
    Y_hat = A1 @ params["W2"] + params["b2"]         # (N, K)
    return Y_hat, {"X": X, "Z1": Z1, "A1": A1}

def mlp_backward(params, cache, dY, act="sigmoid"):
    '''dY = dE/dY_hat (N, K) -> (grads with params' structure, dE/dX (N, D)).'''
    _, dphi = ACTIVATIONS[act]
    X, Z1, A1 = cache["X"], cache["Z1"], cache["A1"]
    dW2 = A1.T @ dY                                  # (H, K)
    db2 = dY.sum(axis=0)                             # (K,)   sum over the batch
    dA1 = dY @ params["W2"].T                        # (N, H)
    dZ1 = dA1 * dphi(Z1)                             # (N, H) slope at the PRE-activation
    dW1 = X.T @ dZ1                                  # (D, H)
    db1 = dZ1.sum(axis=0)                            # (H,)
    dX = dZ1 @ params["W1"].T                        # (N, D)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}, dX

def mse(Y_hat, T):
    return jnp.mean((Y_hat - T) ** 2)

def mse_grad(Y_hat, T):
    '''dE/dY_hat for the mean over all N*K entries.'''
    return 2.0 * (Y_hat - T) / Y_hat.size

@partial(jax.jit, static_argnames="act")      # compiled once per shape (lesson 00)
def loss_and_grads(params, X, T, act="sigmoid"):
    '''Forward pass, error at the output, backward pass.'''
    Y_hat, cache = mlp_forward(params, X, act)
    grads, _ = mlp_backward(params, cache, mse_grad(Y_hat, T), act)
    return mse(Y_hat, T), grads
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
key = jax.random.key(0)
k_params, k_x, k_t = jax.random.split(key, 3)
N, D, H, K = 5, 3, 4, 2
params = init_mlp(k_params, D, H, K)
X = jax.random.normal(k_x, (N, D))
T = jax.random.normal(k_t, (N, K))

loss, grads = loss_and_grads(params, X, T)
for name in params:
    print(f"{name}: param {str(params[name].shape):7}  grad {str(grads[name].shape):7}")
print("every gradient has its parameter's shape:",
      all(params[k].shape == grads[k].shape for k in params))
"""),
    md(r"""
Back to the graph stepper of Section 2: its network is ours with $D = 2$, $H = 2$ sigmoid units and $K = 1$ output, on one
example, so `mlp_backward` must produce the same gradients. Run all its steps
and compare (the figure below is the final state, stored so that it shows without a running
kernel):
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
stepper.set(step=stepper.controls["step"].max)           # run every forward and backward step
v, g = stepper.state["values"], stepper.state["grads"]
graph_params = {
    "W1": jnp.array([[v["w11"], v["w12"]], [v["w21"], v["w22"]]]),   # W1[i, j]: input i -> unit j
    "b1": jnp.array([v["b1"], v["b2"]]),
    "W2": jnp.array([[v["v1"]], [v["v2"]]]),
    "b2": jnp.array([v["c"]]),
}
x_one, t_one = jnp.array([[v["x1"], v["x2"]]]), jnp.array([[v["t"]]])
_, ours = loss_and_grads(graph_params, x_one, t_one, act="sigmoid")
pairs = {"w11": ours["W1"][0, 0], "w21": ours["W1"][1, 0], "w12": ours["W1"][0, 1],
         "w22": ours["W1"][1, 1], "b1": ours["b1"][0], "b2": ours["b1"][1],
         "v1": ours["W2"][0, 0], "v2": ours["W2"][1, 0], "c": ours["b2"][0]}
for name, value in pairs.items():
    print(f"dL/d{name:4}  stepper {g[name]: .4f}   mlp_backward {float(value): .4f}")
"""),
    code(r"""
Image(stepper.image.value)       # a snapshot of the widget's current figure
"""),
    md(r"""
## 5. Are the gradients right? Compare with `jax.grad`

`jax.grad` differentiates `mse(mlp_forward(...)[0], T)` by itself (it runs reverse-mode
automatic differentiation, which *is* backpropagation, applied to whatever operations the
function performs; Baydin et al., 2018). If our derivation is right, the two agree to
rounding error. We compare in `float64` so that "rounding error" means about $10^{-15}$; the
next section explains why.

The measure is the **relative error**, element by element,
$$
r_i = \frac{|g_i - \tilde g_i|}{\max\bigl(|g_i| + |\tilde g_i|,\ \tau\bigr)},
$$
where $g$ is our gradient and $\tilde g$ the reference. It is $0$ for equal entries and at
most $1$ (reached when they have opposite signs), whatever the gradient's scale. The floor
$\tau$ (here $10^{-3}$, as in `nnlib.gradcheck`) turns the test into an absolute one for entries
whose true value is about zero, where the ratio of two tiny, noisy numbers means nothing.
We report the largest $r_i$ and where it occurs.
"""),
    code(r"""
def max_relative_error(g, g_ref, floor=1e-3):
    '''Largest element-wise relative error between two gradient pytrees (and where).'''
    worst, where = 0.0, None
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(g), jax.tree.leaves(g_ref)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        r = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
        if r.max() > worst:
            worst = float(r.max())
            where = (jax.tree_util.keystr(path), np.unravel_index(r.argmax(), r.shape))
    return worst, where

def mse_of_mlp(params, X, T, act="sigmoid"):
    return mse(mlp_forward(params, X, act)[0], T)

with jax.enable_x64(True):
    to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)
    p64, X64, T64 = to64(params), to64(X), to64(T)
    for act in ["sigmoid", "relu"]:
        _, ours = loss_and_grads(p64, X64, T64, act)
        reference = jax.jit(jax.grad(mse_of_mlp), static_argnums=3)(p64, X64, T64, act)
        err, _ = max_relative_error(ours, reference)
        print(f"{act:8}: max relative error vs jax.grad = {err:.0e}   agree: {err < 1e-10}")
"""),
    md(r"""
## 6. Gradient checking with finite differences

`jax.grad` is a reference we trust, but what if you have no autodiff at hand, or you are
testing the autodiff itself? Go back to the definition of the derivative. For each
parameter $\theta_i$, nudge it by a small $\varepsilon$ in both directions and watch the loss:

$$
\frac{\partial E}{\partial \theta_i} \approx
\frac{E(\theta + \varepsilon\,\mathbf{e}_i) - E(\theta - \varepsilon\,\mathbf{e}_i)}{2\varepsilon},
$$

where $\mathbf{e}_i$ is the vector with a 1 in position $i$ and 0 elsewhere. This **central
difference** has an error proportional to $\varepsilon^2$ (Taylor expansion: the
$\varepsilon^2$ terms cancel), while the one-sided $\bigl(E(\theta+\varepsilon\mathbf{e}_i)-E(\theta)\bigr)/\varepsilon$ has an
error proportional to $\varepsilon$ (Bishop, 2006, §5.3.3). Shrinking $\varepsilon$ is not free:
the two losses agree in more and more leading digits and the subtraction loses them
(cancellation, lesson 00 §8): the rounding error of the quotient grows like
$\epsilon_{\text{mach}}/\varepsilon$, where $\epsilon_{\text{mach}}$ is the machine epsilon. The total,
roughly $\varepsilon^2 + \epsilon_{\text{mach}}/\varepsilon$, is smallest for $\varepsilon \approx \epsilon_{\text{mach}}^{1/3}$, where it is about
$\epsilon_{\text{mach}}^{2/3}$: roughly $10^{-5}$ in `float32` but $10^{-11}$ in `float64` (lesson 00's table
shows both). A
correct gradient typically checks to $10^{-4}\dots10^{-2}$ in `float32`, which a small bug can hide
in; in `float64` a correct gradient checks to about $10^{-8}$ or better and a bug
stands out by orders of magnitude.

The code treats the parameter pytree as one flat vector with `ravel_pytree`:
"""),
    code(r"""
def numerical_grad(f, params, eps):
    '''Central-difference gradient of the scalar f(params) for every entry of the pytree.'''
    flat, unravel = ravel_pytree(params)
    f_flat = jax.jit(lambda v: f(unravel(v)))
    grad = np.zeros(flat.shape, np.float64)
    for i in range(flat.size):          # two forward passes per parameter
        step = jnp.zeros_like(flat).at[i].set(eps)
        grad[i] = (float(f_flat(flat + step)) - float(f_flat(flat - step))) / (2 * eps)
    return unravel(jnp.asarray(grad, flat.dtype))

_, ours32 = loss_and_grads(params, X, T)
numeric32 = numerical_grad(lambda p: mse_of_mlp(p, X, T), params, eps=1e-3)
err32, where32 = max_relative_error(ours32, numeric32)

with jax.enable_x64(True):
    _, ours64 = loss_and_grads(p64, X64, T64)
    numeric64 = numerical_grad(lambda p: mse_of_mlp(p, X64, T64), p64, eps=1e-6)
    err64, where64 = max_relative_error(ours64, numeric64)

print(f"float32 (eps=1e-3): max relative error {err32:.0e}  at {where32[0]}{list(map(int, where32[1]))}")
print(f"float64 (eps=1e-6): max relative error {err64:.0e}  at {where64[0]}{list(map(int, where64[1]))}")
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print("float64 check passes at 1e-6:", err64 < 1e-6)
print("float64 is at least 1000x sharper than float32:", err64 * 1e3 < err32)
"""),
    md(r"""
`nnlib.gradcheck` packages this check: it runs in `float64`, reports the largest relative
error, and names the parameter and index where it happened, which is where you start
looking for a bug.
"""),
    code(r"""
report = gradcheck.check_grads(
    mse_of_mlp, params, X, T,                                    # f(params, X, T) -> scalar
    analytic=lambda p, X, T: loss_and_grads(p, X, T)[1],         # our backward pass
)
print(report)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print("nnlib.gradcheck passes our backward:", report.passed)
"""),
    md(r"""
<details><summary><b>Try it:</b> rerun the float32 check with <code>eps=1e-1</code> and with <code>eps=1e-5</code>. Which is worse, and why?</summary>

Both are worse than `1e-3`, for opposite reasons. With $\varepsilon=10^{-1}$ the truncation error
(proportional to $\varepsilon^2$) dominates; with $\varepsilon = 10^{-5}$ the two losses share most of their
7 significant digits and the subtraction leaves mostly rounding noise (error proportional to
$\epsilon_{\text{mach}}/\varepsilon$). In `float64` the sweet spot moves down to about $10^{-5}\dots10^{-6}$ and the error
there is millions of times smaller.
</details>
"""),
    md(r"""
## 7. Why backpropagation is cheap

The finite-difference check needs **two forward passes per parameter**: $2P$ forward passes for
$P$ parameters, so its cost grows like $P\times$(cost of a forward pass), which is proportional to $P^2$
for a dense network (Bishop, 2006, §5.3.3). Backpropagation gets *all* $P$ derivatives from one
forward and one backward pass, and the backward pass does about the same kind of work as the forward one
(each matrix product forward becomes two of the same size backward: one for the weight
gradient, one to pass the error down). The theory of reverse-mode differentiation bounds the
cost of the whole gradient by a small constant times the cost of the function, independent of $P$
(Baur & Strassen, 1983; Griewank & Walther, 2008, the "cheap gradient principle").

Two demonstrations. First, **count** the floating-point operations in the programs JAX builds
for a forward pass and for our loss-and-gradient, for networks of growing width (this count does not depend
on how fast the machine is):
"""),
    code(r"""
def flops(fn, *args):
    '''Floating-point operations in the program JAX builds for fn(*args).'''
    return jax.jit(fn).lower(*args).cost_analysis()["flops"]

X_cost = jax.random.normal(jax.random.key(1), (1024, 2))
T_cost = jnp.zeros((1024, 1))
print(f"{'H':>5} {'P':>7} | {'backprop / forward':>18} | {'finite diff. / forward':>22}")
for width in [16, 64, 256]:
    p = init_mlp(jax.random.key(2), 2, width, 1)
    P = ravel_pytree(p)[0].size
    fwd = flops(mse_of_mlp, p, X_cost, T_cost)
    bwd = flops(loss_and_grads, p, X_cost, T_cost)
    print(f"{width:5d} {P:7d} | {bwd / fwd:18.1f} | {2 * P:22d}")
"""),
    md(r"""
Backprop stays at a small constant multiple of the forward pass however large the network,
while finite differences need $2P$ forward passes. Second, **time** it on this machine for the
$H = 128$ network ($P = 513$) on a batch of 1024; the numbers vary by machine, the ratio's order of magnitude does not:
"""),
    code(r"""
def best_time(fn, *args, repeat=20):
    jax.block_until_ready(fn(*args))                    # compile outside the timing
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times)

p_cost = init_mlp(jax.random.key(2), 2, 128, 1)
P = ravel_pytree(p_cost)[0].size
t_forward = best_time(jax.jit(mse_of_mlp), p_cost, X_cost, T_cost)
t_backprop = best_time(jax.jit(loss_and_grads), p_cost, X_cost, T_cost)
start = time.perf_counter()
numerical_grad(lambda q: mse_of_mlp(q, X_cost, T_cost), p_cost, eps=1e-3)
t_numeric = time.perf_counter() - start

print(f"P = {P} parameters")
print(f"forward + backward (backprop): {t_backprop / t_forward:6.1f} x one forward pass")
print(f"finite differences (2P passes): {t_numeric / t_forward:6.0f} x one forward pass")
"""),
    md(r"""
(The finite-difference time also pays Python overhead per pass, which makes it look even
worse; the count above is the fair comparison.) For the MNIST network of lesson 07
(784-128-10, $P = 101{,}770$), finite differences would need 203,540 forward passes for *one*
gradient. That is why gradient checking is a test you run on a tiny network, never a way to train.

<details><summary><b>Try it:</b> forward-mode differentiation (<code>jax.jvp</code>) computes one <em>directional</em> derivative per pass, at a cost similar to a forward pass. How many passes would it need for the full gradient, and when is forward mode the better choice?</summary>

$P$ passes, one per parameter direction: as bad as finite differences in count (though exact). Forward
mode wins when there are few inputs and many outputs (a Jacobian with few columns); reverse mode
(backprop) wins for many inputs and one output, which is exactly a loss as a function of the
weights (Baydin et al., 2018).
</details>
"""),
]

CELLS = CELLS_A + CELLS_B
