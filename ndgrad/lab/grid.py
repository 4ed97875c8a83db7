"""The configurations of a sweep: a full grid or random samples, and its cells.

A config is a dict of hyperparameters (``{"learning_rate": 1e-3, "momentum": 0.9}``). A
`Cell` is one config trained with one seed; its `key` is a hash of its content, so a cell has
the same identity in every process, on every machine and in every later run of the sweep.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Config = dict[str, Any]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: `config` trained with `seed`. `key` is its content hash."""

    config: Config = field(hash=False)
    seed: int
    key: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(_canonical({"config": self.config, "seed": self.seed}).encode())
        object.__setattr__(self, "key", digest.hexdigest()[:16])

    def label(self) -> str:
        """``learning_rate=0.001 momentum=0.9 seed=0``: what a person reads."""
        parts = [f"{k}={format_value(v)}" for k, v in self.config.items()]
        return " ".join([*parts, f"seed={self.seed}"])

    def random_seed(self, sweep_seed: int) -> int:
        """The seed of this cell's run: from the sweep's seed and the cell alone, never from
        the worker, the machine or the order in which runs finish."""
        digest = hashlib.sha256(f"{sweep_seed}:{self.key}".encode()).digest()
        return int.from_bytes(digest[:4], "little")


def format_value(value: Any) -> str:
    """Numbers as a person writes them: 0.001, 3e-05, 0.9, 128."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def grid(space: Mapping[str, Sequence[Any]]) -> list[Config]:
    """Every combination of the values in `space`, the first key varying slowest.

    >>> grid({"learning_rate": [1e-3, 1e-2], "momentum": [0.0, 0.9]})[1]
    {'learning_rate': 0.001, 'momentum': 0.9}
    """
    _check_space(space)
    names = list(space)
    return [dict(zip(names, values)) for values in itertools.product(*space.values())]


def is_log_scale(name: str) -> bool:
    """Learning rates (and decays) are sampled on a log scale."""
    return "learning_rate" in name or name in ("lr", "weight_decay", "epsilon")


def sample(space: Mapping[str, Sequence[Any]], n: int, seed: int = 0) -> list[Config]:
    """`n` random configs: each numeric parameter uniform between its smallest and largest
    value (log-uniform for learning rates), others chosen among their values.

    >>> configs = sample({"learning_rate": [1e-4, 1e-1], "momentum": [0.0, 0.9]}, 3)
    >>> len(configs), all(1e-4 <= c["learning_rate"] <= 1e-1 for c in configs)
    (3, True)
    """
    _check_space(space)
    if n < 1:
        raise ValueError(f"sample: the number of configs must be >= 1. Received n={n}")
    rng = random.Random(seed)
    configs = []
    for _ in range(n):
        config = {}
        for name, values in space.items():
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            if not numeric or len(values) == 1:
                config[name] = rng.choice(list(values))
                continue
            low, high = min(values), max(values)
            if all(isinstance(v, int) for v in values):
                config[name] = rng.randint(low, high)
            elif is_log_scale(name) and low > 0:
                config[name] = _round(math.exp(rng.uniform(math.log(low), math.log(high))))
            else:
                config[name] = _round(rng.uniform(low, high))
        configs.append(config)
    return configs


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def cells(configs: Sequence[Config], seeds: int | Sequence[int]) -> list[Cell]:
    """Each config with each seed (``seeds=3`` means 0, 1, 2), config by config."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ValueError(f"cells: at least one seed is needed. Received seeds={seeds!r}")
    return [Cell(dict(c), s) for c in configs for s in seed_list]


def parse_values(text: str) -> list[Any]:
    """``"1e-3,3e-3"`` -> ``[0.001, 0.003]``; ints stay ints, other words stay strings."""
    values: list[Any] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty value in {text!r}")
        try:
            values.append(int(part))
        except ValueError:
            try:
                values.append(float(part))
            except ValueError:
                values.append({"true": True, "false": False}.get(part.lower(), part))
    return values


def _check_space(space: Mapping[str, Sequence[Any]]) -> None:
    if not space:
        raise ValueError("a sweep needs at least one parameter with values")
    for name, values in space.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"parameter {name!r} needs a non-empty list of values. Received {values!r}"
            )
