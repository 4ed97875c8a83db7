"""The one registry helper behind every name lookup."""

from __future__ import annotations

import pytest

from ndgrad import activations, initializers, losses, metrics, optimizers, saving
from ndgrad._registry import Registry
from ndgrad.optimizers import schedules


def test_lookup_normalizes_and_lists_the_known_names() -> None:
    r = Registry("colour", {"red": 1, "green": 2})
    assert r.lookup("RED") == 1 and r.lookup("green") == 2
    with pytest.raises(ValueError, match=r"^unknown colour 'blue'\. Valid names: green, red$"):
        r.lookup("blue")
    with pytest.raises(ValueError, match="unknown colour None"):
        r.lookup(None)
    assert r.quoted() == "'red', 'green'" and r.name_of(2) == "green" and r.name_of(3) is None


def test_register_and_a_registry_of_its_own_wording() -> None:
    r = Registry("shape", normalize=None, message="no {kind} {name} ({what}); known: {quoted}")

    @r.register()
    def circle() -> None: ...

    assert r.lookup("circle") is circle
    with pytest.raises(ValueError, match=r"^no shape 'Circle' \(config\); known: 'circle'$"):
        r.lookup("Circle", what="config")


@pytest.mark.parametrize(
    "registry",
    [
        activations.ACTIVATIONS,
        initializers.INITIALIZERS,
        losses.LOSSES,
        metrics.METRICS,
        optimizers.OPTIMIZERS,
        schedules._REGISTRY,
        saving._REGISTRY,
    ],
    ids=lambda r: r.kind,
)
def test_every_lookup_is_a_registry(registry: Registry) -> None:
    assert isinstance(registry, Registry) and len(registry) > 1
    with pytest.raises(ValueError, match="nonesuch") as info:
        registry.lookup("nonesuch", what="identifier")
    assert all(name in str(info.value) for name in registry)
