"""The `ndgrad` command, run in-process and offline (MNIST falls back to the bundled subset:
4000 training / 1000 test images).

The accuracy runs are marked `slow` as a label only: they run in `make test`.
"""

from __future__ import annotations

import re

import pytest

import ndgrad
from ndgrad import cli
from ndgrad.datasets import mnist


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty cache: `ndgrad train mnist` uses the bundled subset."""

    def no_network(url, timeout):
        raise OSError(f"offline test: {url}")

    monkeypatch.setattr(mnist, "_fetch", no_network)
    monkeypatch.setenv("NDGRAD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _accuracy(text: str) -> float:
    match = re.search(r"test accuracy: ([0-9.]+)", text)
    assert match, text
    return float(match.group(1))


@pytest.mark.slow
def test_train_mnist_mlp_reaches_89_percent(offline, capsys):
    assert cli.main(["train", "mnist"]) == 0
    out, err = capsys.readouterr()
    text = out + err
    assert "bundled subset (4000 training, 1000 test images)" in out
    assert "Total params: 407,050" in out  # the summary
    assert "Epoch 5/5" in text and re.search(r"32/32 \[█+\]", text)  # the progress bar
    assert "DatasetFallbackWarning" in err or "Full MNIST unavailable" in err
    accuracy = _accuracy(out)
    print(f"ndgrad train mnist (mlp, subset): test accuracy {accuracy:.4f}")
    assert accuracy >= 0.89


@pytest.mark.slow
def test_train_mnist_convnet_reaches_93_percent(offline, capsys):
    assert cli.main(["train", "mnist", "--model", "convnet", "--verbose", "2"]) == 0
    out, err = capsys.readouterr()
    assert "Total params: 104,202" in out
    accuracy = _accuracy(out)
    print(f"ndgrad train mnist --model convnet (subset): test accuracy {accuracy:.4f}")
    assert accuracy >= 0.93


def test_train_options_and_save(offline, capsys):
    path = offline / "mlp.ndgrad"
    argv = ["train", "mnist", "--epochs", "1", "--batch-size", "256", "--optimizer", "sgd",
            "--learning-rate", "0.1", "--momentum", "0.9", "--seed", "3", "--verbose", "0",
            "--save", str(path)]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "Epoch" not in out + err and "Total params" not in out  # verbose 0: no bar
    accuracy = _accuracy(out)
    assert f"saved to {path}" in out
    model = ndgrad.load_model(str(path))
    assert type(model.optimizer).__name__ == "SGD"
    assert model.optimizer.get_config()["momentum"] == 0.9
    data = mnist.load_subset()
    x = ndgrad.tensor(data.x_test, dtype="float32").reshape(-1, 784) / 255.0
    _, again = model.evaluate(x, data.y_test, batch_size=512, verbose=0)
    assert again == pytest.approx(accuracy, abs=1e-4)


def test_train_on_the_strict_device(offline, capsys):
    argv = ["train", "mnist", "--epochs", "1", "--device", "strict", "--verbose", "0"]
    assert cli.main(argv) == 0
    assert _accuracy(capsys.readouterr().out) > 0.5


def test_momentum_only_where_it_applies(offline):
    with pytest.raises(SystemExit, match="momentum"):
        cli.main(["train", "mnist", "--optimizer", "adam", "--momentum", "0.9"])


def test_unknown_optimizer_lists_valid_names(offline):
    with pytest.raises(ValueError, match="(?i)rmsprop"):
        cli.main(["train", "mnist", "--optimizer", "adagrad", "--verbose", "0"])


def test_devices(capsys):
    assert cli.main(["devices"]) == 0
    assert "cpu" in capsys.readouterr().out.split()


@pytest.mark.parametrize("argv", [[], ["train"], ["train", "cifar10"],
                                  ["train", "mnist", "--model", "resnet"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "usage: ndgrad" in capsys.readouterr().err
