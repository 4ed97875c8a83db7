"""Learning-rate schedules: values at several steps, config round trip, use by optimizers."""

from __future__ import annotations

import json
import math

import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.optimizers import schedules


def test_exponential_decay_values() -> None:
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert [s(k) for k in (0, 5, 10, 25)] == pytest.approx(
        [0.1, 0.1 * 0.5**0.5, 0.05, 0.1 * 0.5**2.5]
    )
    stairs = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [stairs(k) for k in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_cosine_decay_values() -> None:
    s = schedules.CosineDecay(1.0, decay_steps=100)
    assert [s(k) for k in (0, 25, 50, 100, 1000)] == pytest.approx(
        [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.0, 0.0], abs=1e-15
    )
    floor = schedules.CosineDecay(2.0, decay_steps=10, alpha=0.25)
    assert [floor(k) for k in (0, 5, 10, 11)] == pytest.approx([2.0, 1.25, 0.5, 0.5])


def test_cosine_decay_warmup() -> None:
    s = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    assert [s(k) for k in (0, 1, 2, 4, 9, 14, 99)] == pytest.approx(
        [0.0, 0.25, 0.5, 1.0, 0.5, 0.0, 0.0], abs=1e-15
    )


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, decay_steps=-1)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.ExponentialDecay(0.1, 7, 0.9, staircase=True),
        schedules.CosineDecay(0.1, 50, alpha=0.1, warmup_target=0.2, warmup_steps=5),
    ],
    ids=lambda s: type(s).__name__,
)
def test_round_trip(schedule: schedules.LearningRateSchedule) -> None:
    again = schedules.deserialize(json.loads(json.dumps(schedules.serialize(schedule))))
    assert type(again) is type(schedule)
    assert [again(k) for k in range(0, 60, 7)] == [schedule(k) for k in range(0, 60, 7)]
    with pytest.raises(ValueError, match="CosineDecay"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_custom_schedules_register_themselves() -> None:
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, start: float) -> None:
            self.start = start

        def __call__(self, step: int) -> float:
            return self.start / 2**step

        def get_config(self) -> dict:
            return {"start": self.start}

    opt = optimizers.SGD(Halving(1.0))
    again = optimizers.SGD.from_config(json.loads(json.dumps(opt.get_config())))
    assert isinstance(again._learning_rate, Halving)


def test_optimizer_uses_the_schedule_once_per_iteration(backend: str) -> None:
    """With g = 1, SGD moves by exactly the scheduled rate of each step: 1, 0.5, 0.25, 0.125."""
    opt = optimizers.SGD(schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5))
    w = ndgrad.tensor([0.0], dtype="float64", device=backend)
    seen = []
    for _ in range(4):
        seen.append(opt.learning_rate)
        opt.apply([ndgrad.tensor([1.0], dtype="float64", device=backend)], [w])
    assert seen == [1.0, 0.5, 0.25, 0.125]
    assert w.item() == -1.875
    assert opt.learning_rate == 0.0625


# -- defaults, names, messages, repr ---------------------------------------------------------
def test_default_names_and_warmup() -> None:
    exp = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    cos = schedules.CosineDecay(0.1, decay_steps=10)
    assert exp.name == "ExponentialDecay" and exp.get_config()["name"] == "ExponentialDecay"
    assert cos.name == "CosineDecay" and cos.get_config()["name"] == "CosineDecay"
    assert cos.get_config() == {
        "initial_learning_rate": 0.1,
        "decay_steps": 10,
        "alpha": 0.0,
        "name": "CosineDecay",
        "warmup_target": None,
        "warmup_steps": 0,
    }
    named = schedules.ExponentialDecay(0.1, 10, 0.5, name="mine")
    assert named.name == "mine" and schedules.deserialize(schedules.serialize(named)).name == "mine"


def test_cosine_decay_with_a_target_and_no_warmup_steps_decays_from_the_target() -> None:
    s = schedules.CosineDecay(0.1, decay_steps=10, warmup_target=1.0)
    assert s(0) == 1.0
    assert s(5) == pytest.approx(0.5) and s(10) == pytest.approx(0.0, abs=1e-15)


def test_cosine_decay_warmup_from_a_nonzero_start() -> None:
    """Linear from initial_learning_rate to warmup_target, which is reached exactly at step
    warmup_steps, where the decay starts."""
    s = schedules.CosineDecay(0.2, decay_steps=10, warmup_target=0.9, warmup_steps=4)
    assert [s(k) for k in (0, 1, 2, 3)] == pytest.approx([0.2, 0.375, 0.55, 0.725])
    assert s(4) == 0.9  # the peak is the target itself
    assert s(9) == pytest.approx(0.45) and s(14) == pytest.approx(0.0, abs=1e-15)


def test_argument_messages_name_the_argument() -> None:
    for make in (
        lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5),
        lambda: schedules.CosineDecay(0.1, decay_steps=0),
    ):
        with pytest.raises(
            ValueError,
            match=r"^Argument `decay_steps` must be > 0\. "
            r"Received: decay_steps=0$",
        ):
            make()
    with pytest.raises(ValueError, match=r"^Argument `warmup_steps` must be >= 0\. Received: -1$"):
        schedules.CosineDecay(0.1, decay_steps=10, warmup_target=1.0, warmup_steps=-1)
    schedules.CosineDecay(0.1, decay_steps=10, warmup_target=1.0, warmup_steps=0)


def test_repr_lists_the_arguments_but_the_name() -> None:
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, name="mine")
    assert repr(s) == (
        "ExponentialDecay(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, "
        "staircase=False)"
    )
    c = schedules.CosineDecay(1.0, 100, warmup_target=2.0, warmup_steps=5)
    assert repr(c) == (
        "CosineDecay(initial_learning_rate=1.0, decay_steps=100, alpha=0.0, "
        "warmup_target=2.0, warmup_steps=5)"
    )


def test_base_class_methods_say_what_to_implement() -> None:
    class Unfinished(schedules.LearningRateSchedule):
        pass

    with pytest.raises(NotImplementedError, match=r"^Unfinished must implement __call__\(step\)$"):
        Unfinished()(0)
    with pytest.raises(NotImplementedError, match=r"^Unfinished must implement get_config\(\)$"):
        Unfinished().get_config()


def test_deserialize_without_config_and_the_known_names() -> None:
    class ConstantRate(schedules.LearningRateSchedule):
        def __init__(self, rate: float = 0.25) -> None:
            self.rate = rate

        def __call__(self, step: int) -> float:
            return self.rate

        def get_config(self) -> dict:
            return {"rate": self.rate}

    again = schedules.deserialize({"class_name": "ConstantRate"})
    assert isinstance(again, ConstantRate) and again(3) == 0.25
    assert repr(again) == "ConstantRate(rate=0.25)"
    with pytest.raises(ValueError, match="^Unknown learning-rate schedule 'Nope'") as info:
        schedules.deserialize({"class_name": "Nope"})
    known = str(info.value).split("Known schedules: ")[1].split(", ")
    assert known == sorted(known)
    assert {"ConstantRate", "CosineDecay", "ExponentialDecay"} <= set(known)
