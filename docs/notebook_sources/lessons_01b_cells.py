"""Second half of lesson 01's cells (see ``lessons_01_backpropagation.py``)."""

from lessons_build import code, md

CELLS_B = [
    md(r"""
## 8. Your backward pass inside JAX: `custom_vjp`

`jax.grad` normally differentiates by tracing the forward computation. JAX also lets you say
"for this function, here is the backward pass; use it" (`jax.custom_vjp`, where VJP means
vector-Jacobian product: given $\partial E/\partial \hat Y$, return $\partial E/\partial\theta$ and
$\partial E/\partial X$, exactly what `mlp_backward` computes). `nnlib.autodiff.custom_vjp(forward, backward)`
wraps a `forward(params, x) -> (y, cache)` and a `backward(params, cache, dy) -> (dparams, dx)`
into a function `f(params, x) -> y` whose gradient **is** your backward. Everything written
for `jax.grad` (optimizers, `nnlib.train`) then trains with *your* gradients.
"""),
    code(r"""
relu_forward = partial(mlp_forward, act="relu")
relu_backward = partial(mlp_backward, act="relu")
net = autodiff.custom_vjp(relu_forward, relu_backward)      # net(params, X) -> Y_hat

def net_loss(params, X, T):
    return mse(net(params, X), T)      # jax.grad of this calls relu_backward for the network part

# Proof that JAX really calls our backward: a backward that returns zeros gives zero gradients.
def zero_backward(params, cache, dY):
    return jax.tree.map(jnp.zeros_like, params), jnp.zeros_like(cache["X"])

silent_net = autodiff.custom_vjp(relu_forward, zero_backward)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
with jax.enable_x64(True):
    via_ours = jax.jit(jax.grad(net_loss))(p64, X64, T64)
    via_jax = jax.jit(jax.grad(mse_of_mlp), static_argnums=3)(p64, X64, T64, "relu")
    print("jax.grad through our backward == jax.grad through the forward:",
          max_relative_error(via_ours, via_jax)[0] < 1e-10)
    zeros = jax.grad(lambda p: mse(silent_net(p, X64), T64))(p64)
    print("with a zero backward, every gradient is zero:",
          all(bool(jnp.all(g == 0)) for g in jax.tree.leaves(zeros)))
"""),
    md(r"""
## 9. Train with your own gradients on the moons

Two interleaving half-moons cannot be separated by a straight line, so the hidden layer has
to bend the boundary. We fit the class label $t\in\{0,1\}$ with the MSE loss (a regression on
the label; lesson 03 shows why cross-entropy is the better loss for classification),
predict class 1 when $\hat y > 0.5$, and run plain gradient descent with $\alpha = 0.2$ on
the full training set, every gradient coming from `relu_backward`.

`viz.BoundaryMonitor` shows, while the network trains, the decision boundary (the black curve
where $\hat y = 0.5$; the shading is orange where the network says class 1, blue where it
says class 0) next to the loss curve. Our own loop calls `monitor.update(step, params, loss)`
every 50 steps; the monitor evaluates the network on a 100 x 100 grid in one jitted call and
keeps every snapshot, so after training its **step** slider replays how the boundary bent.
"""),
    code(r"""
key = jax.random.key(1)
k_train, k_test, k_init = jax.random.split(key, 3)
x_train, y_train = data.make_moons(300, key=k_train, noise=0.15)
x_test, y_test = data.make_moons(200, key=k_test, noise=0.15)
X_train, T_train = jnp.asarray(x_train), jnp.asarray(y_train, jnp.float32)[:, None]
X_test, T_test = jnp.asarray(x_test), jnp.asarray(y_test, jnp.float32)[:, None]

alpha, steps_per_frame, frames = 0.2, 50, 40

@jax.jit
def train_chunk(params):
    '''steps_per_frame gradient-descent steps; gradients from relu_backward via custom_vjp.'''
    def one_step(_, p):
        g = jax.grad(net_loss)(p, X_train, T_train)
        return jax.tree.map(lambda w, dw: w - alpha * dw, p, g)     # w <- w - alpha dE/dw
    return jax.lax.fori_loop(0, steps_per_frame, one_step, params)

def accuracy(params, X, T):
    return float(jnp.mean((net(params, X) > 0.5) == (T > 0.5)))

def predict(params, pts):
    '''The network's output on points (m, 2), clipped to [0, 1] and read as P(class 1).'''
    return jnp.clip(net(params, pts), 0.0, 1.0)

train_loss = jax.jit(lambda params: net_loss(params, X_train, T_train))

moon_params = init_mlp(k_init, D=2, H=32, K=1)
monitor = viz.BoundaryMonitor(predict, x_train, y_train, every=4)   # redraw every 4th update
display(monitor)
monitor.update(0, moon_params, train_loss(moon_params))            # before training
for frame in tqdm(range(frames), desc="training"):
    moon_params = train_chunk(moon_params)
    monitor.update((frame + 1) * steps_per_frame, moon_params, train_loss(moon_params))
monitor.finish()                                                    # draw the last update
"""),
    md(r"""
Drag the slider above to replay training (it needs a running kernel). For a static copy, four
of the snapshots the monitor kept, drawn with `viz.plot_decision_boundary`: the boundary starts
almost straight and bends around the moons as the hidden units specialise.
"""),
    code(r"""
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), constrained_layout=True)
for ax, step in zip(axes, (0, 100, 400, steps_per_frame * frames)):
    P = monitor.snapshots[monitor.steps.index(step)][1]    # P(class 1) on the (100, 100) grid
    viz.plot_decision_boundary(ax, (monitor.state["X"], monitor.state["Y"], P),
                               x_train, y_train, title=f"after {step} steps")
plt.show()
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
train_acc, test_acc = accuracy(moon_params, X_train, T_train), accuracy(moon_params, X_test, T_test)
print("train accuracy >= 0.95:", train_acc >= 0.95, "  test accuracy >= 0.95:", test_acc >= 0.95)
"""),
    code(r"""
print(f"after {steps_per_frame * frames} steps: train loss {float(net_loss(moon_params, X_train, T_train)):.3f}, "
      f"train accuracy {train_acc:.2f}, test accuracy {test_acc:.2f}")
"""),
    md(r"""
## 10. The same with `nnlib`

`nnlib.layers` implements exactly this `forward -> (y, cache)` / `backward` contract, layer by
layer (`Dense` holds the matrix product and the bias, the activation is its own small layer),
and `Sequential` chains the layers' backward passes in reverse order.
`nnlib.autodiff.manual(model)` wraps a whole model's hand-written backward the way we wrapped
ours, and `nnlib.train.fit(..., grad="manual")` trains with it. Below: the model's hand-written
gradients agree with `jax.grad`, and training reaches the same accuracy.
"""),
    code(r"""
model = layers.Sequential([layers.Dense(32, activation="relu"), layers.Dense(1)])
nn_params, _ = model.init(jax.random.key(3), (2,))
print(jax.tree.map(lambda a: a.shape, nn_params))

manual_model = autodiff.manual(model)              # f(params, x) -> (y, state), backward by hand
def manual_loss(p, X, T):
    return losses.mse(manual_model(p, X)[0], T)
def jax_loss(p, X, T):
    return losses.mse(model.apply(p, X), T)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
with jax.enable_x64(True):
    q64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), nn_params)
    Xs, Ts = jnp.asarray(x_train[:16], jnp.float64), jnp.asarray(y_train[:16, None], jnp.float64)
    g_manual = jax.jit(jax.grad(manual_loss))(q64, Xs, Ts)
    g_jax = jax.jit(jax.grad(jax_loss))(q64, Xs, Ts)
    print("hand-written backward of the nnlib model == jax.grad:",
          max_relative_error(g_manual, g_jax)[0] < 1e-10)
"""),
    code(r"""
result = train.fit(model, nn_params, x_train, y_train[:, None].astype(np.float32),
                   loss="mse", optimizer=optim.sgd(0.2), epochs=1000, batch_size=300,
                   key=jax.random.key(4), grad="manual", metrics=["accuracy"])
nn_test_acc = float(jnp.mean((model.apply(result.params, X_test) > 0.5) == (T_test > 0.5)))
print(f"nnlib, grad='manual': final train loss {result.history['loss'][-1]:.3f}, "
      f"test accuracy {nn_test_acc:.2f}")
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print("nnlib model test accuracy >= 0.95:", nn_test_acc >= 0.95)
"""),
    md(r"""
## 11. Activation functions

The hidden layer's non-linearity $\varphi$ is what lets the network bend its decision boundary;
without it, two linear layers collapse into one. The three classic choices and the derivative
that the backward pass multiplies by:

| name | $\varphi(z)$ | $\varphi'(z)$ | range |
|---|---|---|---|
| sigmoid | $\sigma(z) = \dfrac{1}{1+e^{-z}}$ | $\sigma(z)\,\bigl(1-\sigma(z)\bigr)$, at most $\tfrac14$ | $(0, 1)$ |
| tanh | $\tanh(z) = \dfrac{e^{2z}-1}{e^{2z}+1} = 2\sigma(2z)-1$ | $1-\tanh^2(z)$, at most $1$ | $(-1, 1)$ |
| ReLU | $\max(0, z)$ | $1$ for $z>0$, $0$ for $z<0$ | $[0, \infty)$ |

- **Sigmoid** squashes to $(0,1)$, which suits an *output* that is a probability. Its slope is
  at most $1/4$ and nearly zero for $|z|$ large ("saturation"), so each sigmoid layer shrinks
  the backward signal, the vanishing-gradient problem of lesson 05.
- **Tanh** is a shifted, rescaled sigmoid centred on zero, which LeCun et al. (1998) recommend
  over the sigmoid for hidden layers; it saturates too.
- **ReLU** (Nair & Hinton, 2010; Glorot, Bordes & Bengio, 2011) has slope exactly 1 for positive
  inputs, so it does not shrink the gradient there, and it is cheap; a unit whose input stays
  negative gets zero gradient and stops learning (a "dead" unit). It is the usual default for
  hidden layers (Goodfellow et al., 2016, §6.3.1).

A quick check of the three derivative formulas against `jax.grad`, and the explorer (lesson 05
uses it in depth; pick an activation and watch where its derivative is nearly zero):
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
zs = jnp.linspace(-4.0, 4.0, 81)
formulas = {
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "tanh": (lambda z: (jnp.exp(2 * z) - 1) / (jnp.exp(2 * z) + 1), lambda z: 1 - jnp.tanh(z) ** 2),
    "relu": (lambda z: jnp.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
}
for name, (phi, dphi) in formulas.items():
    autodiff_slope = jax.vmap(jax.grad(phi))(zs)
    ok = bool(jnp.allclose(autodiff_slope, dphi(zs), atol=1e-6))
    print(f"{name:8} derivative formula matches jax.grad: {ok}")
print("tanh formula == jnp.tanh:", bool(jnp.allclose(formulas["tanh"][0](zs), jnp.tanh(zs), atol=1e-6)))
"""),
    code(r"""
explorer = viz.activation_explorer("sigmoid")
explorer
"""),
    md(r"""
## 12. Loss functions, briefly

The loss $E$ turns "how wrong is the network" into one number; the backward pass starts from
its derivative, the **error at the output**. Two you will meet everywhere (lesson 03 covers
them and others in depth), both averaged over the $N$ entries:

- **Mean squared error**, for regression:
  $E = \dfrac{1}{N}\sum_{n=1}^{N} (\hat y_n - t_n)^2$, with
  $\dfrac{\partial E}{\partial \hat y_n} = \dfrac{2}{N}(\hat y_n - t_n)$.
- **Binary cross-entropy**, for a probability $p_n = \sigma(z_n)$ of class 1 computed from a score
  (logit) $z_n$ and a label $t_n\in\{0,1\}$:
  $E = -\dfrac{1}{N}\sum_{n=1}^{N}\bigl[t_n \log p_n + (1-t_n)\log(1-p_n)\bigr]$.
  Through the sigmoid, the error at the logit is simply
  $\dfrac{\partial E}{\partial z_n} = \dfrac{1}{N}(p_n - t_n)$ (Bishop, 2006, §4.3.2): the sigmoid's
  small slope cancels out. With MSE on a sigmoid output the factor $\sigma'(z_n)$ stays, and a
  confidently wrong unit (saturated, $\sigma' \approx 0$) barely learns; this is one reason
  cross-entropy is the loss of choice for classifiers (Goodfellow et al., 2016, §6.2.2).

Both derivatives are in `nnlib.losses` as hand-written `*_grad` functions:
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
with jax.enable_x64(True):
    z = jnp.array([-2.0, 0.5, 3.0, -0.1])
    labels = jnp.array([0.0, 1.0, 1.0, 1.0])
    by_formula = (jax.nn.sigmoid(z) - labels) / z.size
    print("BCE on logits: dE/dz = (p - t)/N matches nnlib:",
          bool(jnp.allclose(losses.sigmoid_binary_cross_entropy_grad(z, labels), by_formula)))
    print("BCE on logits: dE/dz matches jax.grad:",
          bool(jnp.allclose(jax.grad(losses.sigmoid_binary_cross_entropy)(z, labels), by_formula)))
    print("MSE: dE/dy = 2(y - t)/N matches jax.grad:",
          bool(jnp.allclose(jax.grad(losses.mse)(z, labels), 2 * (z - labels) / z.size)))
"""),
    md(r"""
## 13. Pitfalls: five classic bugs and how to recognise them

A wrong backward pass rarely crashes. The network still "trains", just badly, so learn the
symptoms. Below, each bug is one changed line of `mlp_backward` (or of the error at the output).
We use a network with $D = H$ so that even the transposed matrix has the right shape, and the
sigmoid activation.
"""),
    code(r"""
BUGS = ["none", "transposed dW1", "bias not summed", "missing 1/N", "post-activation slope",
        "sign error"]

@partial(jax.jit, static_argnames=("bug", "act"))
def buggy_loss_and_grads(params, X, T, bug, act="sigmoid"):
    '''loss_and_grads with one classic mistake (bug="none" is the correct version).'''
    _, dphi = ACTIVATIONS[act]
    Y_hat, cache = mlp_forward(params, X, act)
    X, Z1, A1 = cache["X"], cache["Z1"], cache["A1"]
    dY = 2.0 * (Y_hat - T) / Y_hat.size
    if bug == "missing 1/N":
        dY = 2.0 * (Y_hat - T)                       # forgot to divide by the batch size
    if bug == "sign error":
        dY = 2.0 * (T - Y_hat) / Y_hat.size          # target minus prediction
    dW2 = A1.T @ dY
    db2 = dY if bug == "bias not summed" else dY.sum(axis=0)   # (N, K) instead of (K,)
    dA1 = dY @ params["W2"].T
    slope = dphi(A1) if bug == "post-activation slope" else dphi(Z1)   # phi'(h) instead of phi'(z)
    dZ1 = dA1 * slope
    dW1 = dZ1.T @ X if bug == "transposed dW1" else X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return mse(Y_hat, T), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

kb = jax.random.split(jax.random.key(5), 3)
Pb = init_mlp(kb[0], 3, 3, 1)                     # D = H = 3: W1 is square
Xb = jax.random.normal(kb[1], (8, 3))             # N = 8 examples
Tb = jax.random.normal(kb[2], (8, 1))
true_grad = gradcheck.numerical_grad(mse_of_mlp, Pb, Xb, Tb)     # float64 central differences

def fingerprint(ours, truth):
    '''"all = r x true" when every gradient entry is the same multiple r of the true one.'''
    ours, truth = np.asarray(ravel_pytree(ours)[0]), np.asarray(ravel_pytree(truth)[0])
    ratios = ours[np.abs(truth) > 1e-6] / truth[np.abs(truth) > 1e-6]
    return f"every entry = {ratios[0]:.1f} x true" if np.allclose(ratios, ratios[0], rtol=1e-4) else "no constant ratio"

diagnosis = {}
for bug in BUGS:
    analytic = lambda p, X, T, bug=bug: buggy_loss_and_grads(p, X, T, bug)[1]
    try:
        report = gradcheck.check_grads(mse_of_mlp, Pb, Xb, Tb, analytic=analytic)
    except ValueError as err:                     # nnlib.gradcheck checks shapes first
        diagnosis[bug] = f"shape error: {err}"
        continue
    if report.passed:
        diagnosis[bug] = "passes"
        continue
    with jax.enable_x64(True):
        ours = analytic(*jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), (Pb, Xb, Tb)))
        ratio = fingerprint(ours, true_grad)
    bad = [path for path, err in report.per_parameter.items() if err > report.rtol]
    diagnosis[bug] = f"FAILS on {', '.join(bad)}; {ratio}"
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
for bug, verdict in diagnosis.items():
    print(f"{bug:22} -> {verdict}")
"""),
    md(r"""
Reading the fingerprints (batch $N = 8$, $K = 1$ output here):

| bug | what you see | why |
|---|---|---|
| **transposed gradient** (`dZ1.T @ X` instead of `X.T @ dZ1`) | a shape error, unless the matrix is square; then the gradient check fails on `W1` only | $(\Delta_1^{\top}X)^{\top} = X^{\top}\Delta_1$: the right numbers in the wrong places |
| **bias gradient not summed over the batch** | shape `(N, K)` instead of `(K,)`; worse, `b - alpha * db` *broadcasts* silently and the bias becomes an `(N, K)` matrix, after which the model fails on a batch of another size | a parameter shared by all examples collects the gradient of all of them |
| **missing $1/N$** | every gradient exactly $N$ times too large (ratio = 8 here); training needs a learning rate $N$ times smaller, and diverges at the usual one | the loss is a *mean*; its derivative carries the $1/N$ |
| **slope at the post-activation** ($\varphi'(h)$ instead of $\varphi'(z)$) | the check fails on `W1`, `b1` only; the output layer is fine | $\sigma'(z) = h(1-h)$ is a function of $z$; $\sigma(h)(1-\sigma(h))$ is not the same. **With ReLU this bug is invisible** ($h>0 \Leftrightarrow z>0$), so test backward passes with a sigmoid too |
| **sign error** ($t - \hat y$) | every gradient is the exact negative (ratio = −1, relative error 1, the largest possible); the loss *rises* during training | gradient *ascent* |

In training, the same bugs look like this (same network, 300 steps on the moons):
"""),
    code(r"""
def train_with(bug, steps=300, lr=0.2):
    params = init_mlp(jax.random.key(6), 2, 32, 1)          # D = 2, H = 32: W1 is not square
    @jax.jit
    def step(p, X, T):
        loss, g = buggy_loss_and_grads(p, X, T, bug)
        return jax.tree.map(lambda w, dw: w - lr * dw, p, g), loss
    losses_seen = []
    try:
        for _ in range(steps):
            params, loss = step(params, X_train, T_train)
            losses_seen.append(float(loss))
    except TypeError as err:                                 # shapes that cannot broadcast
        shapes = str(err).split("broadcasting:")[-1].strip(" .")
        return f"crashes at step {len(losses_seen) + 1}: W1 - lr * dW1 with shapes {shapes}"
    return (f"loss {losses_seen[0]:.3f} -> {losses_seen[-1]:.3g}, "
            f"b2 shape {tuple(params['b2'].shape)} (should be (1,))")

for bug in tqdm(BUGS, desc="training with each bug", leave=False):
    print(f"{bug:22} | {train_with(bug)}")
"""),
    md(r"""
Look at the "bias not summed" row: its training loss ends *lower* than the correct version's.
Broadcasting turned `b2` into a `(300, 1)` matrix, one free bias per training example, so the
network simply memorises the training targets, and the result cannot even be applied to a batch
of another size. A loss that is suspiciously good is a symptom too. "Missing 1/N" and the sign
error both blow the loss up to `nan` (overflow): one by steps 300 times too large, the other by
climbing the loss instead of descending it.

Take-aways: **check shapes** (each gradient has its parameter's shape); **check the gradient
numerically in `float64`** on a tiny network before training a large one; when it fails, look
at *which* parameter is worst and at the *ratio* to the true gradient (a constant ratio points to a
scale or sign bug, errors confined to one layer point to that layer's line); and **test with a
sigmoid or tanh**, not only ReLU. `nnlib.grading`'s checkers in the assignment give exactly these
diagnoses.
"""),
    md(r"""
## 14. Try it

<details><summary><b>1.</b> Write the two lines of <code>mlp_backward</code> that change for a <b>tanh</b> hidden layer.</summary>

Only the slope: $\varphi'(z) = 1 - \tanh^2(z)$, so `dZ1 = dA1 * (1 - jnp.tanh(Z1) ** 2)`, or, reusing the
cache, `dZ1 = dA1 * (1 - A1 ** 2)` (for tanh the slope is conveniently a function of the output).
Everything else (the matrix products, the sums over the batch) is unchanged.
</details>

<details><summary><b>2.</b> Add a second hidden layer. Which quantities does the backward pass need to keep in the cache?</summary>

Each layer's input (for its weight gradient, $X^{\top}\Delta$) and each activation's pre-activation
(for $\varphi'(Z)$). Backward goes: $\Delta_3 \to (dW_3, db_3) \to \Delta_3 W_3^{\top} \odot \varphi'(Z_2) = \Delta_2
\to (dW_2, db_2) \to \Delta_2 W_2^{\top}\odot\varphi'(Z_1) = \Delta_1 \to (dW_1, db_1)$. This is why
`nnlib.layers.Sequential` just calls each layer's `backward` in reverse order.
</details>

<details><summary><b>3.</b> In the tiny graph of Section 2, the weight $w$ is also used a second time: $E = (\sigma(wx+b) - t)^2 + \lambda w^2$. What is $\partial E/\partial w$?</summary>

Sum over the two paths from $w$ to $E$: $\partial E/\partial w = 2(h-t)\,h(1-h)\,x + 2\lambda w$. This is
the L2 penalty (weight decay) of lesson 06, and the reason backward passes *accumulate* (`+=`)
gradients.
</details>

<details><summary><b>4.</b> Replace the training loss by binary cross-entropy on the logit $\hat y$. Which single line of the training code changes, and what does the backward pass start from?</summary>

`net_loss` becomes `losses.sigmoid_binary_cross_entropy(net(params, X), T)`; `relu_backward` is
untouched, because it only needs the error at the output $\partial E/\partial \hat Y$, now
$(\sigma(\hat Y) - T)/N$ instead of $2(\hat Y - T)/N$. The loss and the network's backward are
separate pieces joined by the chain rule.
</details>

## 15. Graded assignment

`assignments/backprop/backprop.ipynb`: implement the forward pass with a cache, the backward pass
of each layer (dense, ReLU/sigmoid, MSE and softmax cross-entropy) and of the whole network,
your own gradient checker, and train your network with your own gradients through the
autodiff bridge. The checkers recognise the five bugs above.
"""),
    md(r"""
## References

- Rumelhart, D. E., Hinton, G. E., & Williams, R. J. (1986). *Learning representations by
  back-propagating errors.* Nature, 323, 533–536.
- Baur, W., & Strassen, V. (1983). *The complexity of partial derivatives.* Theoretical Computer
  Science, 22(3), 317–330.
- Griewank, A., & Walther, A. (2008). *Evaluating Derivatives: Principles and Techniques of
  Algorithmic Differentiation* (2nd ed.). SIAM.
- Baydin, A. G., Pearlmutter, B. A., Radul, A. A., & Siskind, J. M. (2018). *Automatic
  differentiation in machine learning: a survey.* Journal of Machine Learning Research, 18(153), 1–43.
- Bishop, C. M. (2006). *Pattern Recognition and Machine Learning.* Springer. (§4.3.2 logistic
  regression's gradient; §5.3 error backpropagation, §5.3.3 efficiency and finite differences.)
- LeCun, Y., Bottou, L., Orr, G. B., & Müller, K.-R. (1998). *Efficient BackProp.* In Neural
  Networks: Tricks of the Trade, LNCS 1524, 9–50. Springer.
- Nair, V., & Hinton, G. E. (2010). *Rectified linear units improve restricted Boltzmann
  machines.* ICML 2010.
- Glorot, X., Bordes, A., & Bengio, Y. (2011). *Deep sparse rectifier neural networks.*
  AISTATS 2011.
- Goodfellow, I., Bengio, Y., & Courville, A. (2016). *Deep Learning.* MIT Press. (§6.2.2 output
  units and their losses, §6.3.1 ReLU, §6.5 back-propagation.)
"""),
]
