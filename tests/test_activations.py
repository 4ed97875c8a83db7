"""Activations by name (Keras's names and defaults) against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ndgrad
from ndgrad import activations

X = np.linspace(-6, 6, 24, dtype="float32").reshape(4, 6)

TORCH = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda t: torch.softmax(t, -1),
    "log_softmax": lambda t: torch.log_softmax(t, -1),
    "softplus": F.softplus,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.2),  # Keras's negative slope
    "elu": F.elu,
    "gelu": F.gelu,  # exact (erf) form
    "linear": lambda t: t,
}


def test_every_registered_name_is_tested():
    assert set(activations.ACTIVATIONS) == set(TORCH)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_activation_matches_torch(backend, name):
    fn = activations.get(name)
    x = ndgrad.tensor(X, device=backend, requires_grad=True)
    tx = torch.from_numpy(X.copy()).requires_grad_(True)
    y, ty = fn(x), TORCH[name](tx)
    assert y.shape == X.shape and y.device == backend
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.cos(X)
    (y * ndgrad.tensor(g, device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_get_accepts_names_callables_and_none():
    assert activations.get(None) is activations.linear
    assert activations.get("ReLU") is activations.relu
    assert activations.get(ndgrad.tanh) is ndgrad.tanh

    def custom(x):
        return x * 2

    assert activations.get(custom) is custom


@pytest.mark.parametrize("name", sorted(TORCH))
def test_name_of_round_trips(name):
    assert activations.name_of(activations.get(name)) == name


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'swishy'") as info:
        activations.get("swishy")
    for name in TORCH:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="Valid names"):
        ndgrad.layers.Dense(3, activation="swishy")
