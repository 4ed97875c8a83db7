"""The `Optimizer` base class: state, gradient clipping, weight decay, the step counter.

An optimizer updates *variables* (ndgrad Tensors, usually a model's trainable weights) from
their *gradients* (Tensors of the same shapes) in place, Keras 3 style: `build(variables)`
creates the state lazily on the first `apply` (one array per slot per variable, on the
variable's device, e.g. Adam's first and second moments), and each call of
`apply(grads, variables)` clips the gradients, applies decoupled weight decay, runs the
subclass's `update_step` once per variable and increments `iterations`.

The base class owns what every optimizer shares: the constructor arguments (learning rate,
clipping, weight decay, name; subclasses add their own and pass ``**kwargs`` on), the slots
(`slot_names`), and the opening of `update_step`, which finds the variable's state and hands
it to the backend's fused kernel for this optimizer class when the backend registered one
(`Backend.fuses`, e.g. `backends/numpy/optimizers.py`), else to `update`. So a subclass
writes its update rule once, in `update(xp, w, g, state, scratch, learning_rate)`, on
backend arrays with in-place operators only (``w -= s``): the variables and the state arrays
keep their identity and no array is allocated per step. Large temporaries are not free: on
Linux, glibc serves every allocation above its mmap threshold with fresh pages, so a 1.6 MB
temporary costs ~400 page faults (more than the arithmetic). Each optimizer therefore owns a
few *scratch* arrays (`_scratch_count`, shared between variables of the same device and dtype)
that it fills with ``s[...] = g`` and then updates in place. Python floats are weak scalars,
so float32 state stays float32.

>>> import ndgrad
>>> from ndgrad.optimizers import SGD
>>> w = ndgrad.tensor([1.0, 2.0])
>>> opt = SGD(learning_rate=0.1)
>>> opt.apply([ndgrad.tensor([1.0, -1.0])], [w])
>>> w, opt.iterations
(tensor([0.9, 2.1], shape=(2,), dtype=float32), 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._registry import Registry
from .._tensor import Tensor, bump_version
from ..backends.registry import get_backend
from ..errors import DeviceError, ShapeError
from .schedules import LearningRateSchedule, deserialize, serialize

LearningRate = float | LearningRateSchedule | Callable[[int], float]

__all__ = ["Optimizer"]

#: Where an update keeps a variable's values from before it (`Optimizer.keep_next`): a copy
#: of the weight array, and one of each state array by slot name.
Keep = tuple[Any, dict[str, Any]]


def keep_copy(keep: Keep, w: Any, state: dict[str, Any]) -> None:
    """Copy the weight array `w` and its `state` into `keep` (a pass of its own: what an
    update that cannot copy as it goes does first)."""
    w_copy, state_copy = keep
    w_copy[...] = w
    for name, copy in state_copy.items():
        copy[...] = state[name]


#: Every optimizer class that names itself (``_default_name``), under that name in lower case:
#: what ``compile(optimizer="adam")`` and `optimizers.get` look up.
OPTIMIZERS: Registry[type[Optimizer]] = Registry(
    "optimizer", message="Could not interpret optimizer {what}: {name}. Valid names: {quoted}"
)


def _norm(xp: Any, g: Any) -> Any:
    """The L2 norm of all elements of `g`: a 0-d float64 array on g's device, not read."""
    linalg = getattr(xp, "linalg", None)
    if linalg is not None and hasattr(linalg, "vector_norm"):
        return xp.astype(linalg.vector_norm(g), xp.float64)  # NumPy: one dot product
    return xp.sqrt(xp.astype(xp.sum(g * g), xp.float64))


def _scale(xp: Any, g: Any, factor: Any) -> Any:
    """``g * factor`` for a 0-d float64 `factor`, rounded to g's dtype first (as a Python
    float would be: weak scalars take the array's dtype)."""
    return g * xp.astype(factor, g.dtype)


def _clip_factor(xp: Any, n: Any, c: float) -> Any:
    """``c / max(n, c)`` for the 0-d float64 norm `n`, 1 where ``n <= c`` or `n` is NaN (no
    clipping, as ``n > c`` is False): a 0-d float64 array on n's device."""
    return xp.where(n > c, c / xp.maximum(n, c), 1.0)


def _is_one(backend: Any, factor: Any) -> bool:
    """Whether the scale `factor` is known to be 1, so that scaling can be skipped (``g * 1``
    is `g`, bit for bit): read on a backend where reading is free (the CPU), never on a device
    (a GPU would wait; it multiplies by 1 instead)."""
    return bool(backend.host_reads_free) and float(backend.to_numpy(factor)) == 1.0


def _global_clip_factor(pairs: list[tuple[Any, Tensor]], c: float) -> Any:
    """``c / max(total, c)`` for the joint L2 norm `total` of all gradients, or NaN when that
    norm is not finite (as ``clip_by_global_norm``: every gradient becomes NaN): a 0-d float64
    array on the first variable's device, the squares summed in the variables' order."""
    home = pairs[0][1].backend
    squares: Any = 0.0
    for g, v in pairs:
        with v.backend.activate():
            n = _norm(v.backend.xp, g)
            square = n * n
        if v.backend is not home:
            square = home.transfer(square, v.backend)
        with home.activate():
            squares = squares + square
    with home.activate():
        xp = home.xp
        total = xp.sqrt(squares)
        clipped = _clip_factor(xp, total, c)
        return xp.where(xp.isfinite(total), clipped, math.nan)


class Optimizer:
    """Base class of all optimizers (see the module docstring for the contract).

    Args:
        learning_rate: a float, a `LearningRateSchedule`, or a callable ``f(step) -> float``;
            evaluated once per `apply` at ``step = iterations`` (0 for the first update).
        clipnorm: clip each gradient to this L2 norm: ``g * clipnorm / max(norm(g), clipnorm)``.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together so that their joint L2 norm is at most
            this (TensorFlow's ``clip_by_global_norm``; ``torch.nn.utils.clip_grad_norm_``).
        weight_decay: decoupled weight decay: ``w -= learning_rate * weight_decay * w`` before
            each update (computed as ``w *= 1 - lr * wd``, as ``torch.optim.AdamW`` does).
        name: a name for the optimizer (default: the class's Keras name).

    Only one of `clipnorm`, `clipvalue` and `global_clipnorm` may be set.
    """

    _default_name = "optimizer"
    _scratch_count = 0  # scratch arrays per variable that update uses
    #: The class that defines the `update` this class runs, set once per class: a backend's
    #: fused kernel registered for it computes the same rule (so AdamW, which keeps Adam's
    #: `update`, gets Adam's kernel; a subclass that rewrites `update` gets none).
    _update_owner: type

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._update_owner = next(k for k in cls.__mro__ if "update" in k.__dict__)
        if "_default_name" in cls.__dict__:  # a named optimizer: known to `optimizers.get`
            OPTIMIZERS.setdefault(cls._default_name.lower(), cls)  # the first claim keeps it

    def __init__(
        self,
        learning_rate: LearningRate,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
        name: str | None = None,
    ) -> None:
        self.learning_rate = learning_rate  # validated by the setter
        given = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = {k: v for k, v in given.items() if v is not None}
        if len(given) > 1:
            received = ", ".join(f"{k}={v}" for k, v in given.items())
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: {received}"
            )
        for key, value in [*given.items(), ("weight_decay", weight_decay)]:
            if value is not None and not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(
                    f"Argument `{key}` must be a float >= 0. Received: {key}={value!r}"
                )
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.name = name if name is not None else self._default_name
        self.iterations = 0
        self.built = False
        self._trainable_variables: list[Tensor] = []
        self._index: dict[int, int] = {}  # id(variable) -> position in _trainable_variables
        self._devices: list[Any] = []  # the backend holding each variable's state
        self._slots: dict[str, list[Any]] = {}  # slot name -> one array per variable
        self._scratch: list[tuple[Any, ...]] | None = None
        self._no_decay: list[Tensor] = []
        self._keep: dict[int, Keep] | None = None  # what the next apply copies (keep_next)

    # -- learning rate ----------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The learning rate for the next update, as a Python float."""
        lr = self._learning_rate
        if isinstance(lr, float):
            return lr
        if callable(lr):  # a LearningRateSchedule or a plain function of the step
            return float(lr(self.iterations))
        return float(lr)

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if isinstance(value, bool) or not (
            isinstance(value, (int, float)) or callable(value) or hasattr(value, "__float__")
        ):
            raise ValueError(
                "Argument `learning_rate` should be a float, a LearningRateSchedule, or a "
                f"callable taking the step and returning the learning rate. Received: {value!r}"
            )
        # NumPy float64 subclasses float but is not a weak scalar: store a Python float.
        self._learning_rate = float(value) if isinstance(value, (int, float)) else value

    # -- state ------------------------------------------------------------------------------
    def build(self, variables: Sequence[Tensor]) -> None:
        """Remember `variables` and create a zero slot per name of `slot_names` for each
        (once: a built optimizer keeps its state)."""
        if self.built:
            return
        variables = list(variables)
        for i, v in enumerate(variables):
            if not isinstance(v, Tensor):
                raise TypeError(
                    f"{type(self).__name__}.build: variables must be ndgrad Tensors. "
                    f"Received: variable {i} of type {type(v).__name__}"
                )
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        self._devices = [v.backend for v in variables]
        self._slots = {}
        self._scratch = None
        for name in self.slot_names():
            self.add_slot(name)
        self.built = True

    def slot_names(self) -> tuple[str, ...]:
        """The state arrays each variable gets, by name (given the configuration)."""
        return ()

    def add_slot(self, name: str) -> list[Any]:
        """A zero array like each variable (same shape, dtype and device), kept as `name`."""
        arrays = []
        for v in self._trainable_variables:
            with v.backend.activate():  # CuPy allocates on its current GPU, not v's
                arrays.append(v.backend.xp.zeros_like(v.data))
        self._slots[name] = arrays
        return arrays

    @property
    def trainable_variables(self) -> list[Tensor]:
        """The variables the optimizer was built for, in order (empty until it is built)."""
        return list(self._trainable_variables)

    @property
    def variables(self) -> list[Any]:
        """Every state array, slot by slot in creation order, variable by variable within a slot.

        Assign into them in place (``opt.variables[k][...] = saved``) to restore a saved state.
        """
        return [a for arrays in self._slots.values() for a in arrays]

    def keep_next(
        self, weight_copies: Sequence[Any] | None, state_copies: Sequence[Any] = ()
    ) -> None:
        """Have the next `apply` copy, as it updates them, each variable's values and state
        from before the update: ``trainable_variables[i]`` into ``weight_copies[i]``, the
        state into `state_copies` (aligned with `variables`), arrays of the same shape, dtype
        and device as what they copy. The fused kernels copy in the pass that updates (no
        second pass over memory: what `fit`'s divergence guard uses); any other update copies
        first. The request holds for the next `apply` only; None cancels it.
        """
        if weight_copies is None:
            self._keep = None
            return
        name = f"{type(self).__name__}.keep_next"
        if not self.built:
            raise ValueError(f"{name}: build the optimizer first (its state must exist)")
        variables, slots = self._trainable_variables, self._slots
        if len({id(v) for v in variables}) != len(variables):
            raise ValueError(
                f"{name}: a variable is listed twice (a layer used twice?): its two updates "
                "would write one copy; copy the values before the step instead"
            )
        state = self.variables
        if len(weight_copies) != len(variables) or len(state_copies) != len(state):
            raise ValueError(
                f"{name}: {len(weight_copies)} weight copies for {len(variables)} variables "
                f"and {len(state_copies)} state copies for {len(state)} state arrays"
            )
        targets = [v.data for v in variables] + state
        for i, (copy, target) in enumerate(zip([*weight_copies, *state_copies], targets)):
            if (
                copy.shape != target.shape
                or copy.dtype != target.dtype
                or (type(copy) is not type(target))
            ):
                what = (
                    f"variable {i}" if i < len(variables) else f"state array {i - len(variables)}"
                )
                raise ValueError(
                    f"{name}: the copy of {what} must be an array like it: shape "
                    f"{tuple(target.shape)}, dtype {target.dtype}. Received shape "
                    f"{tuple(copy.shape)}, dtype {copy.dtype}"
                )
        n = len(variables)
        self._keep = {
            id(v): (weight_copies[i], {s: state_copies[k * n + i] for k, s in enumerate(slots)})
            for i, v in enumerate(variables)
        }

    @property
    def keeping(self) -> bool:
        """Whether a `keep_next` request waits for the next `apply`."""
        return self._keep is not None

    def _state_of(self, i: int) -> dict[str, Any]:
        return {name: arrays[i] for name, arrays in self._slots.items()}

    def get_state(self) -> dict[str, Any]:
        """A copy of the state on the host: ``{"iterations": n, "slots": {name: [array, ...]}}``.

        Each slot holds one NumPy array per variable, in the order the optimizer was built
        with. `set_state` restores it; `model.save` stores it next to the weights.
        """
        slots = {
            name: [self._devices[i].to_numpy(a).copy() for i, a in enumerate(arrays)]
            for name, arrays in self._slots.items()
        }
        return {"iterations": self.iterations, "slots": slots}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore `get_state()` output into this built optimizer (checked first, then copied).

        Build it first for the same variables: ``optimizer.build(model.trainable_weights)``.
        """
        name = type(self).__name__
        if not self.built:
            raise ValueError(
                f"{name}.set_state: build the optimizer first, for the variables the state "
                "belongs to (optimizer.build(model.trainable_weights))"
            )
        iterations, slots = state["iterations"], state["slots"]
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(
                f"{name}.set_state: iterations must be an int >= 0. Received "
                f"iterations={iterations!r}"
            )
        if set(slots) != set(self._slots):
            raise ValueError(
                f"{name}.set_state: the state has slots {sorted(slots)}, this optimizer "
                f"{sorted(self._slots)} (check its configuration, e.g. momentum or amsgrad)"
            )
        variables = self._trainable_variables
        for slot, arrays in slots.items():
            if len(arrays) != len(variables):
                raise ValueError(
                    f"{name}.set_state: slot {slot!r} has {len(arrays)} arrays for "
                    f"{len(variables)} variables"
                )
            for i, (a, v) in enumerate(zip(arrays, variables)):
                if tuple(a.shape) != v.shape:
                    raise ShapeError(
                        f"{name}.set_state: slot {slot!r} of variable {i} must have the "
                        f"variable's shape. Received: variable.shape={v.shape}, "
                        f"state.shape={tuple(a.shape)}"
                    )
        for slot, arrays in slots.items():
            for i, (a, v) in enumerate(zip(arrays, variables)):
                self._slots[slot][i] = self._devices[i].from_numpy(
                    a.astype(v.dtype.name, copy=True)
                )
        self.iterations = iterations

    def _make_scratch(self) -> list[tuple[Any, ...]]:
        """`_scratch_count` arrays per variable: views into one buffer per (device, dtype)."""
        count = self._scratch_count
        variables = self._trainable_variables
        if not count:
            return [()] * len(variables)
        largest: dict[tuple[str, Any], Tensor] = {}
        for v in variables:
            key = (v.backend.name, v.data.dtype)
            if key not in largest or v.size > largest[key].size:
                largest[key] = v
        buffers = {}
        for key, v in largest.items():
            xp = v.backend.xp
            with v.backend.activate():
                buffers[key] = [xp.reshape(xp.zeros_like(v.data), (-1,)) for _ in range(count)]
        views = []
        for v in variables:
            flat = buffers[v.backend.name, v.data.dtype]
            with v.backend.activate():
                views.append(tuple(v.backend.xp.reshape(b[: v.size], v.shape) for b in flat))
        return views

    def to(self, device: str) -> Optimizer:
        """Move the state to `device` ('cpu', 'strict', 'cuda:0', ...); returns the optimizer.

        Move the variables too (``model.to(device)`` does both): `apply` raises a DeviceError
        when a variable and its state are on different devices.
        """
        target = get_backend(device)
        for arrays in self._slots.values():
            for i, a in enumerate(arrays):
                source = self._devices[i]
                if source is not target:
                    arrays[i] = target.transfer(a, source)
        self._devices = [target] * len(self._devices)
        self._scratch = None  # rebuilt on the next apply, next to the variables
        return self

    def exclude_from_weight_decay(self, var_list: Iterable[Tensor] = ()) -> None:
        """Do not apply `weight_decay` to these variables (biases, normalization scales...)."""
        self._no_decay.extend(var_list)

    # -- applying gradients -----------------------------------------------------------------
    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Tensor]]) -> int:
        """`apply` for ``(gradient, variable)`` pairs; returns `iterations`."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self.iterations

    def apply(self, grads: Sequence[Any], variables: Sequence[Tensor] | None = None) -> None:
        """One update of `variables` (default: those the optimizer was built with) in place.

        None gradients are skipped. The first call builds the state for `variables`; later
        calls must pass variables among those (a new set of variables needs a new optimizer).
        """
        keep, self._keep = self._keep, None  # a keep_next request: this call's, taken or not
        grads = list(grads)
        if variables is None:
            if not self.built:
                raise ValueError(
                    f"{type(self).__name__}.apply: pass the variables on the first call "
                    "(apply(grads, variables)), or call build(variables) first"
                )
            variables = self._trainable_variables
        else:
            variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{type(self).__name__}.apply: one gradient per variable expected. Received "
                f"{len(grads)} gradients for {len(variables)} variables"
            )
        if not self.built:
            self.build(variables)
        pairs = self._check(grads, variables)
        if self._scratch is None:
            self._scratch = self._make_scratch()
        if self.clipnorm or self.clipvalue or self.global_clipnorm:  # 0 means off, as in Keras
            pairs = self._clip_gradients(pairs)
        lr = self.learning_rate
        if keep is not None:
            keep = self._copy_unfused(keep, pairs)
        if self.weight_decay:
            factor = 1.0 - lr * self.weight_decay
            excluded = {id(v) for v in self._no_decay}
            for _, v in pairs:
                if id(v) not in excluded:
                    with v.backend.activate():
                        v.data *= factor
        for g, v in pairs:
            with v.backend.activate():
                if keep:
                    self.update_step(g, v, lr, keep=keep[id(v)])
                else:
                    self.update_step(g, v, lr)
            bump_version(v)
        self.iterations += 1

    def _copy_unfused(self, keep: dict[int, Keep], pairs: list[tuple[Any, Tensor]]) -> dict:
        """Copy now what the update will not copy as it goes (`keep_next`): the variables
        without a gradient, and all of them when weight decay changes the weights before
        the update or a subclass owns `update_step`. Returns what is left for the update."""
        updated = {id(v) for _, v in pairs}
        copy_all = bool(self.weight_decay) or (type(self).update_step is not Optimizer.update_step)
        for i, v in enumerate(self._trainable_variables):
            if copy_all or id(v) not in updated:
                with v.backend.activate():
                    keep_copy(keep[id(v)], v.data, self._state_of(i))
        return {} if copy_all else keep

    def _check(self, grads: list[Any], variables: list[Tensor]) -> list[tuple[Any, Tensor]]:
        """(gradient array, variable) pairs, None gradients dropped, shapes/devices checked."""
        index, devices, name = self._index, self._devices, type(self).__name__
        pairs = []
        for g, v in zip(grads, variables):
            if g is None:
                continue
            i = index.get(id(v))
            if i is None and not isinstance(v, Tensor):
                raise TypeError(
                    f"{name}: variables must be ndgrad Tensors. Received one of type "
                    f"{type(v).__name__}"
                )
            if i is None:
                raise ValueError(
                    f"{name}: unknown variable of shape {v.shape}. This "
                    "optimizer can only update the variables it was built with; for a new set "
                    "of variables, create a new optimizer"
                )
            w = v.data
            if isinstance(g, Tensor):
                if g.backend is not v.backend:
                    raise DeviceError(
                        f"{name}: the gradient of variable {i} is on device {g.device!r} but "
                        f"the variable is on {v.device!r}"
                    )
                g = g.data
            else:
                g = v.backend.asarray(g)
            if g.shape != w.shape:
                raise ShapeError(
                    f"{name}: the gradient of variable {i} must have the variable's shape. "
                    f"Received: variable.shape={tuple(w.shape)}, gradient.shape={tuple(g.shape)}"
                )
            if v.backend is not devices[i]:
                raise DeviceError(
                    f"{name}: variable {i} is on device {v.device!r} but the optimizer state is "
                    f"on {devices[i].name!r}; call optimizer.to({v.device!r})"
                )
            if g.dtype != w.dtype:
                g = v.backend.astype(g, v.dtype)
            pairs.append((g, v))
        return pairs

    def _clip_gradients(self, pairs: list[tuple[Any, Tensor]]) -> list[tuple[Any, Tensor]]:
        """Keras's clipping. The scale is computed on the device, in float64. On a device
        (CuPy) no number is read back, so a GPU never waits here: every gradient is scaled,
        by 1 where it needs no clipping. Where reading a number is free
        (`Backend.host_reads_free`: the CPU), the scale is read, and a gradient it would
        multiply by 1 is handed on as it is: the same bits, without a pass over its memory."""
        if not pairs:
            return pairs
        out = []
        if self.clipnorm:
            c = self.clipnorm
            for g, v in pairs:
                with v.backend.activate():
                    xp = v.backend.xp
                    factor = _clip_factor(xp, _norm(xp, g), c)
                    out.append((g if _is_one(v.backend, factor) else _scale(xp, g, factor), v))
            return out
        if self.global_clipnorm:
            home = pairs[0][1].backend
            factor = _global_clip_factor(pairs, self.global_clipnorm)
            if _is_one(home, factor):
                return pairs
            for g, v in pairs:
                with v.backend.activate():
                    f = factor if v.backend is home else v.backend.transfer(factor, home)
                    out.append((_scale(v.backend.xp, g, f), v))
            return out
        limit = self.clipvalue
        assert limit  # the caller clips only when one of the three is set
        for g, v in pairs:
            with v.backend.activate():
                out.append((v.backend.clip(g, -limit, limit), v))
        return out

    def update_step(
        self, gradient: Any, variable: Tensor, learning_rate: float, keep: Keep | None = None
    ) -> None:
        """Update ``variable.data`` in place from the backend array `gradient` (first copying
        the values it overwrites into `keep`, when given: see `keep_next`).

        The opening every optimizer shares: the variable's state (slot name -> array), then
        the backend's fused kernel for the class whose `update` this is, if it registered one
        and takes these arrays, else `update`. A subclass may override this instead of
        writing `update` (then it owns its whole step, and is never given `keep`).
        """
        i = self._index[id(variable)]
        w = variable.data
        state = self._state_of(i)
        fused = variable.backend.fused_updates.get(self._update_owner)
        if fused is not None and fused(self, w, gradient, state, learning_rate, keep):
            return
        if keep is not None:
            keep_copy(keep, w, state)
        scratch = self._scratch[i]  # type: ignore[index]
        self.update(variable.backend.xp, w, gradient, state, scratch, learning_rate)

    def update(
        self,
        xp: Any,
        w: Any,
        g: Any,
        state: dict[str, Any],
        scratch: tuple[Any, ...],
        learning_rate: float,
    ) -> None:
        """The update rule, backend-neutral (namespace `xp`, as an op's forward): `w` (the
        variable's array) and the `state` arrays updated in place from the gradient `g`, with
        the `scratch` arrays (`_scratch_count` of them) for temporaries."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_step")

    # -- configuration ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-ready unless the learning rate is a plain function)."""
        lr = self._learning_rate
        saved: float | dict[str, Any] | Callable[[int], float] = lr  # a plain function as is
        if isinstance(lr, LearningRateSchedule):
            saved = serialize(lr)
        elif not callable(lr):
            saved = float(lr)
        return {
            "name": self.name,
            "learning_rate": saved,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """A new optimizer (no state) from `get_config()` output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} learning_rate={self._learning_rate!r} "
            f"iterations={self.iterations}>"
        )


Optimizer._update_owner = Optimizer  # its own `update` (which raises): no kernel
