"""The Optimizer contract: in-place state, checks, devices, config, `get`, descent."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.backends import get_backend
from ndgrad.errors import DeviceError, ShapeError

from .helpers import move, random_problem

ALL = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd_momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.01, centered=True, momentum=0.5),
    "adam": lambda: optimizers.Adam(0.05),
    "amsgrad": lambda: optimizers.Adam(0.05, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.05),
}
N_SLOTS = {
    "sgd": 0,
    "sgd_momentum": 1,
    "sgd_nesterov": 1,
    "rmsprop": 1,
    "rmsprop_centered_momentum": 3,
    "adam": 2,
    "amsgrad": 3,
    "adamw": 2,
}


def make_vars(device: str, dtype: str = "float32") -> tuple[list, list]:
    weights, grads = random_problem(steps=3)
    ws = [ndgrad.tensor(w, dtype=dtype, device=device) for w in weights]
    gs = [[ndgrad.tensor(g, dtype=dtype, device=device) for g in step] for step in grads]
    return ws, gs


# -- in place ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_updates_in_place(backend: str, name: str) -> None:
    opt = ALL[name]()
    ws, gs = make_vars(backend)
    data_ids = [id(w.data) for w in ws]
    opt.apply(gs[0], ws)
    state_ids = [id(a) for a in opt.variables]
    assert len(opt.variables) == N_SLOTS[name] * len(ws)
    before = [w.numpy().copy() for w in ws]
    for g in gs[1:]:
        opt.apply(g, ws)
    assert [id(w.data) for w in ws] == data_ids
    assert [id(a) for a in opt.variables] == state_ids
    assert [w._version[0] for w in ws] == [3] * len(ws)
    assert opt.iterations == 3
    assert all((w.numpy() != b).any() for w, b in zip(ws, before))


@pytest.mark.parametrize("name", ALL)
def test_state_lives_with_the_weight_in_float32(backend: str, name: str) -> None:
    opt = ALL[name]()
    ws, gs = make_vars(backend)
    opt.learning_rate = lambda step: np.float64(0.01)  # a strong NumPy scalar is made a float
    for g in gs:
        opt.apply(g, ws)
    opt.learning_rate = np.float64(0.01)
    assert type(opt.learning_rate) is float
    opt.apply(gs[0], ws)
    be = get_backend(backend)
    for a, w in zip(opt.variables, ws * N_SLOTS[name]):
        assert be.is_array(a) and a.dtype == w.data.dtype and a.shape == w.data.shape
    assert all(w.dtype == ndgrad.float32 for w in ws)


def test_none_gradients_are_skipped() -> None:
    ws, gs = make_vars("cpu")
    opt = optimizers.Adam()
    frozen = ws[1].numpy().copy()
    opt.apply([gs[0][0], None, gs[0][2]], ws)
    np.testing.assert_array_equal(ws[1].numpy(), frozen)
    assert ws[1]._version[0] == 0 and ws[0]._version[0] == 1
    assert opt.apply_gradients(zip(gs[1], ws)) == 2


def test_apply_defaults_to_the_built_variables() -> None:
    ws, gs = make_vars("cpu")
    opt = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="pass the variables"):
        opt.apply(gs[0])
    opt.build(ws)
    opt.apply(gs[0])
    assert opt.iterations == 1


def test_shape_mismatch_names_variable_and_shapes() -> None:
    ws, _ = make_vars("cpu")
    opt = optimizers.SGD()
    bad = [ndgrad.zeros(3, 4), ndgrad.zeros(3), ndgrad.zeros(())]
    with pytest.raises(ShapeError, match=re.escape("variable 1") + r".*\(4,\).*\(3,\)"):
        opt.apply(bad, ws)


def test_unknown_variable_and_count_mismatch() -> None:
    ws, gs = make_vars("cpu")
    opt = optimizers.Adam()
    opt.apply(gs[0], ws)
    other = ndgrad.zeros(3, 4)
    with pytest.raises(ValueError, match="can only update the variables it was built with"):
        opt.apply([gs[0][0]], [other])
    with pytest.raises(ValueError, match="one gradient per variable"):
        opt.apply(gs[0][:2], ws)


def test_gradient_dtype_is_cast_to_the_variable() -> None:
    w = ndgrad.tensor([1.0, 2.0])
    optimizers.Adam(0.1).apply([ndgrad.tensor([1.0, 1.0], dtype="float64")], [w])
    assert w.dtype == ndgrad.float32


def test_device_checks() -> None:
    w = ndgrad.tensor([1.0, 2.0])
    opt = optimizers.Adam(0.1)
    with pytest.raises(DeviceError, match="gradient"):
        opt.apply([ndgrad.tensor([1.0, 1.0], device="strict")], [w])
    opt = optimizers.Adam(0.1)
    opt.apply([ndgrad.tensor([1.0, 1.0])], [w])
    move(w, "strict")
    with pytest.raises(DeviceError, match=re.escape("optimizer.to('strict')")):
        opt.apply([ndgrad.tensor([1.0, 1.0], device="strict")], [w])


@pytest.mark.parametrize("name", ["sgd_momentum", "rmsprop_centered_momentum", "amsgrad"])
def test_to_moves_state_and_continues_identically(name: str) -> None:
    """cpu -> strict -> cpu mid-training gives the same weights as staying on cpu."""
    ref_ws, gs = make_vars("cpu", "float64")
    ref = ALL[name]()
    for g in gs * 3:
        ref.apply(g, ref_ws)

    ws, _ = make_vars("cpu", "float64")
    opt = ALL[name]()
    strict = get_backend("strict")
    for k, g in enumerate(gs * 3):
        device = "strict" if k in (3, 4, 5) else "cpu"
        if ws[0].device != device:
            for w in ws:
                move(w, device)
            assert opt.to(device) is opt
            assert all(get_backend(device).is_array(a) for a in opt.variables)
            if device == "strict":
                assert not any(isinstance(a, np.ndarray) for a in opt.variables)
                assert all(strict.is_array(a) for a in opt.variables)
        opt.apply([ndgrad.tensor(x.numpy(), dtype="float64", device=device) for x in g], ws)
    for w, r in zip(ws, ref_ws):
        np.testing.assert_allclose(w.numpy(), r.numpy(), rtol=1e-12)


def test_to_before_build_is_harmless() -> None:
    opt = optimizers.RMSprop().to("strict")
    w = ndgrad.tensor([1.0], device="strict")
    opt.apply([ndgrad.tensor([1.0], device="strict")], [w])
    assert all(get_backend("strict").is_array(a) for a in opt.variables)


def test_weight_decay_exclusion() -> None:
    a, b = ndgrad.tensor([1.0]), ndgrad.tensor([1.0])
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay([b])
    opt.apply([ndgrad.tensor([0.0]), ndgrad.tensor([0.0])], [a, b])
    assert (a.item(), b.item()) == pytest.approx((0.95, 1.0))


# -- clipping and argument checks --------------------------------------------------------------
def test_clip_arguments() -> None:
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.SGD(clipnorm=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)


def test_clipnorm_leaves_small_gradients_alone() -> None:
    w = ndgrad.tensor([0.0, 0.0])
    optimizers.SGD(1.0, clipnorm=5.0).apply([ndgrad.tensor([3.0, 4.0])], [w])
    assert w.tolist() == [-3.0, -4.0]
    optimizers.SGD(1.0, clipnorm=1.0).apply([ndgrad.tensor([3.0, 4.0])], [w])
    assert w.tolist() == pytest.approx([-3.6, -4.8])


def test_global_clipnorm_leaves_small_gradients_alone() -> None:
    """Below the limit the gradients are not rescaled (in particular not scaled up)."""
    a, b = ndgrad.tensor([0.0]), ndgrad.tensor([0.0, 0.0])
    opt = optimizers.SGD(1.0, global_clipnorm=10.0)
    opt.apply([ndgrad.tensor([1.0]), ndgrad.tensor([2.0, 2.0])], [a, b])  # global norm 3
    assert a.tolist() == [-1.0] and b.tolist() == [-2.0, -2.0]
    # above it, all are scaled by the same factor: limit / global norm
    opt = optimizers.SGD(1.0, global_clipnorm=1.5)
    opt.apply([ndgrad.tensor([1.0]), ndgrad.tensor([2.0, 2.0])], [a, b])
    assert a.tolist() == pytest.approx([-1.5]) and b.tolist() == pytest.approx([-3.0, -3.0])


def test_global_clipnorm_non_finite_gives_nan() -> None:
    """As Keras (TensorFlow's clip_by_global_norm): an infinite norm makes every update NaN."""
    a, b = ndgrad.tensor([1.0]), ndgrad.tensor([1.0])
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)
    opt.apply([ndgrad.tensor([float("inf")]), ndgrad.tensor([1.0])], [a, b])
    assert np.isnan(a.item()) and np.isnan(b.item())


def test_clipping_scales_as_python_floats_did() -> None:
    """The scale is computed on the device in float64, then rounded to the gradient's dtype:
    the same bits as ``g * (c / float(norm))`` with Python floats."""
    rng = np.random.default_rng(0)
    g32, g64 = rng.normal(size=7).astype("float32"), rng.normal(size=(2, 3))

    def step(**clipping: float) -> list[np.ndarray]:
        a, b = ndgrad.zeros(7), ndgrad.zeros(2, 3, dtype="float64")
        grads = [ndgrad.tensor(g32), ndgrad.tensor(g64, dtype="float64")]
        optimizers.SGD(1.0, **clipping).apply(grads, [a, b])
        return [-a.numpy(), -b.numpy()]

    for got, g in zip(step(clipnorm=0.1), (g32, g64)):
        np.testing.assert_array_equal(got, g * (0.1 / float(np.linalg.vector_norm(g))))
    total = math.sqrt(
        0.0 + float(np.linalg.vector_norm(g32)) ** 2 + float(np.linalg.vector_norm(g64)) ** 2
    )
    for got, g in zip(step(global_clipnorm=0.3), (g32, g64)):
        np.testing.assert_array_equal(got, g * (0.3 / total))


def test_clipnorm_leaves_a_gradient_with_a_nan_norm_as_it_is() -> None:
    w = ndgrad.tensor([0.0, 0.0])
    optimizers.SGD(1.0, clipnorm=1.0).apply([ndgrad.tensor([float("nan"), 4.0])], [w])
    assert np.isnan(w.numpy()[0]) and w.numpy()[1] == -4.0


def test_global_clipnorm_over_two_devices() -> None:
    """The joint norm of gradients on two devices: each scaled by the same factor."""
    a, b = ndgrad.tensor([0.0]), ndgrad.tensor([0.0, 0.0], device="strict")
    opt = optimizers.SGD(1.0, global_clipnorm=1.5)
    opt.apply([ndgrad.tensor([1.0]), ndgrad.tensor([2.0, 2.0], device="strict")], [a, b])
    assert a.tolist() == pytest.approx([-0.5]) and b.tolist() == pytest.approx([-1.0, -1.0])
    assert b.device == "strict"


# -- learning rate -----------------------------------------------------------------------------
def test_learning_rate_forms() -> None:
    opt = optimizers.SGD(learning_rate=1)
    assert opt.learning_rate == 1.0 and isinstance(opt.learning_rate, float)
    opt.learning_rate = lambda step: 0.1 * (step + 1)
    w = ndgrad.tensor([0.0], dtype="float64")
    for _ in range(3):
        opt.apply([ndgrad.tensor([1.0], dtype="float64")], [w])
    assert w.item() == pytest.approx(-0.6)  # 0.1 + 0.2 + 0.3
    assert opt.learning_rate == pytest.approx(0.4)
    opt.learning_rate = ndgrad.tensor(0.5)
    assert opt.learning_rate == 0.5


# -- config ------------------------------------------------------------------------------------
CONFIGS = [
    optimizers.SGD(0.2, momentum=0.5, nesterov=True, weight_decay=0.1, clipnorm=1.0),
    optimizers.RMSprop(0.01, rho=0.8, momentum=0.1, epsilon=1e-6, centered=True, clipvalue=2.0),
    optimizers.Adam(0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-5, amsgrad=True, name="a"),
    optimizers.AdamW(
        optimizers.CosineDecay(0.01, 100, warmup_target=0.1, warmup_steps=10),
        weight_decay=0.01,
        global_clipnorm=5.0,
    ),
]


@pytest.mark.parametrize("opt", CONFIGS, ids=lambda o: type(o).__name__)
def test_config_round_trip(opt: optimizers.Optimizer) -> None:
    config = json.loads(json.dumps(opt.get_config()))
    again = type(opt).from_config(config)
    assert again.get_config() == opt.get_config()
    assert type(again) is type(opt) and again.learning_rate == opt.learning_rate
    via_get = optimizers.get(json.loads(json.dumps(optimizers.serialize(opt))))
    assert type(via_get) is type(opt) and via_get.get_config() == opt.get_config()


def test_get() -> None:
    assert isinstance(optimizers.get("rmsprop"), optimizers.RMSprop)
    assert isinstance(optimizers.get("AdamW"), optimizers.AdamW)
    assert isinstance(optimizers.get("SGD"), optimizers.SGD)
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    sgd = optimizers.get({"class_name": "sgd", "config": {"learning_rate": 0.5}})
    assert isinstance(sgd, optimizers.SGD) and sgd.learning_rate == 0.5
    with pytest.raises(ValueError, match="'sgd', 'rmsprop', 'adam', 'adamw'"):
        optimizers.get("adagrad")
    with pytest.raises(ValueError, match="Adagrad"):
        optimizers.get({"class_name": "Adagrad", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        optimizers.get({"learning_rate": 0.1})
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3)


def test_no_numpy_in_optimizers() -> None:
    root = Path(optimizers.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import numpy|from numpy)", text, re.M), path.name


# -- it descends -------------------------------------------------------------------------------
DESCENT = {
    "sgd": lambda: optimizers.SGD(0.05),
    "sgd_nesterov": lambda: optimizers.SGD(0.02, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.05),
    "rmsprop_centered": lambda: optimizers.RMSprop(0.02, centered=True, momentum=0.5),
    "adam": lambda: optimizers.Adam(0.1),
    "amsgrad": lambda: optimizers.Adam(0.1, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.1, weight_decay=0.01),
    "sgd_schedule": lambda: optimizers.SGD(optimizers.ExponentialDecay(0.05, 50, 0.5)),
}


@pytest.mark.parametrize("name", DESCENT)
def test_minimizes_a_quadratic(backend: str, name: str) -> None:
    """f(w) = sum(scale * (w - target)**2), badly conditioned (scales 0.5 .. 8)."""
    opt = DESCENT[name]()
    target = ndgrad.tensor([1.0, -2.0, 3.0, 0.5], device=backend)
    scale = ndgrad.tensor([0.5, 1.0, 4.0, 8.0], device=backend)
    w = ndgrad.zeros(4, device=backend, requires_grad=True)

    def loss() -> ndgrad.Tensor:
        return (scale * (w - target) ** 2).sum()

    first = loss().item()
    for _ in range(100):
        w.grad = None
        value = loss()
        value.backward()
        opt.apply([w.grad], [w])
    assert loss().item() < 0.05 * first


def test_update_invalidates_graphs_that_saved_the_weight() -> None:
    from ndgrad.errors import GraphError

    w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    optimizers.SGD(0.1).apply([ndgrad.tensor([1.0, 1.0])], [w])
    with pytest.raises(GraphError, match="modified in place"):
        y.backward()
