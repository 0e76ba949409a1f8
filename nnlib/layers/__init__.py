"""Neural-network layers with explicit forward and backward passes.

Every layer holds hyperparameters only and follows one contract (see
:mod:`nnlib.layers.base`)::

    params, out_shape = layer.init(key, in_shape)        # in_shape excludes the batch axis
    state = layer.init_state(in_shape)                   # {} except BatchNorm
    y, cache = layer.forward(params, x, train=False, key=None, state=None)
    dparams, dx = layer.backward(params, cache, dy)
    y = layer.apply(params, x, train=False, key=None, state=None)

Images are NHWC ``(batch, height, width, channels)``. The functional activations
(``sigmoid``, ``relu``, ...) are here too, for lessons and widgets.
"""

from nnlib.layers import activations
from nnlib.layers.activations import *  # noqa: F403 (the names in activations.__all__)
from nnlib.layers.base import Layer, updated_state
from nnlib.layers.batchnorm import BatchNorm
from nnlib.layers.conv import Conv2D, Flatten, MaxPool2D
from nnlib.layers.dense import Dense
from nnlib.layers.dropout import Dropout
from nnlib.layers.sequential import Sequential

__all__ = sorted([
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "Sequential",
    "updated_state",
    *activations.__all__,  # the activation layers and functions, listed once, there
])
