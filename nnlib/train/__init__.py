"""Training: jitted steps, ``fit`` with one ``lax.scan`` per epoch, and a Keras-like surface.

Pure functions (pytrees in, pytrees out)::

    step = make_train_step(model, "categorical_crossentropy", "adam")        # jitted
    params, opt_state, state, loss = step(params, opt_state, state, xb, yb, key)
    result = fit(model, params, x, y, loss="categorical_crossentropy", optimizer="adam",
                 epochs=10, batch_size=32, key=jax.random.key(0), metrics=["accuracy"])
    result.params, result.history["loss"]

and the Keras-like surface that ``Sequential.compile/fit/evaluate/predict`` delegate to
(:func:`compile_model`, :func:`fit_model`, :func:`evaluate_model`, :func:`predict_model`).

Fused softmax: a model ending in a softmax (``Softmax`` layer or ``Dense(...,
activation="softmax")``) trained with categorical / sparse categorical cross-entropy on
probabilities is trained on its logits with ``softmax_cross_entropy`` (``_with_integer_labels``)
which is numerically stable (no ``log(0)``) and has the gradient ``softmax(z) - y``; a final
sigmoid with ``binary_crossentropy`` likewise uses ``sigmoid_binary_cross_entropy``. Keras
does the same. The model's outputs (``predict``) stay probabilities.

Modules: :mod:`~nnlib.train.step` (train/eval steps), :mod:`~nnlib.train.loop` (``fit``),
:mod:`~nnlib.train.keras` (the Keras-like surface), :mod:`~nnlib.train._setup` (name lookups,
metrics, the fused head).
"""

from nnlib.train._setup import METRICS, accuracy, mae, mse
from nnlib.train.keras import (
    CompileConfig,
    History,
    compile_model,
    evaluate_model,
    fit_model,
    predict_model,
)
from nnlib.train.loop import FitResult, NonFiniteLossError, fit
from nnlib.train.step import evaluate, make_eval_step, make_train_step, predict

__all__ = [
    "METRICS",
    "CompileConfig",
    "FitResult",
    "History",
    "NonFiniteLossError",
    "accuracy",
    "compile_model",
    "evaluate",
    "evaluate_model",
    "fit",
    "fit_model",
    "mae",
    "make_eval_step",
    "make_train_step",
    "mse",
    "predict",
    "predict_model",
]
