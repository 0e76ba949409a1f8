"""Training: jitted steps and ``fit`` with one ``lax.scan`` per epoch.

Pure functions (pytrees in, pytrees out)::

    step = make_train_step(model, "categorical_crossentropy", "adam")        # jitted
    params, opt_state, state, loss = step(params, opt_state, state, xb, yb, key)
    result = fit(model, params, x, y, loss="categorical_crossentropy", optimizer="adam",
                 epochs=10, batch_size=32, key=jax.random.key(0), metrics=["accuracy"])
    result.params, result.history["loss"]

Keras's ``model.compile / fit / evaluate / predict`` are in :mod:`nnlib.models`, built on these.

Fused softmax: a model ending in a softmax (``Softmax`` layer or ``Dense(...,
activation="softmax")``) trained with categorical / sparse categorical cross-entropy on
probabilities is trained on its logits with ``softmax_cross_entropy`` (``_with_integer_labels``)
which is numerically stable (no ``log(0)``) and has the gradient ``softmax(z) - y``; a final
sigmoid with ``binary_crossentropy`` likewise uses ``sigmoid_binary_cross_entropy``. Keras
does the same. The model's outputs (``predict``) stay probabilities.

Modules, from the bottom up: :mod:`~nnlib.train.metrics` (what ``fit`` reports),
:mod:`~nnlib.train.resolve` (names to losses, optimizers, metrics), :mod:`~nnlib.train.head`
(the fused head), :mod:`~nnlib.train.prepare` (checking and placing the data),
:mod:`~nnlib.train.step` (train/eval steps), :mod:`~nnlib.train.loop` (``fit``).
"""

from nnlib.train.loop import FitResult, NonFiniteLossError, fit
from nnlib.train.metrics import METRICS, accuracy, mean_absolute_error, mean_squared_error
from nnlib.train.step import evaluate, make_eval_step, make_train_step, predict

__all__ = [
    "METRICS",
    "FitResult",
    "NonFiniteLossError",
    "accuracy",
    "evaluate",
    "fit",
    "make_eval_step",
    "make_train_step",
    "mean_absolute_error",
    "mean_squared_error",
    "predict",
]
