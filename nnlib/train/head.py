"""The **fused softmax** rule: which part of the model the loss is computed from.

When the model ends in a softmax (a ``Softmax`` layer or ``Dense(..., activation="softmax")``)
and the loss is categorical cross-entropy on probabilities, training computes the loss from
the logits ``z`` instead::

    CE(softmax(z), y) = -sum_k y_k log softmax(z)_k = logsumexp(z) - sum_k y_k z_k

which never takes ``log(0)`` and whose gradient is simply ``softmax(z) - y`` (Bridle 1990).
Keras does the same internally for a softmax output. Sigmoid + binary cross-entropy is fused
the same way (``log sigmoid(z)`` computed stably). Predictions are unchanged: the model still
outputs probabilities; only the loss (and its gradient) is computed from the logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

# Canonical nnlib.losses names of the probability losses that can be fused with the output.
_FUSABLE = {"categorical_cross_entropy": "softmax", "sparse_categorical_cross_entropy": "softmax",
            "binary_cross_entropy": "sigmoid"}


class Head(NamedTuple):
    """How training computes the loss from the model.

    ``net`` is the layer (the model, or the model without its final softmax/sigmoid) whose
    output the loss consumes; ``net_params(params)`` / ``net_state(state)`` select its part of
    the model's pytrees and ``full_state(state, net_state)`` puts an updated state back.
    ``activation`` maps ``net``'s output to the model's output (identity if not fused);
    ``loss`` is the loss on ``net``'s output, ``loss_grad`` its hand-written gradient or None.
    """

    net: Any
    net_params: Callable
    net_state: Callable
    full_state: Callable
    activation: Callable
    loss: Callable
    loss_grad: Callable | None
    fused: bool
    threshold: float  # accuracy threshold for a single output (0 when it is a logit)


def _identity(z):
    return z


def find_head(model: Any, spec: Any, *, fuse: bool = True) -> Head:
    """Builds the :class:`Head` for ``model`` and the ``Loss`` ``spec`` (fusing if possible)."""
    from nnlib import layers, losses

    plain = Head(model, _identity, _identity, lambda s, ns: ns, _identity, spec.fn, spec.grad,
                 False, 0.0 if spec.from_logits else 0.5)
    kind = _FUSABLE.get(spec.name) if not spec.from_logits else None
    if not fuse or kind is None:
        return plain
    stack = list(getattr(model, "layers", None) or [])
    if not isinstance(model, layers.Sequential) or not stack:
        return plain
    last = stack[-1]
    want = layers.Sigmoid if kind == "sigmoid" else layers.Softmax
    if isinstance(last, want):
        head_layers = stack[:-1]
    elif isinstance(last, layers.Dense) and isinstance(layers.get_activation(last.activation), want):
        linear = layers.Dense(last.units, activation=None, use_bias=last.use_bias,
                              kernel_init=last.kernel_init, bias_init=last.bias_init)
        head_layers = stack[:-1] + [linear]
    else:
        return plain
    if not head_layers:
        return plain
    n = len(head_layers)
    net = layers.Sequential(head_layers)
    if isinstance(last, want):
        net_params, net_state = (lambda p: list(p)[:n]), (lambda s: list(s)[:n])
        full_state = lambda s, ns: list(ns) + list(s)[n:]
    else:
        net_params, net_state = (lambda p: list(p)), (lambda s: list(s))
        full_state = lambda s, ns: list(ns)
    fused = losses.get(spec, from_logits=True)  # the same loss on the logits side
    activation = layers.sigmoid if kind == "sigmoid" else layers.softmax
    return Head(net, net_params, net_state, full_state, activation, fused.fn, fused.grad,
                True, 0.5)
