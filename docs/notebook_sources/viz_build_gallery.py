"""Writes notebooks/widgets_gallery.ipynb (one section per nnlib.viz widget), unexecuted.

Then execute it in place so the stored outputs are the real ones::

    .venv/bin/python docs/notebook_sources/viz_build_gallery.py
    PYTHONPATH=. .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
        notebooks/widgets_gallery.ipynb
"""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "notebooks" / "widgets_gallery.ipynb"

CELLS = [
    ("md", """
# Widget gallery

Every interactive explorer of the course, in one place. Each one is a function in
`nnlib.viz` that returns an `ipywidgets` widget. Moving a control recomputes a plain
Python function of the controls' values (`explorer.state` holds what it returned) and
redraws **one** matplotlib figure, shown as an image; so the same code runs in JupyterLab,
in Voilà, and in the tests, which set the controls from Python and check the drawn data.

Colours follow the Okabe-Ito palette, which stays distinguishable with the common kinds of
colour blindness; maps use *cividis* or a blue-white-orange scale.

> The widgets need a running kernel: in a static view (GitHub, a PDF) you see the figure
> as it was when the notebook was executed, not the controls.
"""),
    ("code", """
from nnlib import viz
print(sorted(n for n in viz.__all__ if n.endswith(("explorer", "race", "stepper", "viewer", "Monitor"))))
"""),
    ("md", """
## Static plots

The helpers in `nnlib.viz.plots` take everything they draw as arguments. Here, training
curves with a validation curve, the 8x8 digits, and the weights of a Glorot and a He
initialised layer.
"""),
    ("code", """
import jax
import matplotlib.pyplot as plt
from nnlib import data, init

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
history = {"loss": [1.2, 0.7, 0.45, 0.33, 0.27, 0.23], "val_loss": [1.25, 0.8, 0.6, 0.55, 0.56, 0.6]}
viz.plot_history(ax1, history, title="training vs validation loss")
k1, k2 = jax.random.split(jax.random.key(0))
viz.plot_histograms(ax2, {"glorot_uniform": init.glorot_uniform(k1, (256, 256)),
                          "he_normal": init.he_normal(k2, (256, 256))},
                    title="initial weights, 256 x 256 layer", xlabel="weight")
plt.show()

x, y = data.load_digits(images=True)
fig = plt.figure(figsize=(10, 1.8), layout="constrained")
viz.image_grid(fig, x[:10], labels=y[:10], ncols=10, title="scikit-learn's 8x8 digits")
plt.show()
"""),
    ("md", """
## 1. Learning-rate explorer

Gradient descent $x_{t+1} = x_t - \\eta \\nabla f(x_t)$ on a 1-D quadratic, a 2-D quadratic and a
non-convex double well. On a quadratic with largest curvature $L$ each step multiplies the
error by $1 - \\eta L$: it shrinks monotonically for $\\eta < 1/L$, oscillates for
$1/L < \\eta < 2/L$ and blows up for $\\eta > 2/L$ (the dashed line on the right).
"""),
    ("code", """
lr = viz.lr_explorer("quadratic_1d", lr=0.8)
lr
"""),
    ("code", """
for rate in (0.3, 0.8, 1.1):
    lr.set(lr=rate)
    print(lr.status.value.replace("<b>", "").replace("</b>", ""))
lr.set(lr=0.8)
"""),
    ("md", """
## 2. Optimizer race

SGD, momentum (Polyak 1964), Nesterov, RMSprop (Hinton's lecture 6e) and Adam (Kingma & Ba
2015) from the same start on Rosenbrock's valley, a saddle and an ill-conditioned quadratic.
Your own optimizer (anything with `init(params)` and `update(grads, state, params)`, or a
factory taking `learning_rate`) runs beside them: here a hand-written heavy-ball momentum,
whose path lies exactly on top of the reference `momentum` path (as it should).
"""),
    ("code", """
from typing import NamedTuple
import jax.numpy as jnp

class MyMomentumState(NamedTuple):
    velocity: jnp.ndarray

def my_momentum(learning_rate, momentum=0.9):
    def init(params):
        return MyMomentumState(jnp.zeros_like(params))
    def update(grads, state, params=None):
        v = momentum * state.velocity + grads
        return -learning_rate * v, MyMomentumState(v)
    return type("MyMomentum", (), {"init": staticmethod(init), "update": staticmethod(update)})()

race = viz.optimizer_race("ill_conditioned", student={"my momentum": my_momentum}, student_lr="sgd")
race
"""),
    ("md", """
## 3. Computational-graph stepper

Press **next**: first each node's value appears (forward pass), then the gradient
$\\partial L/\\partial\\,\\cdot$ flows back one edge at a time, each edge showing the chain-rule
product *upstream gradient x local gradient* (Rumelhart et al. 1986). The second graph is a
2-2-1 network with sigmoid hidden units and a squared error.
"""),
    ("code", """
expr = viz.graph_stepper("expression")
expr.controls["step"].value = 6   # three forward steps, the seed, two backward edges
expr
"""),
    ("code", """
net = viz.graph_stepper("network 2-2-1")
net.controls["step"].value = net.state["n_steps"]
net
"""),
    ("md", """
## 4. Activation explorer

The grey zones are where the derivative is below the threshold: a unit there passes almost no
gradient back (it *saturates*). Sigmoid's derivative never exceeds $1/4$.
"""),
    ("code", """
viz.activation_explorer("sigmoid")
"""),
    ("md", """
## 5. Depth and initialization

Per-layer gradient norms and activation histograms of a freshly initialised deep MLP. Tiny
weights with sigmoid make the gradient vanish layer after layer; Glorot (tanh) and He (ReLU)
initialisation keep it level (Glorot & Bengio 2010; He et al. 2015); batch norm
(Ioffe & Szegedy 2015) rescues even a bad initialisation.
"""),
    ("code", """
deep = viz.depth_explorer(depth=20, activation="sigmoid", init="normal(0.01)")
deep
"""),
    ("md", """
## 6. Dropout viewer

Each click of **resample mask** draws a new mask; dropped units are grey crosses, the kept ones
are multiplied by $1/(1-p)$ (inverted dropout, Srivastava et al. 2014), which keeps every unit's
expected value unchanged (black diamonds: the mean over 400 masks).
"""),
    ("code", """
viz.dropout_viewer(0.5)
"""),
    ("md", """
## 7. Regularization explorer

A 2-64-64-1 network on 80 noisy points: without regularization it fits the training set
perfectly and the validation loss climbs; an L2 penalty or dropout closes the gap, too much
of it underfits. The **epoch** slider shows the decision boundary during training.
"""),
    ("code", """
viz.regularization_explorer(l2=0.0, rate=0.0)
"""),
    ("md", """
## 8. Training monitor

`TrainingMonitor` is a widget *and* a callback: `fit(..., callbacks=[monitor])` calls
`monitor(epoch, logs)` after every epoch, and the plot updates while training runs.
"""),
    ("code", """
from nnlib import layers, train

x, y = data.load_digits()
model = layers.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
params, _ = model.init(jax.random.key(0), (64,))
monitor = viz.TrainingMonitor(metrics=("loss", "accuracy"))
display(monitor)
result = train.fit(model, params, x, y, loss="sparse_categorical_crossentropy", optimizer="adam",
                   epochs=8, batch_size=64, key=jax.random.key(1), validation_split=0.2,
                   metrics=["accuracy"], progress=False, callbacks=[monitor])
print("final validation accuracy:", round(result.history["val_accuracy"][-1], 3))
"""),
    ("md", """
## 9. Boundary monitor

`BoundaryMonitor` shows a 2-D classifier's decision boundary (the black $P = 0.5$ line over
its class-1 probability) next to the loss, live while it trains. It is a `fit` callback
too: it takes a `params` keyword, so `fit(..., callbacks=[monitor])` hands it the parameters
after every epoch (in your own training loop, call `monitor.update(step, params, loss)`).
Every snapshot is kept: after training, the **epoch** slider replays the boundary's evolution.
"""),
    ("code", """
from nnlib import optim

xm, ym = data.make_moons(200, key=jax.random.key(5), noise=0.15)
moons = layers.Sequential([layers.Dense(16, activation="tanh"), layers.Dense(1, activation="sigmoid")])
moons_params, _ = moons.init(jax.random.key(6), (2,))
boundary = viz.BoundaryMonitor(moons.apply, xm, ym, every=5, step_label="epoch")
display(boundary)
fitted = train.fit(moons, moons_params, xm, ym[:, None].astype("float32"),
                   loss="binary_crossentropy", optimizer=optim.adam(0.05), epochs=30,
                   batch_size=50, key=jax.random.key(7), metrics=["accuracy"], progress=False,
                   callbacks=[boundary])
print("final training accuracy:", round(fitted.history["accuracy"][-1], 2))
"""),
    ("code", """
for epoch in (2, 30):          # scrub back to epoch 2, then forward to the end
    boundary.slider.value = epoch
    print(boundary.status.value)
"""),
    ("md", """
## 10. Convolution explorer

A 3x3 kernel slides over a real photograph (or a digit); pick a preset edge or blur filter,
or type your own numbers. The feature map is the cross-correlation that `nnlib.layers.Conv2D`
computes; white is zero, blue negative, orange positive.
"""),
    ("code", """
viz.conv_explorer("china (photo)", "sobel x (vertical edges)")
"""),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for i, (kind, text) in enumerate(CELLS):
        maker = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        cell = maker(text.strip("\n"))
        cell["id"] = f"gallery-{i:02d}"
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")
