"""nnlib.models: Keras's Sequential, one home above nnlib.layers and nnlib.train."""

from __future__ import annotations

import inspect

import jax
import numpy as np
import pytest

from nnlib import layers, models, train


def _data(n=64, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    labels = np.argmax(x @ rng.normal(size=(d, k)), axis=1)
    return x, np.eye(k, dtype=np.float32)[labels]


def _layers():
    return [layers.Dense(8, activation="tanh"), layers.Dense(3, activation="softmax")]


def test_the_layer_container_does_not_train_and_the_model_declares_its_state():
    for name in ("compile", "fit", "evaluate", "predict", "compile_config", "opt_state"):
        assert not hasattr(layers.Sequential(_layers()), name), name
    model = models.Sequential(_layers())
    assert isinstance(model, layers.Sequential)
    assert model.compile_config is None and model.opt_state is None and model.params is None
    fit = inspect.signature(models.Sequential.fit)
    assert list(fit.parameters) == ["self", "x", "y", "epochs", "batch_size", "validation_split",
                                    "validation_data", "verbose", "callbacks", "patience", "key"]
    assert list(inspect.signature(models.Sequential.compile).parameters) == [
        "self", "optimizer", "loss", "metrics", "seed"]


def test_fit_is_train_fit_with_keras_defaults_and_keys_from_the_seed():
    # What model.fit does, written out with the pure functions: the same numbers.
    x, y = _data()
    model = models.Sequential(_layers())
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  seed=7)
    got = model.fit(x, y, epochs=3, batch_size=16, verbose=0, validation_split=0.25)

    net = layers.Sequential(model.layers)
    params, _ = net.init(jax.random.fold_in(jax.random.key(7), 0), (5,))
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(7), 1), 0)
    want = train.fit(net, params, x, y, loss="categorical_crossentropy", optimizer="adam",
                     epochs=3, batch_size=16, key=key, metrics=("accuracy",),
                     validation_split=0.25, progress=False)
    assert got.history == want.history
    leaves = zip(jax.tree.leaves(model.params), jax.tree.leaves(want.params), strict=True)
    assert all(np.array_equal(a, b) for a, b in leaves)
    assert model.opt_state is not None and got.model is model and got.epoch == [0, 1, 2]
    loss, acc = model.evaluate(x, y)
    logs = train.evaluate(net, want.params, x, y, loss="categorical_crossentropy",
                          metrics=("accuracy",))
    assert (loss, acc) == pytest.approx((logs["loss"], logs["accuracy"]), rel=1e-6)
    np.testing.assert_allclose(model.predict(x[:4]), train.predict(net, want.params, x[:4]),
                               rtol=1e-6)


def test_a_second_fit_continues_and_compile_resets_only_the_optimizer():
    x, y = _data()
    model = models.Sequential(_layers())
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    first = model.fit(x, y, epochs=2, verbose=0).history["loss"]
    second = model.fit(x, y, epochs=2, verbose=0).history["loss"]
    assert second[0] < first[0]  # it goes on from the trained parameters
    trained = jax.tree.leaves(model.params)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert model.opt_state is None
    assert all(a is b for a, b in zip(jax.tree.leaves(model.params), trained, strict=True))
    with pytest.raises(RuntimeError, match="compile"):
        models.Sequential(_layers()).fit(x, y)
    with pytest.raises(ValueError, match="compiled without a loss"):
        m = models.Sequential(_layers())
        m.compile(optimizer="adam")
        m.evaluate(x, y)
