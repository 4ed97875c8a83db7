"""Every script in examples/ runs (offline, with small `limit`/`epochs` where it has them), and
the small ones reach their targets: iris >= 0.93 test accuracy, and the dosage network calls
only medium dosages effective."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import ndgrad
from ndgrad.datasets import dosage, mnist
from ndgrad.models import book

pytestmark = pytest.mark.filterwarnings("ignore::ndgrad.datasets.mnist.DatasetFallbackWarning")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# name -> keyword arguments for main() that keep the run short
SMALL = {
    "dosage": {},
    "iris": {},
    "rgb_scaling": {},
    "mnist_mlp": {"epochs": 1, "limit": 500, "verbose": 0},
    "mnist_convnet": {"epochs": 1, "limit": 128, "verbose": 0},
    "mnist_from_scratch": {"epochs": 1, "limit": 500},
}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    def no_network(url, timeout):
        raise OSError(f"offline test: {url}")

    monkeypatch.setattr(mnist, "_fetch", no_network)
    monkeypatch.setenv("NDGRAD_CACHE_DIR", str(tmp_path / "cache"))


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")["main"]


def test_every_example_is_covered():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_runs(name, capsys):
    result = _main(name)(**SMALL[name])
    out = capsys.readouterr().out
    assert out.strip(), f"{name} printed nothing"
    if name.startswith("mnist"):
        assert isinstance(result, float) and 0.0 <= result <= 1.0
        assert "acc" in out


@pytest.mark.parametrize("name", ["rgb_scaling", "dosage", "iris"])
def test_quick_examples_run_as_scripts(name, capsys):
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    assert capsys.readouterr().out


def test_rgb_scaling_prints_the_whole_error(capsys):
    _main("rgb_scaling")()
    error = capsys.readouterr().out.split("does not fit:")[1]
    assert "Received shapes:" in error
    assert error.split("Received shapes:")[1].split() == ["(256,", "256,", "3)", "(4,)"]


def test_mnist_examples_learn_something():
    assert _main("mnist_mlp")(epochs=1, limit=1000, verbose=0) > 0.7
    assert _main("mnist_from_scratch")(epochs=2, limit=1000) > 0.5


@pytest.mark.slow
def test_iris_reaches_93_percent(capsys):
    accuracy = _main("iris")()
    print(f"iris example: test accuracy {accuracy:.3f}")
    assert accuracy >= 0.93


def test_dosage_effective_only_for_medium_dosages(capsys):
    model = _main("dosage")()
    out = capsys.readouterr().out
    assert "dosage 0.5: effective" in out
    for d in ("0.0", "0.1", "0.9", "1.0"):
        assert f"dosage {d}: not effective" in out
    # away from the two boundaries (1/3 and 2/3), every dosage is classified right
    grid = np.linspace(0, 1, 101, dtype="float32")
    grid = grid[(np.abs(grid - dosage.LOW) > 0.05) & (np.abs(grid - dosage.HIGH) > 0.05)]
    p = model.predict(grid[:, None]).numpy()[:, 0]
    np.testing.assert_array_equal(p > 0.5, (grid > dosage.LOW) & (grid < dosage.HIGH))
    assert isinstance(model, ndgrad.Sequential)
    assert _architecture(model) == _architecture(book.dosage_mlp())  # the book's network


def _architecture(model) -> list:
    """Each layer's class and configuration (names aside), and the weights' shapes."""
    layers = [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
              for layer in model.layers]
    return [model.name, layers, [tuple(w.shape) for w in model.weights]]
