"""The `ndgrad` command, run in-process and offline (MNIST falls back to the bundled subset:
4000 training / 1000 test images).

The accuracy runs are marked `slow` as a label only: they run in `make test`.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ndgrad
from ndgrad import cli
from ndgrad.datasets import dosage, iris, mnist


def _no_network(url, timeout):
    raise OSError(f"offline test: {url}")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty cache: `ndgrad train mnist` uses the bundled subset."""
    monkeypatch.setattr(mnist, "_fetch", _no_network)
    monkeypatch.setenv("NDGRAD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _accuracy(text: str) -> float:
    match = re.search(r"test accuracy: ([0-9.]+)", text)
    assert match, text
    return float(match.group(1))


def _run(argv: list[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``ndgrad *argv``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def _weights(path: Path) -> list[np.ndarray]:
    return ndgrad.load_model(str(path)).get_weights()


# -- mnist --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_train_mnist_mlp_reaches_89_percent(offline, capsys):
    assert cli.main(["train", "mnist"]) == 0
    out, err = capsys.readouterr()
    text = out + err
    assert "bundled subset (4000 training, 1000 test images)" in out
    assert "Total params: 407,050" in out  # the summary
    assert "Epoch 5/5" in text and re.search(r"32/32 \[█+\]", text)  # batches of 128
    assert "full mnist unavailable" in err.lower() and "--data" in err
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


def test_train_mnist_convnet_builds_the_book_convnet(offline, capsys):
    """`--model convnet` trains the book's convnet (the slow test above checks it learns):
    with zero epochs, its summary and an untrained accuracy near chance."""
    assert cli.main(["train", "mnist", "--model", "convnet", "--epochs", "0"]) == 0
    out, _ = capsys.readouterr()
    assert "Total params: 104,202" in out
    assert out.count("Conv2D") == 3 and out.count("MaxPooling2D") == 2
    assert _accuracy(out) < 0.3


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """One epoch of `ndgrad train mnist` with every option set: (stdout, stderr, model path)."""
    folder = tmp_path_factory.mktemp("mnist")
    path = folder / "mlp.ndgrad"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mnist, "_fetch", _no_network)
        mp.setenv("NDGRAD_CACHE_DIR", str(folder / "cache"))
        status, out, err = _run(["train", "mnist", "--epochs", "1", "--batch-size", "256",
                                 "--optimizer", "sgd", "--learning-rate", "0.1",
                                 "--momentum", "0.9", "--seed", "3", "--verbose", "0",
                                 "--save", path])
    assert status == 0, err
    return out, err, path


def test_train_options_reach_the_saved_model(mnist_run):
    out, err, path = mnist_run
    assert "Epoch" not in out + err and "Total params" not in out  # verbose 0: no bar
    assert f"saved to {path}" in out
    model = ndgrad.load_model(str(path))
    opt = model.optimizer
    assert type(opt).__name__ == "SGD"
    assert opt.learning_rate == 0.1 and opt.momentum == 0.9  # --learning-rate, --momentum
    assert opt.iterations == math.ceil(4000 / 256)  # --batch-size 256: 16 steps in 1 epoch
    data = mnist.load_subset()
    _, again = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0)
    assert again == pytest.approx(_accuracy(out), abs=1e-4)  # the saved model takes raw pixels


def test_batch_size_and_epochs_set_the_number_of_steps(offline):
    path = offline / "iris.ndgrad"
    argv = ["train", "iris", "--epochs", "2", "--batch-size", "50", "--verbose", "0"]
    status, _, err = _run([*argv, "--save", path])
    assert status == 0, err
    assert ndgrad.load_model(str(path)).optimizer.iterations == 2 * math.ceil(120 / 50)


def test_the_recipe_learning_rate_goes_with_the_recipe_optimizer(offline):
    for optimizer, rate in [("adam", 0.01), ("ADAM", 0.01), ("rmsprop", 0.001), ("sgd", 0.01)]:
        path = offline / "iris.ndgrad"
        argv = ["train", "iris", "--epochs", "0", "--optimizer", optimizer, "--verbose", "0"]
        assert _run([*argv, "--save", path])[0] == 0
        assert ndgrad.load_model(str(path)).optimizer.learning_rate == rate


def test_seed_makes_runs_identical_and_another_seed_different(offline):
    runs = {}
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        path = offline / f"{name}.ndgrad"
        argv = ["train", "iris", "--epochs", "2", "--seed", seed, "--verbose", "0", "--save", path]
        assert _run(argv)[0] == 0
        runs[name] = _weights(path)
    assert all(np.array_equal(x, y) for x, y in zip(runs["a"], runs["b"]))
    assert not all(np.array_equal(x, y) for x, y in zip(runs["a"], runs["c"]))


# -- iris and dosage: the examples' recipes ---------------------------------------------------

def test_train_iris_with_the_example_recipe(offline):
    path = offline / "iris.ndgrad"
    status, out, _ = _run(["train", "iris", "--save", path, "--verbose", "0"])
    assert status == 0
    assert "iris (120 training, 30 test flowers)" in out
    accuracy = _accuracy(out)
    assert accuracy >= 0.93  # as examples/iris.py
    model = ndgrad.load_model(str(path))
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == 0.01
    assert model.optimizer.iterations == 100 * math.ceil(120 / 16)  # 100 epochs of 16
    # the standardization is part of the model: raw measurements in, classes out
    (x_train, _), (x_test, y_test) = iris.load_data()
    np.testing.assert_allclose(model.layers[0].mean.numpy(), x_train.mean(0), rtol=1e-5)
    predicted = model.predict(x_test).numpy().argmax(1)
    assert (predicted == y_test).mean() == pytest.approx(accuracy, abs=1e-4)


def test_train_dosage_with_the_example_recipe(offline):
    path = offline / "dosage.ndgrad"
    status, out, _ = _run(["train", "dosage", "--save", path, "--verbose", "0"])
    assert status == 0 and "dosage (75 training, 25 test dosages)" in out
    assert _accuracy(out) >= 0.9
    model = ndgrad.load_model(str(path))
    assert model.optimizer.learning_rate == 0.05
    assert model.optimizer.iterations == 300  # full batch: one step per epoch
    p = model.predict(np.array([[0.05], [0.5], [0.95]], "float32")).numpy().ravel()
    assert p[1] > 0.5 > max(p[0], p[2])  # only the medium dosage works
    assert dosage.LOW < 0.5 < dosage.HIGH


def test_train_on_the_strict_device(offline):
    status, out, _ = _run(["train", "dosage", "--epochs", "50", "--device", "strict",
                           "--verbose", "0"])
    assert status == 0 and _accuracy(out) > 0.5


# -- evaluate and predict ---------------------------------------------------------------------

@pytest.fixture
def iris_model(offline) -> Path:
    path = offline / "iris.ndgrad"
    assert _run(["train", "iris", "--epochs", "30", "--verbose", "0", "--save", path])[0] == 0
    return path


def _metrics(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\w+): ([0-9.]+)", text.splitlines()[-1])}


def test_evaluate_on_named_data_npz_and_csv(iris_model, offline):
    model = ndgrad.load_model(str(iris_model))
    (_, _), (x_test, y_test) = iris.load_data()
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)

    status, out, _ = _run(["evaluate", iris_model, "--data", "iris"])
    assert status == 0 and "the test split (30 samples)" in out
    assert _metrics(out) == pytest.approx({"loss": loss, "accuracy": accuracy}, abs=1e-4)

    np.savez(offline / "test.npz", x=x_test, y=y_test)
    status, out, _ = _run(["evaluate", iris_model, "--data", offline / "test.npz"])
    assert status == 0 and _metrics(out) == pytest.approx({"loss": loss, "accuracy": accuracy},
                                                          abs=1e-4)

    csv = offline / "test.csv"
    rows = [",".join(f"{v:g}" for v in [*x, y]) for x, y in zip(x_test, y_test)]
    csv.write_text("a,b,c,d,species\n" + "\n".join(rows) + "\n")
    status, out, _ = _run(["evaluate", iris_model, "--data", csv])
    assert status == 0 and "4 features and a label per row (30 samples)" in out
    assert _metrics(out) == pytest.approx({"loss": loss, "accuracy": accuracy}, abs=1e-4)


def test_evaluate_mnist_folder_and_keras_npz(mnist_run, tmp_path):
    _, _, path = mnist_run
    data = mnist.load_subset()
    np.savez(tmp_path / "mnist.npz", x_train=data.x_train[:10], y_train=data.y_train[:10],
             x_test=data.x_test, y_test=data.y_test)
    status, out, _ = _run(["evaluate", path, "--data", tmp_path / "mnist.npz"])
    assert status == 0 and "arrays x_test, y_test (1000 samples)" in out
    model = ndgrad.load_model(str(path))
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    assert _metrics(out)["accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_predict_classes_from_npy_csv_and_npz(iris_model, offline):
    model = ndgrad.load_model(str(iris_model))
    x = iris.load()[0][::30]  # 5 flowers, raw measurements
    expected = model.predict(x).numpy()

    np.save(offline / "x.npy", x)
    status, out, _ = _run(["predict", iris_model, offline / "x.npy",
                           "--output", offline / "p.npy"])
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "sample\tclass\tprobability" and len(lines) == 6
    for i, line in enumerate(lines[1:]):
        k = expected[i].argmax()
        assert line == f"{i}\t{k}\t{expected[i][k]:.4f}"
    np.testing.assert_allclose(np.load(offline / "p.npy"), expected, rtol=1e-6)

    (offline / "x.csv").write_text("sl,sw,pl,pw\n" + "\n".join(",".join(map(str, r.tolist()))
                                                                for r in x))
    np.savez(offline / "x.npz", x=x)
    for source in ("x.csv", "x.npz"):
        status, again, _ = _run(["predict", iris_model, offline / source,
                                 "--output", offline / "p.csv"])
        assert status == 0 and again == out
        np.testing.assert_allclose(np.loadtxt(offline / "p.csv", delimiter=","), expected,
                                   rtol=1e-6)

    np.save(offline / "one.npy", x[0])  # one sample of the input shape
    status, one, _ = _run(["predict", iris_model, offline / "one.npy"])
    assert status == 0 and one.splitlines()[1] == lines[1]


def test_predict_digits_from_pixels(mnist_run, tmp_path):
    _, _, path = mnist_run
    data = mnist.load_subset()
    digits = data.x_test[:20]  # uint8, 28x28, as stored
    np.save(tmp_path / "digits.npy", digits)
    status, out, _ = _run(["predict", path, tmp_path / "digits.npy"])
    assert status == 0
    classes = [int(line.split("\t")[1]) for line in out.splitlines()[1:]]
    assert len(classes) == 20 and np.mean(np.array(classes) == data.y_test[:20]) >= 0.75
    np.savetxt(tmp_path / "rows.csv", digits.reshape(20, 784), delimiter=",", fmt="%d")
    status, again, _ = _run(["predict", path, tmp_path / "rows.csv"])  # rows of 784 pixels
    assert status == 0 and again == out


def test_predict_prints_outputs_of_other_models(offline):
    model = ndgrad.Sequential([ndgrad.layers.Input((2,)), ndgrad.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.save(str(offline / "reg.ndgrad"))
    np.save(offline / "x.npy", np.array([[1.0, 2.0]]))
    status, out, _ = _run(["predict", offline / "reg.ndgrad", offline / "x.npy"])
    expected = model.predict(np.array([[1.0, 2.0]], "float32")).numpy()[0]
    assert status == 0 and out.splitlines() == [
        "sample\toutput", "0\t" + "\t".join(f"{v:.6g}" for v in expected)]


# -- user errors: one line on stderr, exit status 2 -------------------------------------------

USER_ERRORS = {
    "missing data": (["train", "mnist", "--data", "{tmp}/nonexistent"], "does not exist"),
    "bad optimizer": (["train", "iris", "--optimizer", "adagrad"], "adagrad.*'rmsprop'"),
    "momentum for adam": (["train", "iris", "--optimizer", "adam", "--momentum", "0.9"],
                          "--momentum does not apply to adam"),
    "convnet for iris": (["train", "iris", "--model", "convnet"], "mnist only"),
    "data for dosage": (["train", "dosage", "--data", "x.npz"], "mnist only"),
    "no device": (["train", "dosage", "--device", "tpu"], "tpu"),
    "missing model": (["evaluate", "{tmp}/none.ndgrad", "--data", "iris"],
                      "none.ndgrad: no such file"),
    "not a model": (["evaluate", "{tmp}/text.ndgrad", "--data", "iris"],
                    "text.ndgrad.*written by model.save"),
    "uncompiled": (["evaluate", "{tmp}/uncompiled.ndgrad", "--data", "iris"],
                   "saved uncompiled.*no loss"),
    "unknown data": (["evaluate", "{model}", "--data", "{tmp}/text.ndgrad"], "unknown format"),
    "no such data": (["evaluate", "{model}", "--data", "cifar"], "cifar: no such file"),
    "npz without x": (["predict", "{model}", "{tmp}/w.npz"], r"expected an array x.*\['w'\]"),
    "wrong width": (["predict", "{model}", "{tmp}/wide.csv"],
                    r"shape \(5,\).*shape \(4,\).*label column"),
    "ragged csv": (["predict", "{model}", "{tmp}/ragged.csv"], "line 2 has 3 values"),
    "text csv": (["predict", "{model}", "{tmp}/words.csv"], "line 2 is not comma-separated"),
    "unknown input": (["predict", "{model}", "{tmp}/x.png"], r"unknown format.*\.npy"),
    "output format": (["predict", "{model}", "{tmp}/w.npz", "--output", "p.txt"],
                      "must end in .npy or .csv"),
}


@pytest.mark.parametrize("case", USER_ERRORS, ids=USER_ERRORS)
def test_user_errors_are_one_line_and_exit_2(case, offline):
    tmp = offline
    model = tmp / "m.ndgrad"
    net = ndgrad.Sequential([ndgrad.layers.Input((4,)), ndgrad.layers.Dense(3)])
    net.save(str(tmp / "uncompiled.ndgrad"))
    net.compile("sgd", "sparse_categorical_crossentropy")
    net.save(str(model))
    (tmp / "text.ndgrad").write_text("hello")
    np.savez(tmp / "w.npz", w=np.ones(3))
    (tmp / "wide.csv").write_text("1,2,3,4,0\n5,6,7,8,1\n")
    (tmp / "ragged.csv").write_text("1,2,3,4\n5,6,7\n")
    (tmp / "words.csv").write_text("1,2,3,4\nfive,6,7,8\n")
    argv, message = USER_ERRORS[case]
    argv = [a.format(tmp=tmp, model=model) for a in argv]
    status, out, err = _run(argv)
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"ndgrad {argv[0]}: error: ")
    assert re.search(message, err), err


def test_debug_shows_the_traceback(offline):
    for argv in (["--debug", "train", "mnist", "--data", "/nonexistent"],
                 ["train", "mnist", "--data", "/nonexistent", "--debug"]):
        with pytest.raises(FileNotFoundError, match="nonexistent"):
            cli.main(argv)


def test_bugs_keep_their_traceback(offline, monkeypatch):
    def broken(*args, **kwargs):
        raise AttributeError("a bug")

    monkeypatch.setattr(cli.training, "_network", broken)
    with pytest.raises(AttributeError, match="a bug"):
        cli.main(["train", "iris", "--verbose", "0"])


def test_the_installed_command_exits_2_with_one_line(tmp_path):
    argv = [sys.executable, "-m", "ndgrad.cli", "evaluate", str(tmp_path / "none.ndgrad"),
            "--data", "iris"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"ndgrad evaluate: error: {tmp_path / 'none.ndgrad'}: no such file"]


def test_devices(capsys):
    assert cli.main(["devices"]) == 0
    assert "cpu" in capsys.readouterr().out.split()


@pytest.mark.parametrize("argv", [[], ["train"], ["train", "cifar10"],
                                  ["train", "mnist", "--model", "resnet"],
                                  ["train", "iris", "--epochs", "-1"],
                                  ["train", "iris", "--batch-size", "0"],
                                  ["train", "iris", "--learning-rate", "-0.1"],
                                  ["evaluate", "m.ndgrad"], ["predict", "m.ndgrad"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "usage: ndgrad" in capsys.readouterr().err


def test_each_command_has_its_own_handler():
    parser = cli.build_parser()
    for name, handler in [("train", cli.train), ("evaluate", cli.evaluate),
                          ("predict", cli.predict), ("devices", cli.devices)]:
        argv = {"train": ["train", "iris"], "evaluate": ["evaluate", "m", "--data", "iris"],
                "predict": ["predict", "m", "f.npy"], "devices": ["devices"]}[name]
        assert parser.parse_args(argv).func is handler


# -- argument values: the error names the value ------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["predict", "m.ndgrad", "x.npy", "--batch-size", "0"], "must be a positive integer, got 0"),
    (["evaluate", "m.ndgrad", "--data", "iris", "--batch-size", "-3"],
     "must be a positive integer, got -3"),
    (["predict", "m.ndgrad", "x.npy", "--batch-size", "two"], "invalid .* value: 'two'"),
    (["train", "iris", "--epochs", "-1"], "must be an integer >= 0, got -1"),
    (["train", "iris", "--epochs", "1.5"], "invalid .* value: '1.5'"),
    (["train", "iris", "--learning-rate", "0"], "must be a positive number, got 0"),
    (["train", "iris", "--learning-rate", "-0.1"], "must be a positive number, got -0.1"),
    (["train", "iris", "--learning-rate", "inf"], "must be a positive number, got inf"),
    (["train", "iris", "--learning-rate", "nan"], "must be a positive number, got nan"),
    (["train", "iris", "--learning-rate", "fast"], "invalid .* value: 'fast'"),
])
def test_bad_numbers_are_named_in_the_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    option = argv[-2]
    assert re.search(f"error: argument {option}: {message}", err), err


def test_the_smallest_values_are_accepted(offline):
    """--batch-size 1, --epochs 0 and a tiny --learning-rate are valid."""
    path = offline / "dosage.ndgrad"
    status, _, err = _run(["train", "dosage", "--epochs", "0", "--batch-size", "1",
                           "--learning-rate", "1e-9", "--verbose", "0", "--save", path])
    assert status == 0, err
    model = ndgrad.load_model(str(path))
    assert model.optimizer.iterations == 0 and model.optimizer.learning_rate == 1e-9
    np.save(offline / "x.npy", np.array([[0.5]]))
    status, out, err = _run(["predict", path, offline / "x.npy", "--batch-size", "1"])
    assert status == 0 and len(out.splitlines()) == 2, err


# -- the networks `ndgrad train` builds ----------------------------------------------------------

def _layers(model) -> list[tuple]:
    """(class, the settings that define the network) of each layer."""
    keys = ("units", "activation", "filters", "kernel_size", "pool_size", "scale",
            "target_shape")
    return [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k in keys})
            for layer in model.layers]


def test_train_builds_the_course_networks(offline):
    expected = {
        "iris": ("iris", (None, 4), [("Normalization", {}),
                                     ("Dense", {"units": 16, "activation": "relu"}),
                                     ("Dense", {"units": 3, "activation": "softmax"})]),
        "dosage": ("dosage", (None, 1), [("Dense", {"units": 8, "activation": "tanh"}),
                                         ("Dense", {"units": 1, "activation": "sigmoid"})]),
        "mnist": ("mnist_mlp", (None, 28, 28), [("Rescaling", {"scale": 1 / 255}),
                                                ("Flatten", {}),
                                                ("Dense", {"units": 512, "activation": "relu"}),
                                                ("Dense", {"units": 10, "activation": "softmax"})]),
    }
    for dataset, (name, shape, layers) in expected.items():
        path = offline / f"{dataset}.ndgrad"
        status, _, err = _run(["train", dataset, "--epochs", "0", "--verbose", "0",
                               "--save", path])
        assert status == 0, err
        model = ndgrad.load_model(str(path))
        assert (model.name, model._build_shape, _layers(model)) == (name, shape, layers)


# -- evaluate ----------------------------------------------------------------------------------

def _classifier(path: Path, inputs=(4,), classes=3, seed=0) -> ndgrad.Sequential:
    """A small compiled classifier with fixed weights, saved to `path`."""
    layers = ndgrad.layers
    body = [layers.Flatten()] if len(inputs) > 1 else []
    model = ndgrad.Sequential([layers.Input(inputs), *body,
                               layers.Dense(classes, activation="softmax")], name="tiny")
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.save(str(path))
    return model


def _csv(path: Path, rows, header: str | None = None) -> Path:
    lines = [",".join(f"{v:g}" for v in row) for row in rows]
    path.write_text("".join(f"{line}\n" for line in ([header] if header else []) + lines))
    return path


def test_evaluate_prints_the_data_and_the_metrics_only(tmp_path):
    model = _classifier(tmp_path / "m.ndgrad")
    x = np.random.default_rng(1).normal(size=(30, 4)).astype("float32")
    y = np.arange(30) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    status, out, err = _run(["evaluate", tmp_path / "m.ndgrad", "--data", tmp_path / "d.npz"])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert status == 0 and err == ""  # no progress bar
    assert out.splitlines() == [f"data: {tmp_path / 'd.npz'}: arrays x, y (30 samples)",
                                f"loss: {loss:.4f} - accuracy: {accuracy:.4f}"]


def _batches(monkeypatch) -> list[int]:
    """The sizes of the batches the models of this test are called on, in order."""
    sizes: list[int] = []
    call = ndgrad.Sequential.call

    def spy(self, inputs, training=None):
        sizes.append(len(inputs))
        return call(self, inputs, training=training)

    monkeypatch.setattr(ndgrad.Sequential, "call", spy)
    return sizes


def test_batch_size_sets_the_batches_of_evaluate_and_predict(tmp_path, monkeypatch):
    _classifier(tmp_path / "m.ndgrad")
    x = np.random.default_rng(1).normal(size=(600, 4)).astype("float32")
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(600) % 3)
    np.save(tmp_path / "x.npy", x[:30])
    sizes = _batches(monkeypatch)
    for argv, batches in [
        (["evaluate", tmp_path / "m.ndgrad", "--data", tmp_path / "d.npz"], [512, 88]),
        (["evaluate", tmp_path / "m.ndgrad", "--data", tmp_path / "d.npz", "--batch-size", 250],
         [250, 250, 100]),
        (["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy", "--batch-size", 7],
         [7, 7, 7, 7, 2]),
        (["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy"], [30]),
    ]:
        sizes.clear()
        status, _, err = _run(argv)
        assert status == 0, err
        assert sizes[-len(batches):] == batches and max(sizes) == batches[0], (argv, sizes)


def test_evaluate_npz_takes_x_test_and_y_test_else_x_and_y(tmp_path):
    model = _classifier(tmp_path / "m.ndgrad")
    rng = np.random.default_rng(2)
    x, x_test = rng.normal(size=(10, 4)), rng.normal(size=(6, 4))
    y, y_test = np.arange(10) % 3, np.arange(6) % 3
    loss = model.evaluate(x.astype("float32"), y, verbose=0)[0]
    test_loss = model.evaluate(x_test.astype("float32"), y_test, verbose=0)[0]
    for arrays, what, n, want in [
        ({"x": x, "y": y, "x_test": x_test, "y_test": y_test}, "x_test, y_test", 6, test_loss),
        ({"x": x, "y": y, "x_test": x_test}, "x, y", 10, loss),  # no y_test: x and y
        ({"x": x, "y": y, "y_test": y_test}, "x, y", 10, loss),
    ]:
        np.savez(tmp_path / "d.npz", **arrays)
        status, out, err = _run(["evaluate", tmp_path / "m.ndgrad", "--data", tmp_path / "d.npz"])
        assert status == 0, err
        assert f"arrays {what} ({n} samples)" in out
        assert _metrics(out)["loss"] == pytest.approx(want, abs=1e-4)


def test_evaluate_csv_with_one_feature(tmp_path):
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((1,)), layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    model.set_weights([np.array([[4.0]], "float32"), np.array([-2.0], "float32")])
    model.save(str(tmp_path / "m.ndgrad"))
    rows = [[0.1, 0], [0.9, 1], [0.2, 1]]
    csv = _csv(tmp_path / "d.csv", rows, header="dosage,works")
    status, out, err = _run(["evaluate", tmp_path / "m.ndgrad", "--data", csv])
    assert status == 0, err
    assert out.splitlines()[0] == f"data: {csv}: 1 feature and a label per row (3 samples)"
    loss, accuracy = model.evaluate(np.array([[0.1], [0.9], [0.2]], "float32"),
                                    np.array([0.0, 1.0, 1.0], "float32"), verbose=0)
    assert _metrics(out) == pytest.approx({"loss": loss, "accuracy": accuracy}, abs=1e-4)

    _csv(tmp_path / "two.csv", [[0.1, 0.2, 1], [0.3, 0.4, 0]])
    _classifier(tmp_path / "m2.ndgrad", inputs=(2,))
    status, out, err = _run(["evaluate", tmp_path / "m2.ndgrad", "--data", tmp_path / "two.csv"])
    assert status == 0 and "2 features and a label per row (2 samples)" in out, err


def test_evaluate_regression_labels_from_csv(tmp_path):
    """Labels that are not whole numbers stay as they are (a regression target)."""
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.set_weights([np.array([[1.0], [2.0]], "float32"), np.array([0.5], "float32")])
    model.save(str(tmp_path / "m.ndgrad"))
    csv = _csv(tmp_path / "d.csv", [[1, 2, 6.25], [0.5, -1, -0.75], [3, 0, 2]])
    status, out, err = _run(["evaluate", tmp_path / "m.ndgrad", "--data", csv])
    # predictions 5.5, -1, 3.5: squared errors 0.5625, 0.0625, 2.25
    assert status == 0 and _metrics(out) == pytest.approx({"loss": 0.9583}, abs=1e-4), err


def test_evaluate_reshapes_rows_to_the_model_input(tmp_path):
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((2, 2)), layers.Dense(2), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(str(tmp_path / "m.ndgrad"))
    x = np.random.default_rng(3).normal(size=(8, 4)).astype("float32")
    y = np.arange(8) % 3
    csv = _csv(tmp_path / "d.csv", np.column_stack([x, y]))
    status, out, err = _run(["evaluate", tmp_path / "m.ndgrad", "--data", csv])
    assert status == 0, err
    x = np.loadtxt(csv, delimiter=",", dtype="float32")[:, :4]
    loss, accuracy = model.evaluate(x.reshape(8, 2, 2), y, verbose=0)
    assert _metrics(out) == pytest.approx({"loss": loss, "accuracy": accuracy}, abs=1e-4)


def _idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_evaluate_a_folder_of_idx_files(offline):
    folder = offline / "idx"
    folder.mkdir()
    rng = np.random.default_rng(4)
    x_test, y_test = rng.integers(0, 256, (3, 28, 28)), np.array([7, 2, 1])
    for name, array in [("train-images-idx3-ubyte", x_test[:2]),
                        ("train-labels-idx1-ubyte", y_test[:2]),
                        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)]:
        _idx(folder / name, array)
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((28, 28)), layers.Rescaling(1 / 255),
                               layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(str(offline / "m.ndgrad"))
    status, out, err = _run(["evaluate", offline / "m.ndgrad", "--data", folder])
    assert status == 0, err
    assert out.splitlines()[0] == f"data: {folder}: the MNIST test split (3 samples)"
    loss, accuracy = model.evaluate(x_test.astype("uint8"), y_test, verbose=0)
    assert _metrics(out) == pytest.approx({"loss": loss, "accuracy": accuracy}, abs=1e-4)


# -- predict -----------------------------------------------------------------------------------

def _binary(path: Path, outputs: int = 1) -> ndgrad.Sequential:
    """sigmoid(4 x - 2) per output: 0.1192 at 0, 0.5 at 0.5, 0.8808 at 1."""
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((1,)), layers.Dense(outputs, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.set_weights([np.full((1, outputs), 4.0, "float32"), np.full(outputs, -2.0, "float32")])
    model.save(str(path))
    return model


def test_predict_one_sigmoid_output_is_class_1_above_one_half(tmp_path):
    _binary(tmp_path / "m.ndgrad")
    np.save(tmp_path / "x.npy", np.array([0.0, 0.5, 1.0]))  # a 1-d array: one value a sample
    status, out, err = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy"])
    assert status == 0, err
    assert out.splitlines() == ["sample\tclass\tprobability", "0\t0\t0.1192", "1\t0\t0.5000",
                                "2\t1\t0.8808"]


def test_predict_prints_the_outputs_of_multi_output_sigmoids_and_regressions(tmp_path):
    _binary(tmp_path / "two.ndgrad", outputs=2)
    np.save(tmp_path / "x.npy", np.array([[0.0], [1.0]]))
    status, out, err = _run(["predict", tmp_path / "two.ndgrad", tmp_path / "x.npy"])
    assert status == 0, err
    assert out.splitlines() == ["sample\toutput", "0\t0.119203\t0.119203",
                                "1\t0.880797\t0.880797"]

    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.set_weights([np.array([[2.0]], "float32"), np.array([0.25], "float32")])
    model.save(str(tmp_path / "reg.ndgrad"))
    status, out, err = _run(["predict", tmp_path / "reg.ndgrad", tmp_path / "x.npy"])
    assert status == 0 and out.splitlines() == ["sample\toutput", "0\t0.25", "1\t2.25"], err


def _identity(path: Path) -> None:
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((2,)), layers.Dense(2)])
    model.compile("sgd", "mse")
    model.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    model.save(str(path))


def test_predict_output_files_hold_the_raw_outputs(tmp_path):
    _identity(tmp_path / "m.ndgrad")
    x = np.array([[0.5, -2.0], [1e-10, 123456789.0], [3.0, 0.0]])
    np.save(tmp_path / "x.npy", x)  # float64: the model computes in float32
    status, out, err = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy",
                             "--output", tmp_path / "p.csv"])
    assert status == 0
    assert out.splitlines() == ["sample\toutput", "0\t0.5\t-2", "1\t1e-10\t1.23457e+08",
                                "2\t3\t0"]
    assert err == f"wrote 3 predictions to {tmp_path / 'p.csv'}\n"
    # 8 significant digits, without trailing zeros
    assert (tmp_path / "p.csv").read_text() == "0.5,-2\n1e-10,1.2345679e+08\n3,0\n"

    status, _, err = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy",
                           "--output", tmp_path / "p.npy"])
    assert status == 0 and err == f"wrote 3 predictions to {tmp_path / 'p.npy'}\n"
    saved = np.load(tmp_path / "p.npy")
    assert saved.dtype == np.float32 and saved.shape == (3, 2)
    np.testing.assert_array_equal(saved, x.astype("float32"))


def test_predict_takes_x_test_from_npz(tmp_path):
    _identity(tmp_path / "m.ndgrad")
    np.savez(tmp_path / "x.npz", x_test=np.array([[1.0, 2.0]]), y_test=np.array([0]))
    status, out, err = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "x.npz"])
    assert status == 0 and out.splitlines() == ["sample\toutput", "0\t1\t2"], err
    np.savez(tmp_path / "both.npz", x=np.array([[5.0, 6.0]]), x_test=np.array([[1.0, 2.0]]))
    status, out, err = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "both.npz"])
    assert status == 0 and out.splitlines()[1:] == ["0\t5\t6"], err


def test_predict_variable_length_samples(tmp_path):
    """An input shape with an unknown axis takes the samples as they are."""
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((None, 2)), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.set_weights([np.array([[1.0], [10.0]], "float32"), np.zeros(1, "float32")])
    model.save(str(tmp_path / "m.ndgrad"))
    np.save(tmp_path / "x.npy", np.arange(12.0).reshape(2, 3, 2))
    status, out, err = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy"])
    assert status == 0, err
    assert out.splitlines() == ["sample\toutput", "0\t10\t32\t54", "1\t76\t98\t120"]


def test_the_model_name_and_shapes_in_a_wrong_size_error(offline):
    path = offline / "iris.ndgrad"
    assert _run(["train", "iris", "--epochs", "0", "--verbose", "0", "--save", path])[0] == 0
    cases = [
        ("wide.csv", "1,2,3,4,0\n5,6,7,8,1\n",
         "samples of shape (5,) (array (2, 5)) do not fit model 'iris', which takes samples of "
         "shape (4,) (a label column? predict takes the features only)"),
        ("narrow.csv", "1,2,3\n",
         "samples of shape (3,) (array (1, 3)) do not fit model 'iris', which takes samples of "
         "shape (4,)"),
    ]
    for name, text, message in cases:
        (offline / name).write_text(text)
        status, _, err = _run(["predict", path, offline / name])
        assert (status, err) == (2, f"ndgrad predict: error: {offline / name}: {message}\n")
    np.save(offline / "deep.npy", np.ones((2, 3, 4)))  # rows of 3x4, not 4
    status, _, err = _run(["predict", path, offline / "deep.npy"])
    assert status == 2 and err.endswith("samples of shape (3, 4) (array (2, 3, 4)) do not fit "
                                        "model 'iris', which takes samples of shape (4,)\n")
    status, _, err = _run(["evaluate", path, "--data", offline / "narrow.csv"])
    assert status == 2 and err.startswith(f"ndgrad evaluate: error: {offline / 'narrow.csv'}: "
                                          "samples of shape (2,) (array (1, 2))")
    path = offline / "dosage.ndgrad"
    assert _run(["train", "dosage", "--epochs", "0", "--verbose", "0", "--save", path])[0] == 0
    status, _, err = _run(["predict", path, offline / "narrow.csv"])
    assert status == 2 and "do not fit model 'dosage'" in err


# -- more user errors --------------------------------------------------------------------------

FILE_ERRORS = {
    "missing npy": (["predict", "{model}", "{tmp}/none.npy"], "{tmp}/none.npy: no such file"),
    "missing npz": (["predict", "{model}", "{tmp}/none.npz"], "{tmp}/none.npz: no such file"),
    "missing csv": (["predict", "{model}", "{tmp}/none.csv"], "{tmp}/none.csv: no such file"),
    "missing data npz": (["evaluate", "{model}", "--data", "{tmp}/none.npz"],
                         "{tmp}/none.npz: no such file"),
    "pickled npy": (["predict", "{model}", "{tmp}/objects.npy"],
                    "{tmp}/objects.npy: not a .npy array of numbers (Object arrays cannot be "
                    "loaded when allow_pickle=False)"),
    "pickled npz": (["predict", "{model}", "{tmp}/objects.npz"],
                    "{tmp}/objects.npz: not a readable .npz archive of numeric arrays (Object "
                    "arrays cannot be loaded when allow_pickle=False)"),
    "broken npz": (["evaluate", "{model}", "--data", "{tmp}/broken.npz"],
                   "{tmp}/broken.npz: not a readable .npz archive of numeric arrays ("),
    "strings": (["predict", "{model}", "{tmp}/words.npy"],
                "{tmp}/words.npy: expected numbers, got an array of dtype <U5"),
    "header only": (["predict", "{model}", "{tmp}/header.csv"],
                    "{tmp}/header.csv: no rows of numbers"),
    "empty csv": (["evaluate", "{model}", "--data", "{tmp}/empty.csv"],
                  "{tmp}/empty.csv: no rows of numbers"),
    "long bad row": (["predict", "{model}", "{tmp}/long.csv"],  # its first 60 characters
                     "{tmp}/long.csv: line 2 is not comma-separated numbers: "
                     "'1,2,3,x" + ",1" * 26 + ",'\n"),
    "one column": (["evaluate", "{model}", "--data", "{tmp}/one.csv"],
                   "{tmp}/one.csv: expected features and then a label in each row; found 1 "
                   "column"),
    "npz without labels": (["evaluate", "{model}", "--data", "{tmp}/x.npz"],
                           "{tmp}/x.npz: expected arrays x_test and y_test, or x and y; the file "
                           "holds ['x', 'x_train']"),
    "label out of range": (["evaluate", "{model}", "--data", "{tmp}/labels.csv"],
                           "labels must be in [0, 3) for 3 classes. Received out-of-range "
                           "labels [3]\n"),
    "unknown data set": (["evaluate", "{model}", "--data", "cifar10"],
                         "--data cifar10: no such file or folder, and not one of mnist, iris, "
                         "dosage"),
    "uncompiled": (["evaluate", "{tmp}/uncompiled.ndgrad", "--data", "iris"],
                   "{tmp}/uncompiled.ndgrad: the model was saved uncompiled, so it has no loss "
                   "to evaluate; compile it before model.save"),
    "evaluate device": (["evaluate", "{model}", "--data", "iris", "--device", "tpu9"], "tpu9"),
    "predict device": (["predict", "{model}", "{tmp}/x.npz", "--device", "tpu9"], "tpu9"),
}


@pytest.mark.parametrize("case", FILE_ERRORS, ids=FILE_ERRORS)
def test_file_errors_say_what_is_wrong(case, offline):
    tmp = offline
    model = tmp / "m.ndgrad"
    _classifier(model)
    net = ndgrad.Sequential([ndgrad.layers.Input((4,)), ndgrad.layers.Dense(3)])
    net.save(str(tmp / "uncompiled.ndgrad"))
    np.save(tmp / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(tmp / "objects.npz", x=np.array([{"a": 1}, None], dtype=object))
    (tmp / "broken.npz").write_bytes(b"not a zip")
    np.save(tmp / "words.npy", np.array(["one", "three"]))
    (tmp / "header.csv").write_text("a,b,c,d\n\n")
    (tmp / "empty.csv").write_text("")
    (tmp / "long.csv").write_text("1,2,3,4\n1,2,3,x" + ",1" * 40 + "\n")
    (tmp / "one.csv").write_text("1\n2\n")
    np.savez(tmp / "x.npz", x=np.ones((2, 4)), x_train=np.ones((2, 4)))
    (tmp / "labels.csv").write_text("1,2,3,4,3\n1,2,3,4,0\n")
    argv, message = FILE_ERRORS[case]
    argv = [a.format(tmp=tmp, model=model) for a in argv]
    status, out, err = _run(argv)
    assert status == 2 and "sample\t" not in out
    assert err.startswith(f"ndgrad {argv[0]}: error: ") and err.count("\n") == 1, err
    assert message.format(tmp=tmp) in err, err


def test_a_csv_header_in_utf8_whatever_the_locale(tmp_path):
    """The CSV is read as UTF-8 even where the locale's encoding is ASCII."""
    _identity(tmp_path / "m.ndgrad")
    (tmp_path / "x.csv").write_text("länge,höhe\n1,2\n", encoding="utf-8")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
           "PYTHONCOERCECLOCALE": "0"}
    code = "import locale; print(locale.getpreferredencoding(False))"
    encoding = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=60).stdout.strip()
    assert encoding.lower() in ("ansi_x3.4-1968", "ascii", "us-ascii")  # the premise
    run = "import sys; from ndgrad import cli; sys.exit(cli.main(sys.argv[1:]))"
    argv = [sys.executable, "-c", run, "predict", str(tmp_path / "m.ndgrad"),
            str(tmp_path / "x.csv")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sample\toutput", "0\t1\t2"]


def test_an_error_without_a_message_shows_its_type(offline, monkeypatch):
    def empty(*args, **kwargs):
        raise ValueError()

    monkeypatch.setattr(cli.inference, "_load", empty)
    status, _, err = _run(["predict", "m.ndgrad", "x.npy"])
    assert (status, err) == (2, "ndgrad predict: error: ValueError\n")


def test_debug_after_the_command_shows_the_traceback(tmp_path):
    _identity(tmp_path / "m.ndgrad")
    with pytest.raises(FileNotFoundError, match="none.npy: no such file"):
        cli.main(["predict", str(tmp_path / "m.ndgrad"), str(tmp_path / "none.npy"), "--debug"])
    with pytest.raises(ValueError, match="expected arrays x_test and y_test"):
        cli.main(["--debug", "evaluate", str(tmp_path / "m.ndgrad"), "--data",
                  str(tmp_path / "m.ndgrad").replace(".ndgrad", ".npz")]
                 if (np.savez(tmp_path / "m.npz", w=np.ones(2)) or True) else [])


def test_predict_says_logit_for_a_model_trained_on_logits(tmp_path):
    layers = ndgrad.layers
    model = ndgrad.Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile("sgd", ndgrad.losses.BinaryCrossentropy(from_logits=True))
    model.set_weights([np.array([[1.0]], "float32"), np.array([0.0], "float32")])
    model.save(str(tmp_path / "m.ndgrad"))
    np.save(tmp_path / "x.npy", np.array([-0.5, 0.25, 0.75]))  # logits: class 1 above 0
    status, out, _ = _run(["predict", tmp_path / "m.ndgrad", tmp_path / "x.npy"])
    assert status == 0
    assert out.splitlines() == ["sample\tclass\tlogit", "0\t0\t-0.5000", "1\t1\t0.2500",
                                "2\t1\t0.7500"]


# -- version, outputs that would overwrite inputs, save targets, files --------------------------

def test_version_from_the_one_source(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"ndgrad {ndgrad.__version__}\n"
    done = subprocess.run([sys.executable, "-m", "ndgrad", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, f"ndgrad {ndgrad.__version__}\n")
    from importlib.metadata import PackageNotFoundError, version

    # the installed metadata, where ndgrad is installed (the wheel test checks it too)
    with contextlib.suppress(PackageNotFoundError):
        assert version("ndgrad") == ndgrad.__version__


def test_predict_never_overwrites_its_inputs(iris_model, tmp_path):
    samples = tmp_path / "flowers.csv"
    samples.write_text("5.1,3.5,1.4,0.2\n")
    model = tmp_path / "model.npy"  # a model file may have any name
    model.write_bytes(iris_model.read_bytes())
    link = tmp_path / "link.csv"
    link.symlink_to(samples)
    before = samples.read_bytes(), model.read_bytes()
    for target, what in ((samples, "FILE"), (model, "the model"), (link, "FILE")):
        status, out, err = _run(["predict", model, samples, "--output", target])
        assert status == 2 and out == ""
        assert err == (f"ndgrad predict: error: --output {target}: is {what}, which would be "
                       "overwritten; write to another file\n")
    assert (samples.read_bytes(), model.read_bytes()) == before


def test_train_checks_the_save_target_before_training(offline):
    tmp = offline
    (tmp / "folder.ndgrad").mkdir()
    (tmp / "a file").write_text("x")
    for target, reason in ((tmp / "folder.ndgrad", "is a folder; give a file name"),
                           (tmp / "a file" / "m.ndgrad", f"{tmp / 'a file'} is a file, not a "
                                                         "folder")):
        status, out, err = _run(["train", "iris", "--save", target])
        assert status == 2 and out == "", out  # nothing trained
        assert err == f"ndgrad train: error: --save {target}: {reason}\n"
    if os.geteuid() != 0:  # root writes in read-only folders
        locked = tmp / "locked"
        locked.mkdir(mode=0o500)
        status, out, err = _run(["train", "iris", "--save", locked / "m.ndgrad"])
        assert status == 2 and out == "" and "cannot write in" in err


def test_file_errors_name_the_file_and_the_cause(iris_model, tmp_path):
    folder = tmp_path / "samples.csv"
    folder.mkdir()
    status, _, err = _run(["predict", iris_model, folder])
    assert (status, err) == (2, f"ndgrad predict: error: {folder}: is a folder, expected a "
                                ".csv file\n")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    status, _, err = _run(["predict", iris_model, binary])
    assert status == 2 and err.startswith(f"ndgrad predict: error: {binary}: not a text CSV")
    status, _, err = _run(["evaluate", folder.parent / "none.ndgrad", "--data", "iris"])
    assert status == 2 and "none.ndgrad: no such file" in err


def test_csv_fields_may_be_quoted(iris_model, tmp_path):
    samples = tmp_path / "quoted.csv"
    samples.write_text('"sepal length","sepal width","petal, length","petal width"\n'
                       '"5.1","3.5","1.4","0.2"\n6.7,3.0,5.2,2.3\n')
    status, out, _ = _run(["predict", iris_model, samples])
    assert status == 0
    assert [line.split("\t")[1] for line in out.splitlines()[1:]] == ["0", "2"]


def test_a_missing_optional_dependency_is_one_line_naming_the_extra(offline, monkeypatch):
    def needs_matplotlib(*args, **kwargs):
        import matplotlib.pyplot  # noqa: F401

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setattr(cli.training, "_network", needs_matplotlib)
    status, _, err = _run(["train", "iris", "--verbose", "0"])
    assert (status, err) == (2, "ndgrad train: error: this command needs matplotlib, which is "
                                "not installed: pip install 'ndgrad[viz]'\n")

    def raises_missing_extra(*args, **kwargs):
        from ndgrad._extras import require

        require("ray", "--ray")

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(cli.training, "_network", raises_missing_extra)
    status, _, err = _run(["train", "iris", "--verbose", "0"])
    assert (status, err) == (2, "ndgrad train: error: --ray needs ray, which is not installed: "
                                "pip install 'ndgrad[distributed]'\n")
