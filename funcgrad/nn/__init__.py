"""funcgrad.nn: layers as pairs of pure functions, activations, losses and initialisers.

Example:
    >>> import funcgrad as fg
    >>> from funcgrad import nn
    >>> model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    >>> params = model.init(fg.random.PRNGKey(0))
    >>> logits = model.apply(params, fg.numpy.ones((8, 64)))
"""
from funcgrad.nn import initializers, losses  # noqa: F401
from funcgrad.nn.functions import *  # noqa: F401,F403
from funcgrad.nn.layers import *  # noqa: F401,F403
from funcgrad.nn.module import Module, Sequential  # noqa: F401
