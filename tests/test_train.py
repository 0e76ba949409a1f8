"""Tests for nnlib.train: steps, fit (scan epochs, early stopping, NaN), the Keras surface."""

import itertools
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnlib import data, losses, optim, train
from nnlib.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, ReLU, Softmax
from nnlib.models import Sequential  # the layer container, plus Keras's compile/fit

F64 = jnp.float64


def _toy(n=70, d=5, k=3, seed=0):
    """A small, learnable classification problem: float64 x (n, d), one-hot y (n, k)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, k))
    labels = np.argmax(x @ w, axis=1)
    return x, np.eye(k)[labels], labels.astype(np.int32)


def _mlp(k=3, hidden=8, activation="tanh", **extra):
    return Sequential([Dense(hidden, activation=activation), *extra.get("middle", []),
                       Dense(k, activation="softmax")])


def _params(model, d, dtype=F64, seed=0):
    params, _ = model.init(jax.random.key(seed), (d,), dtype=dtype)
    return params


def _fit(model, params, x, y, **kw):
    kw = {"loss": "categorical_crossentropy", "optimizer": "adam", "epochs": 3,
          "batch_size": 16, "key": jax.random.key(1), "progress": False, **kw}
    return train.fit(model, params, x, y, **kw)


def _digits_split():
    x, y = data.load_digits()
    (x_tr, y_tr), _, (x_te, y_te) = data.train_val_test_split(
        x, y, key=jax.random.key(0), val_fraction=0.0, test_fraction=0.2)
    x_tr, x_te, _ = data.standardize(x_tr, x_te)
    return x_tr, data.one_hot(y_tr, 10), x_te, data.one_hot(y_te, 10)


# ----------------------------------------------------------------------- the classic example


def test_classic_keras_example_on_digits_reaches_96_percent():
    # Keras's classic MNIST example, verbatim, on the 8x8 digits ("adam" is Adam(1e-3)).
    x_train, y_train, x_test, y_test = _digits_split()
    start = time.perf_counter()
    model = Sequential([Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    loss, acc = model.evaluate(x_test, y_test)
    seconds = time.perf_counter() - start
    assert acc >= 0.96, f"test accuracy {acc:.4f} after {seconds:.1f} s"
    assert set(history.history) == {"loss", "accuracy"}
    assert all(len(v) == 10 for v in history.history.values())
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert 0.0 < loss < 0.3
    probs = model.predict(x_test[:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.params is not None and model.opt_state is not None
    print(f"classic digits example: test accuracy {acc:.4f} in {seconds:.2f} s")


# ----------------------------------------------------------------------- steps


def test_manual_and_jax_gradients_give_the_same_trajectory():
    x, y, _ = _toy(n=64)
    # Dropout (a key per step) and BatchNorm (state) exercise both paths.
    model = Sequential([Dense(8, use_bias=False), BatchNorm(), ReLU(), Dropout(0.2), Dense(3),
                        Softmax()])  # (a bias before BatchNorm would get only rounding noise)
    tx = optim.adam(0.01)
    runs = {}
    for grad in ("jax", "manual"):
        step = train.make_train_step(model, "categorical_crossentropy", tx, grad=grad)
        params = _params(model, 5)
        opt_state, state, trajectory = tx.init(params), model.init_state((5,), dtype=F64), []
        for i in range(8):
            lo = 16 * (i % 4)
            params, opt_state, state, value = step(params, opt_state, state, x[lo:lo + 16],
                                                   y[lo:lo + 16], jax.random.key(i))
            trajectory.append(float(value))
        runs[grad] = (trajectory, params, state)
    np.testing.assert_allclose(runs["manual"][0], runs["jax"][0], rtol=1e-10, atol=0)
    assert runs["jax"][0][-1] < runs["jax"][0][0]
    for a, b in zip(jax.tree.leaves(runs["manual"][1:]), jax.tree.leaves(runs["jax"][1:])):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    assert float(jnp.max(jnp.abs(runs["jax"][2][1]["mean"]))) > 0  # BatchNorm stats updated


def test_fused_softmax_loss_equals_the_probability_loss_and_stays_finite():
    x, y, _ = _toy(n=16)
    model = _mlp()
    params = _params(model, 5)
    step = train.make_train_step(model, "categorical_crossentropy", optim.sgd(0.1))
    _, _, _, value = step(params, optim.sgd(0.1).init(params), model.init_state((5,), dtype=F64),
                          x, y, None)
    expected = losses.categorical_cross_entropy(model.apply(params, x), y)
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    # Huge logits: softmax saturates to exact 0/1, the fused loss stays finite.
    big = [params[0], {"W": params[1]["W"] * 1e4, "b": params[1]["b"]}]
    _, _, _, value = step(big, optim.sgd(0.1).init(big), [{}, {}], x, y, None)
    assert np.isfinite(float(value))


def test_sigmoid_binary_and_sparse_labels_train():
    x, _, labels = _toy(n=64, k=2)
    model = Sequential([Dense(8, activation="tanh"), Dense(1, activation="sigmoid")])
    r = _fit(model, _params(model, 5), x, labels[:, None].astype(np.float64),
             loss="binary_crossentropy", optimizer=optim.adam(0.05), metrics=["accuracy"],
             epochs=20)
    assert r.history["loss"][-1] < 0.6 * r.history["loss"][0]
    assert r.history["accuracy"][-1] > 0.85
    x3, _, labels3 = _toy(n=64)
    model = _mlp()
    r = _fit(model, _params(model, 5), x3, labels3, loss="sparse_categorical_crossentropy",
             optimizer=optim.adam(0.05), metrics=["accuracy"], epochs=20)
    assert r.history["loss"][-1] < 0.6 * r.history["loss"][0]


def test_train_step_does_not_retrace_and_epochs_do_not_recompile():
    x, y, _ = _toy()
    traces = []

    class CountingDense(Dense):  # runs its Python code only when JAX traces it
        def forward(self, *args, **kwargs):
            traces.append(1)
            return super().forward(*args, **kwargs)

    model = Sequential([CountingDense(4, activation="tanh"), Dense(3, activation="softmax")])
    params = _params(model, 5)
    step = train.make_train_step(model, "mse", "sgd")
    opt_state = optim.sgd(0.01).init(params)
    args = (model.init_state((5,), dtype=F64), x[:8], y[:8], None)
    params, opt_state, *_ = step(params, opt_state, *args)
    n_first = len(traces)
    step(params, opt_state, *args)
    assert len(traces) == n_first == 1

    traces.clear()
    after_epoch = []
    _fit(model, params, x, y, epochs=4, validation_split=0.2, metrics=["mae"],
         callbacks=[lambda epoch, logs: after_epoch.append(len(traces))])
    # epoch 1 traces the scan body, the tail step and the eval step; later epochs reuse them
    assert after_epoch[0] > 0 and after_epoch == [after_epoch[0]] * 4


# ----------------------------------------------------------------------- fit


def test_fit_reads_the_device_once_per_epoch_and_never_per_step(monkeypatch):
    """On a GPU every read of a device array by the host (float(loss), np.asarray, a Python
    `if` on an array) waits for the device, so a read per training step would stall it every
    step. fit reads once per epoch: the number of host reads must not grow with the number of
    steps in an epoch (5 steps of 16 examples with a partial batch, or 18 steps of 4)."""
    from jax._src.array import ArrayImpl  # every host read of a jax.Array goes through _value

    reads = []
    real = ArrayImpl._value
    monkeypatch.setattr(ArrayImpl, "_value", property(lambda a: reads.append(1) or real.fget(a)))
    x, y, _ = _toy()
    model = _mlp()
    params = _params(model, 5)
    per_epoch = {}
    for batch_size in (16, 4):
        _fit(model, params, x, y, epochs=1, batch_size=batch_size)  # compile first
        reads.clear()
        _fit(model, params, x, y, epochs=4, batch_size=batch_size)
        per_epoch[batch_size] = len(reads) / 4
    assert per_epoch[16] == per_epoch[4] <= 3, per_epoch
    # the probe sees a read of the same kind as a per-step float(loss) would be
    reads.clear()
    float(jnp.sum(params[0]["W"]))
    assert len(reads) == 1




def test_early_stopping_stops_and_restores_best_params():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = Sequential([Dense(1)])
    params = _params(model, 3)
    # Validation targets with the opposite sign: val_loss rises as training fits y.
    common = {"loss": "mse", "optimizer": optim.sgd(0.05), "validation_data": (x, -y)}
    r = _fit(model, params, x, y, epochs=50, patience=3, **common)
    assert len(r.history["val_loss"]) == 4  # best at epoch 0, then 3 epochs without improvement
    assert r.history["val_loss"][0] == min(r.history["val_loss"])
    best = _fit(model, params, x, y, epochs=1, **common)
    for a, b in zip(jax.tree.leaves(r.params), jax.tree.leaves(best.params)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    last = _fit(model, params, x, y, epochs=50, patience=3, restore_best=False, **common)
    assert not np.allclose(last.params[0]["W"], best.params[0]["W"])


@pytest.mark.parametrize("activation, grad", [("tanh", "manual"), ("relu", "manual"),
                                              ("relu", "jax"), ("leaky_relu", "jax")])
def test_nan_input_raises_naming_the_step(activation, grad):
    x, y, _ = _toy()
    x[40, 2] = np.nan  # example 40 is in batch 2 (examples 32..47) without shuffling
    model = _mlp(activation=activation)  # a ReLU that turned NaN into 0 would hide it
    with pytest.raises(train.NonFiniteLossError, match=r"epoch 1/3.*global step 2") as info:
        _fit(model, _params(model, 5), x, y, shuffle=False, grad=grad)
    assert isinstance(info.value, ValueError)
    assert (info.value.epoch, info.value.step) == (0, 2) and np.isnan(info.value.value)


def test_one_nan_pixel_in_a_relu_convnet_raises_naming_the_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 6, 6, 1))
    y = np.eye(2)[(x.mean(axis=(1, 2, 3)) > 0).astype(int)]
    x[13, 2, 3, 0] = np.nan  # example 13 is in batch 1 (examples 8..15) without shuffling
    model = Sequential([Conv2D(2, 3, activation="relu"), Flatten(),
                        Dense(2, activation="softmax")])
    params, _ = model.init(jax.random.key(0), (6, 6, 1), dtype=F64)
    with pytest.raises(train.NonFiniteLossError, match=r"epoch 1/1.*global step 1") as info:
        _fit(model, params, x, y, epochs=1, batch_size=8, shuffle=False)
    assert (info.value.epoch, info.value.step) == (0, 1) and np.isnan(info.value.value)


def test_changing_a_hyperparameter_after_fit_changes_the_next_fit():
    x, y, _ = _toy(n=64)
    drop = Dropout(0.0)
    hidden = Dense(8, activation="relu")
    model = Sequential([hidden, drop, Dense(3, activation="softmax")])
    params = _params(model, 5)
    kw = {"epochs": 1, "batch_size": 64, "shuffle": False, "optimizer": "sgd"}
    before = _fit(model, params, x, y, **kw).history["loss"][0]
    drop.rate = 0.9  # the same layer object, a new hyperparameter
    after = _fit(model, params, x, y, **kw).history["loss"][0]
    fresh_model = Sequential([hidden, Dropout(0.9), Dense(3, activation="softmax")])
    fresh = _fit(fresh_model, params, x, y, **kw).history["loss"][0]
    assert after == pytest.approx(fresh, rel=1e-12)
    assert abs(after - before) > 1e-3
    hidden.activation = "tanh"  # a derived setting (the activation layer) follows too
    tanh = _fit(model, params, x, y, **kw).history["loss"][0]
    fresh_model = Sequential([Dense(8, activation="tanh"), Dropout(0.9),
                              Dense(3, activation="softmax")])
    assert tanh == pytest.approx(_fit(fresh_model, params, x, y, **kw).history["loss"][0],
                                 rel=1e-12)
    assert abs(tanh - after) > 1e-3
    drop.rate = 0.0  # back to the first configuration: the first result again
    hidden.activation = "relu"
    assert _fit(model, params, x, y, **kw).history["loss"][0] == pytest.approx(before, rel=1e-12)


def test_huge_learning_rate_raises_non_finite_error():
    x, _, _ = _toy(n=16)
    y = 1e3 * x[:, :1]
    model = Sequential([Dense(1)])
    with pytest.raises(train.NonFiniteLossError, match="global step") as info:
        _fit(model, _params(model, 5), x, y, loss="mse", optimizer=optim.sgd(1e3), epochs=100)
    assert info.value.step == info.value.epoch  # one step per epoch


def test_validation_split_takes_the_last_fraction():
    x, y, _ = _toy(n=80)
    model = _mlp()
    params = _params(model, 5)
    a = _fit(model, params, x, y, validation_split=0.25, metrics=["accuracy"])
    b = _fit(model, params, x[:60], y[:60], validation_data=(x[60:], y[60:]),
             metrics=["accuracy"])
    assert set(a.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for k in a.history:
        np.testing.assert_allclose(a.history[k], b.history[k], rtol=1e-12)
    ev = train.evaluate(model, a.params, x[60:], y[60:], loss="categorical_crossentropy",
                        metrics=["accuracy"], state=a.state)
    np.testing.assert_allclose(ev["loss"], a.history["val_loss"][-1], rtol=1e-10)


def test_keras_surface_is_deterministic_and_validates(capsys):
    x, y, _ = _toy(n=48)
    x = x.astype(np.float32)
    layers = _mlp().layers  # shared: the jitted functions are reused across the three models

    def run(seed):
        model = Sequential(layers)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["mse"],
                      seed=seed)
        h1 = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25)
        h2 = model.fit(x, y, epochs=2, batch_size=8, verbose=2)
        return h1.history, h2.history, model

    (a1, a2, model), (b1, b2, _), (c1, _, _) = run(3), run(3), run(4)
    assert a1 == b1 and a2 == b2  # same seed: identical floats
    assert a1["loss"] != c1["loss"]
    assert a1["loss"] != a2["loss"]  # a second fit continues with a new shuffle
    assert set(a1) == {"loss", "mse", "val_loss", "val_mse"}
    assert "Epoch 2/2 - loss: " in capsys.readouterr().out  # verbose=2: a line per epoch
    loss, mse_value = model.evaluate(x, y)
    assert 0 < mse_value < loss
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert isinstance(model.evaluate(x, y), float)  # no metrics: a float, like Keras
    with pytest.raises(ValueError, match=r"model was built for \(5,\)"):
        model.evaluate(x[:, :4], y)


def test_unknown_names_list_the_valid_ones():
    model = _mlp()
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'.*adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'categorical'.*categorical_crossentropy"):
        model.compile(optimizer="adam", loss="categorical")
    with pytest.raises(ValueError, match="unknown metric 'acuracy'.*accuracy.*mae.*mse"):
        train.make_eval_step(model, "mse", ["acuracy"])
    with pytest.raises(ValueError, match="grad must be one of jax, manual"):
        train.make_train_step(model, "mse", "adam", grad="auto")
    with pytest.raises(RuntimeError, match="compile"):
        _mlp().fit(np.ones((4, 5)), np.ones((4, 3)))


@pytest.mark.parametrize("change, error, message", [
    ({"x": np.ones((8, 5), dtype=np.int32)}, TypeError, "x must have a floating-point dtype"),
    ({"y": np.ones((7, 3))}, ValueError, "same number of examples.*8.*7"),
    ({"batch_size": 0}, ValueError, "batch_size must be positive, got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
    ({"epochs": 0}, ValueError, "epochs must be positive"),
    ({"epochs": True}, TypeError, "epochs must be an int, got bool"),
    ({"validation_split": 1.0}, ValueError, "validation_split must be in"),
    ({"validation_split": 0.9}, ValueError, "empty training or validation set"),
    ({"key": None}, ValueError, "needs a PRNG key"),
    ({"patience": 0}, ValueError, "patience must be positive"),
    ({"callbacks": [3]}, TypeError, "callbacks must be callables"),
    ({"validation_data": (np.ones((4, 5)),)}, ValueError, "validation_data must be a pair"),
])
def test_fit_validates_inputs(change, error, message):
    model = _mlp()
    kw = {"x": np.ones((8, 5)), "y": np.ones((8, 3)) / 3, **change}
    x, y = kw.pop("x"), kw.pop("y")
    with pytest.raises(error, match=message):
        _fit(model, _params(model, 5), x, y, **kw)


def test_metrics_functions():
    probs = jnp.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.4, 0.5, 0.1]])
    labels = jnp.array([1, 0, 1, 0])
    assert float(train.accuracy(probs, labels)) == pytest.approx(0.5)
    assert float(train.accuracy(probs, jax.nn.one_hot(labels, 3))) == pytest.approx(0.5)
    single = jnp.array([[0.9], [0.2], [0.6], [0.4]])
    assert float(train.accuracy(single, jnp.array([[1.0], [0.0], [0.0], [0.0]]))) == 0.75
    assert float(train.accuracy(single - 0.5, jnp.array([1, 0, 0, 0]), threshold=0.0)) == 0.75
    assert float(train.mean_absolute_error(single, jnp.zeros((4, 1)))) == pytest.approx(0.525)
    assert float(train.mean_squared_error(probs, labels)) == pytest.approx(
        float(jnp.mean((probs - jax.nn.one_hot(labels, 3)) ** 2)))


def test_callbacks_see_logs_and_can_stop_training(capsys):
    x, y, _ = _toy()
    seen = []

    def cb(epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch == 1  # True stops training after this epoch

    model = _mlp()
    r = _fit(model, _params(model, 5), x, y, epochs=5, metrics=["accuracy"], callbacks=[cb],
             progress=True)
    assert seen == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])]
    assert "fit:" in capsys.readouterr().err  # the tqdm bar
    assert len(r.history["loss"]) == 2


def test_callbacks_with_a_params_keyword_receive_each_epochs_params():
    x, y, _ = _toy()
    model = _mlp()
    params = _params(model, 5)
    got, plain, kw_seen = [], [], []

    def with_params(epoch, logs, params):
        got.append((epoch, logs["loss"], params))

    class KwargsCallback:  # a callable object taking **kwargs gets params= too
        def __call__(self, epoch, logs, **kwargs):
            kw_seen.append(sorted(kwargs))

    r = _fit(model, params, x, y, epochs=3,
             callbacks=[with_params, lambda epoch, logs: plain.append(epoch), KwargsCallback()])
    assert [e for e, _, _ in got] == [0, 1, 2] and plain == [0, 1, 2]
    assert kw_seen == [["params"]] * 3
    assert [loss for _, loss, _ in got] == r.history["loss"]
    structure = jax.tree.structure(params)
    for _, _, p in got:
        assert jax.tree.structure(p) == structure
        assert all(isinstance(leaf, jax.Array) and leaf.dtype == F64 for leaf in jax.tree.leaves(p))
    for (_, _, a), (_, _, b) in itertools.pairwise(got):  # the params after each epoch differ
        assert max(float(jnp.max(jnp.abs(u - v)))
                   for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))) > 1e-6
    for u, v in zip(jax.tree.leaves(got[-1][2]), jax.tree.leaves(r.params)):  # the last = result
        np.testing.assert_array_equal(u, v)


class _EndCounter:
    """A two-argument callback with on_train_end; optionally asks to stop after ``stop_at``."""

    def __init__(self, stop_at=None):
        self.epochs, self.ends, self.stop_at = [], 0, stop_at

    def __call__(self, epoch, logs):
        assert self.ends == 0, "on_train_end ran before the last epoch"
        self.epochs.append(epoch)
        return epoch == self.stop_at

    def on_train_end(self):
        self.ends += 1


def test_on_train_end_runs_once_at_the_end_early_stop_and_callback_stop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = Sequential([Dense(1)])
    params = _params(model, 3)
    common = {"loss": "mse", "optimizer": optim.sgd(0.05)}
    full = _EndCounter()
    _fit(model, params, x, y, epochs=3, callbacks=[full, lambda epoch, logs: None], **common)
    assert full.epochs == [0, 1, 2] and full.ends == 1
    early = _EndCounter()  # val_loss rises from epoch 0: patience stops after epoch 3
    r = _fit(model, params, x, y, epochs=50, patience=3, validation_data=(x, -y),
             callbacks=[early], **common)
    assert len(r.history["loss"]) == 4 and early.epochs == [0, 1, 2, 3] and early.ends == 1
    stopped, other = _EndCounter(stop_at=1), _EndCounter()
    _fit(model, params, x, y, epochs=10, callbacks=[stopped, other], **common)
    assert stopped.epochs == other.epochs == [0, 1] and stopped.ends == other.ends == 1
    failing = _EndCounter()  # an error is not an end of training: no on_train_end
    with pytest.raises(train.NonFiniteLossError):
        _fit(model, params, x, 1e3 * y, loss="mse", optimizer=optim.sgd(1e3), epochs=100,
             callbacks=[failing])
    assert failing.ends == 0
