"""Constructor arguments of every optimizer: Keras 3 defaults, the shared arguments (clipping,
weight decay, name) taking effect in each class, their checks and error messages, and the
messages of `apply`, `build`, `get` and `deserialize`, which name the values at fault."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.errors import ShapeError
from ndgrad.optimizers.optimizer import _norm

# -- defaults --------------------------------------------------------------------------------
SHARED_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
}
KERAS_DEFAULTS = {
    "SGD": {"name": "SGD", "learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "RMSprop": {
        "name": "rmsprop",
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
    },
    "Adam": {
        "name": "adam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    },
    "AdamW": {
        "name": "adamw",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
        "weight_decay": 0.004,
    },
}
CLASSES = [optimizers.SGD, optimizers.RMSprop, optimizers.Adam, optimizers.AdamW]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_defaults_are_keras_3_defaults(cls: type) -> None:
    opt = cls()
    assert opt.get_config() == {**SHARED_DEFAULTS, **KERAS_DEFAULTS[cls.__name__]}
    assert opt.name == KERAS_DEFAULTS[cls.__name__]["name"]
    assert opt.learning_rate == KERAS_DEFAULTS[cls.__name__]["learning_rate"]
    assert optimizers.get(cls.__name__.lower()).get_config() == opt.get_config()


def test_default_learning_rate_sets_the_step() -> None:
    """SGD's first step is 0.01 * g; RMSprop's and Adam's are about 0.001 / sqrt(1 - rho) and
    0.001 in the direction of -g."""
    for cls, step in [
        (optimizers.SGD, 0.01 * 2.0),
        (optimizers.RMSprop, 0.001 / 0.1**0.5),
        (optimizers.Adam, 0.001),
        (optimizers.AdamW, 0.001 + 0.001 * 0.004),
    ]:
        w = ndgrad.tensor([1.0], dtype="float64")
        cls().apply([ndgrad.tensor([2.0], dtype="float64")], [w])
        assert w.item() == pytest.approx(1.0 - step, abs=1e-5), cls.__name__


def test_default_epsilon_is_1e_7() -> None:
    """With gradients near epsilon, the first step shows its size (Keras's formulas)."""
    g = 1e-7
    # Adam: alpha * m / (sqrt(v) + eps), m = 0.1 * g, v = 0.001 * g**2
    alpha = 0.001**0.5 / 0.1
    adam_step = alpha * (0.1 * g) / ((0.001 * g**2) ** 0.5 + 1e-7)
    for opt in (optimizers.Adam(1.0), optimizers.AdamW(1.0, weight_decay=0.0)):
        w = ndgrad.tensor([0.0], dtype="float64")
        opt.apply([ndgrad.tensor([g], dtype="float64")], [w])
        assert w.item() == pytest.approx(-adam_step, rel=1e-9)
    # RMSprop: lr * g / sqrt(v + eps), v = 0.1 * g**2
    g = 1e-3
    w = ndgrad.tensor([0.0], dtype="float64")
    optimizers.RMSprop(1.0).apply([ndgrad.tensor([g], dtype="float64")], [w])
    assert w.item() == pytest.approx(-g / (0.1 * g**2 + 1e-7) ** 0.5, rel=1e-9)


# -- the shared arguments take effect in every class -----------------------------------------
def _make(cls: type, **kwargs: Any) -> optimizers.Optimizer:
    if cls is optimizers.AdamW:
        kwargs.setdefault("weight_decay", 0.0)
    return cls(0.1, **kwargs)


def _train(opt: optimizers.Optimizer, grads: list[list[np.ndarray]]) -> list[np.ndarray]:
    ws = [ndgrad.tensor([1.0, -1.0, 0.5], dtype="float64"), ndgrad.tensor(2.0, dtype="float64")]
    for gs in grads:
        opt.apply([ndgrad.tensor(g, dtype="float64") for g in gs], ws)
    return [w.numpy() for w in ws]


# a large first gradient (clipped) and a small second one (not clipped)
GRADS = [[np.array([3.0, -4.0, 12.0]), np.array(5.0)], [np.array([0.1, 0.2, -0.1]), np.array(-0.2)]]


def _clip_by_norm(g: np.ndarray, c: float) -> np.ndarray:
    n = np.sqrt((g**2).sum())
    return g * c / n if n > c else g


CLIPS = {
    "clipnorm": lambda gs: [_clip_by_norm(g, 1.0) for g in gs],
    "clipvalue": lambda gs: [np.clip(g, -1.0, 1.0) for g in gs],
    "global_clipnorm": lambda gs: [
        g * min(1.0, 1.0 / np.sqrt(sum((h**2).sum() for h in gs))) for g in gs
    ],
}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("clip", CLIPS)
def test_clipping_argument_takes_effect(cls: type, clip: str) -> None:
    """`clip`=1.0 given to the constructor = the unclipped optimizer on clipped gradients."""
    got = _train(_make(cls, **{clip: 1.0}), GRADS)
    want = _train(_make(cls), [CLIPS[clip](gs) for gs in GRADS])
    unclipped = _train(_make(cls), GRADS)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    assert any(np.abs(g - u).max() > 1e-6 for g, u in zip(got, unclipped))
    assert _make(cls, **{clip: 1.0}).get_config()[clip] == 1.0


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_weight_decay_argument_takes_effect(cls: type) -> None:
    """Decoupled decay: w *= 1 - lr * weight_decay before each step of the undecayed rule."""
    got = _train(_make(cls, weight_decay=0.5), GRADS)
    plain = _make(cls)
    ws = [ndgrad.tensor([1.0, -1.0, 0.5], dtype="float64"), ndgrad.tensor(2.0, dtype="float64")]
    for gs in GRADS:
        for w in ws:
            w.data *= 1.0 - 0.1 * 0.5
        plain.apply([ndgrad.tensor(g, dtype="float64") for g in gs], ws)
    for g, w in zip(got, ws):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-12, atol=1e-15)
    assert _make(cls, weight_decay=0.5).get_config()["weight_decay"] == 0.5


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_name_argument_takes_effect(cls: type) -> None:
    opt = _make(cls, name="mine")
    assert opt.name == "mine" and opt.get_config()["name"] == "mine"
    assert repr(opt).startswith(f"<{cls.__name__} name='mine' ")
    assert cls.from_config(opt.get_config()).name == "mine"


def test_adamw_passes_its_adam_arguments_on() -> None:
    """AdamW with weight_decay=0 is Adam with the same betas, epsilon and amsgrad."""
    kwargs = {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3, "amsgrad": True}
    got = _train(optimizers.AdamW(0.1, weight_decay=0.0, **kwargs), GRADS + GRADS[::-1])
    want = _train(optimizers.Adam(0.1, **kwargs), GRADS + GRADS[::-1])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    default = _train(optimizers.AdamW(0.1, weight_decay=0.0), GRADS + GRADS[::-1])
    assert any(np.abs(g - d).max() > 1e-6 for g, d in zip(got, default))
    config = optimizers.AdamW(0.1, weight_decay=0.0, **kwargs).get_config()
    assert {k: config[k] for k in kwargs} == kwargs


# -- argument checks and their messages ------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_only_one_clipping_argument(cls: type) -> None:
    for given, received in [
        ({"clipnorm": 1.0, "clipvalue": 2.0}, "clipnorm=1.0, clipvalue=2.0"),
        ({"clipvalue": 2.0, "global_clipnorm": 3.0}, "clipvalue=2.0, global_clipnorm=3.0"),
        ({"clipnorm": 1, "global_clipnorm": 3}, "clipnorm=1, global_clipnorm=3"),
        (
            {"clipnorm": 1.0, "clipvalue": 2.0, "global_clipnorm": 3.0},
            "clipnorm=1.0, clipvalue=2.0, global_clipnorm=3.0",
        ),
    ]:
        message = (
            "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
            f"Received: {received}"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            cls(**given)


@pytest.mark.parametrize("key", ["clipnorm", "clipvalue", "global_clipnorm", "weight_decay"])
def test_negative_clip_or_decay_is_rejected_and_zero_accepted(key: str) -> None:
    message = f"Argument `{key}` must be a float >= 0. Received: {key}=-0.5"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.SGD(**{key: -0.5})
    with pytest.raises(ValueError, match=f"Received: {key}='1'$"):
        optimizers.SGD(**{key: "1"})
    opt = optimizers.SGD(1.0, **{key: 0.0})  # 0 means off, as in Keras
    assert opt.get_config()[key] == 0.0
    w = ndgrad.tensor([1.0, 1.0], dtype="float64")
    opt.apply([ndgrad.tensor([30.0, 40.0], dtype="float64")], [w])
    assert w.tolist() == [-29.0, -39.0]


def test_adamw_weight_decay_none_message() -> None:
    message = "Argument `weight_decay` must be a float. Received: weight_decay=None"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.AdamW(weight_decay=None)


def test_sgd_momentum_bounds() -> None:
    """momentum is in [0, 1]: 1 is accepted (the velocity never decays)."""
    opt = optimizers.SGD(0.1, momentum=1)
    w = ndgrad.tensor([1.0], dtype="float64")
    for _ in range(3):
        opt.apply([ndgrad.tensor([1.0], dtype="float64")], [w])
    assert w.item() == pytest.approx(1.0 - 0.1 - 0.2 - 0.3)
    assert opt.get_state()["slots"]["momentum"][0].tolist() == pytest.approx([-0.3])
    for bad in (1.5, -0.1, True):
        with pytest.raises(ValueError, match=re.escape(f"Received: {bad!r}")):
            optimizers.SGD(momentum=bad)


# -- messages of build, apply and the variable checks ----------------------------------------
def test_build_rejects_non_tensors_naming_the_variable() -> None:
    message = "SGD.build: variables must be ndgrad Tensors. Received: variable 1 of type ndarray"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        optimizers.SGD().build([ndgrad.zeros(2), np.zeros(2)])


def test_apply_messages_name_the_optimizer_and_the_counts() -> None:
    ws = [ndgrad.zeros(3), ndgrad.zeros(2), ndgrad.zeros(())]
    message = (
        "RMSprop.apply: pass the variables on the first call (apply(grads, variables)), or "
        "call build(variables) first"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.RMSprop().apply([ndgrad.ones(3)])
    message = "Adam.apply: one gradient per variable expected. Received 2 gradients for 3 variables"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.Adam().apply([ndgrad.ones(3), ndgrad.ones(2)], ws)


def test_unknown_variable_message_names_its_shape() -> None:
    opt = optimizers.AdamW()
    opt.build([ndgrad.zeros(3, 4)])
    message = (
        "AdamW: unknown variable of shape (3,). This optimizer can only update the variables "
        "it was built with; for a new set of variables, create a new optimizer"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        opt.apply([ndgrad.ones(3)], [ndgrad.zeros(3)])
    # not even a Tensor: a TypeError naming the type, not an AttributeError
    with pytest.raises(TypeError, match=r"^AdamW: variables must be ndgrad Tensors\. .* list$"):
        opt.apply([ndgrad.ones(2)], [[0.0, 0.0]])


def test_shape_error_names_the_optimizer() -> None:
    opt = optimizers.SGD()
    with pytest.raises(ShapeError, match=r"^SGD: the gradient of variable 0 must have"):
        opt.apply([ndgrad.ones(2)], [ndgrad.zeros(3)])


# -- what apply accepts ------------------------------------------------------------------------
def test_gradients_after_a_none_are_applied() -> None:
    ws = [ndgrad.tensor([1.0]), ndgrad.tensor([1.0]), ndgrad.tensor([1.0]), ndgrad.tensor([1.0])]
    one = ndgrad.tensor([1.0])
    optimizers.SGD(0.5).apply([None, one, None, one], ws)
    assert [w.item() for w in ws] == [1.0, 0.5, 1.0, 0.5]


def test_gradients_may_be_arrays_or_lists(backend: str) -> None:
    """NumPy arrays and nested lists are gradients too, converted on the variable's device."""
    ws = [ndgrad.tensor([1.0, 2.0], device=backend), ndgrad.tensor([[1.0]], device=backend)]
    optimizers.SGD(0.5).apply([np.array([2.0, -2.0]), [[4.0]]], ws)
    assert ws[0].tolist() == [0.0, 3.0] and ws[1].tolist() == [[-1.0]]
    assert all(w.device == backend and w.dtype == ndgrad.float32 for w in ws)


@pytest.mark.parametrize("name", ["sgd_momentum", "rmsprop", "adam"])
def test_gradient_of_another_dtype_is_cast(backend: str, name: str) -> None:
    """A float64 gradient updates a float32 variable as its float32 copy would, on every
    device (array-api-strict refuses to mix float32 and float64)."""
    make = {
        "sgd_momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
        "rmsprop": lambda: optimizers.RMSprop(0.1),
        "adam": lambda: optimizers.Adam(0.1),
    }[name]
    results = []
    for dtype in ("float64", "float32"):
        w = ndgrad.tensor([1.0, -2.0, 3.0], device=backend)
        opt = make()
        for g in ([0.5, 0.25, -1.0], [0.1, -0.3, 0.2]):
            opt.apply([ndgrad.tensor(g, dtype=dtype, device=backend)], [w])
        assert w.dtype == ndgrad.float32
        assert all(a.dtype == w.data.dtype for a in opt.variables)
        results.append(w.numpy())
    np.testing.assert_array_equal(results[0], results[1])


def test_apply_gradients_pairs_each_gradient_with_its_variable() -> None:
    """The pairs may come in another order than the variables were built in, or be a subset."""
    a, b = ndgrad.tensor([1.0, 1.0]), ndgrad.tensor([1.0])
    opt = optimizers.SGD(0.5)
    opt.build([a, b])
    assert opt.apply_gradients([(ndgrad.tensor([2.0]), b), (ndgrad.tensor([1.0, 0.0]), a)]) == 1
    assert a.tolist() == [0.5, 1.0] and b.tolist() == [0.0]
    assert opt.apply_gradients(zip([ndgrad.tensor([-2.0])], [b])) == 2
    assert a.tolist() == [0.5, 1.0] and b.tolist() == [1.0]


# -- learning rate in the config -------------------------------------------------------------
def test_config_learning_rate_forms() -> None:
    """A tensor rate is saved as a float (JSON-ready); a plain function is returned as is."""
    config = optimizers.SGD(ndgrad.tensor(0.5)).get_config()
    assert config["learning_rate"] == 0.5 and type(config["learning_rate"]) is float
    json.dumps(config)

    def rate(step: int) -> float:
        return 0.1 / (step + 1)

    assert optimizers.Adam(rate).get_config()["learning_rate"] is rate


# -- repr ------------------------------------------------------------------------------------
def test_repr() -> None:
    opt = optimizers.SGD(0.5)
    assert repr(opt) == "<SGD name='SGD' learning_rate=0.5 iterations=0>"
    opt.apply([ndgrad.tensor([1.0])], [ndgrad.tensor([0.0])])
    assert repr(opt) == "<SGD name='SGD' learning_rate=0.5 iterations=1>"
    assert repr(optimizers.AdamW()) == "<AdamW name='adamw' learning_rate=0.001 iterations=0>"


# -- custom optimizers -----------------------------------------------------------------------
def test_a_subclass_needs_only_update_step() -> None:
    """The base class's contract: a subclass without scratch arrays or slots just works."""

    class SignDescent(optimizers.Optimizer):
        def update_step(self, gradient: Any, variable: ndgrad.Tensor, lr: float) -> None:
            variable.data -= lr * variable.backend.xp.sign(gradient)

    w = ndgrad.tensor([1.0, -1.0, 0.0])
    opt = SignDescent(0.25, name="sign")
    opt.apply([ndgrad.tensor([3.0, -0.5, 0.0])], [w])
    opt.apply([ndgrad.tensor([1.0, 1.0, 1.0])], [w])
    assert w.tolist() == [0.5, -1.0, -0.25]
    assert opt.iterations == 2 and opt.name == "sign" and opt.variables == []


def test_a_subclass_without_update_step_says_so() -> None:
    class Unfinished(optimizers.Optimizer):
        pass

    with pytest.raises(NotImplementedError, match="^Unfinished must implement update_step$"):
        Unfinished(0.1).apply([ndgrad.tensor([1.0])], [ndgrad.tensor([1.0])])


# -- the L2 norm used by clipnorm and global_clipnorm ----------------------------------------
def _namespace(**parts: Any) -> SimpleNamespace:
    return SimpleNamespace(sum=np.sum, sqrt=np.sqrt, astype=np.astype, float64=np.float64, **parts)


def test_norm_uses_the_namespace_vector_norm_when_there_is_one() -> None:
    calls = []

    def vector_norm(g: np.ndarray) -> float:
        calls.append(g)
        return np.linalg.vector_norm(g)

    xp = _namespace(linalg=SimpleNamespace(vector_norm=vector_norm))
    g = np.array([3.0, 4.0], "float32")
    n = _norm(xp, g)
    assert n == 5.0 and len(calls) == 1 and calls[0] is g
    # a float64 array of the namespace, not a Python float: nothing is read to the host
    assert type(n) is not float and n.dtype == np.float64


@pytest.mark.parametrize(
    "parts", [{}, {"linalg": SimpleNamespace()}], ids=["no_linalg", "linalg_without_vector_norm"]
)
def test_norm_falls_back_to_the_sum_of_squares(parts: dict[str, Any]) -> None:
    xp = _namespace(**parts)
    g = np.array([[3.0, 0.0], [0.0, -4.0]], "float32")
    n = _norm(xp, g)
    assert n == 5.0 and type(n) is not float and n.dtype == np.float64
    assert _norm(xp, np.array([1e-3, 1e-3, 1e-3, 1e-3])) == pytest.approx(2e-3)
    # the square root is taken in float64, as math.sqrt took it of the float32 sum
    g = np.array([0.1, 0.2, 0.3], "float32")
    assert _norm(xp, g) == np.sqrt(np.float64(np.sum(g * g)))


# -- get / deserialize -----------------------------------------------------------------------
def test_get_and_deserialize_messages() -> None:
    valid = "'sgd', 'rmsprop', 'adam', 'adamw'"
    message = f"Could not interpret optimizer identifier: 'adagrad'. Valid names: {valid}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.get("adagrad")
    message = f"Could not interpret optimizer class_name: 'Adagrad'. Valid names: {valid}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.get({"class_name": "Adagrad", "config": {}})
    message = f"Could not interpret optimizer class_name: None. Valid names: {valid}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.deserialize({"class_name": None})
    message = (
        "Could not interpret optimizer config: expected {'class_name': ..., 'config': {...}}. "
        "Received: {'learning_rate': 0.1}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.deserialize({"learning_rate": 0.1})
    message = (
        f"Could not interpret optimizer identifier: 3. Pass a name ({valid}), an Optimizer or "
        "a config dict"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.get(3)


def test_deserialize_without_config_gives_the_defaults() -> None:
    opt = optimizers.deserialize({"class_name": "rmsprop"})
    assert isinstance(opt, optimizers.RMSprop)
    assert opt.get_config() == optimizers.RMSprop().get_config()
