"""The `ndgrad` command, run in-process and offline (MNIST falls back to the bundled subset:
4000 training / 1000 test images).

The accuracy runs are marked `slow` as a label only: they run in `make test`.
"""

from __future__ import annotations

import contextlib
import io
import math
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
                      "none.ndgrad: No such file"),
    "not a model": (["evaluate", "{tmp}/text.ndgrad", "--data", "iris"],
                    "text.ndgrad.*written by model.save"),
    "uncompiled": (["evaluate", "{tmp}/uncompiled.ndgrad", "--data", "iris"],
                   "saved uncompiled.*no loss"),
    "unknown data": (["evaluate", "{model}", "--data", "{tmp}/text.ndgrad"], "unknown format"),
    "no such data": (["evaluate", "{model}", "--data", "cifar"], "cifar: no such file"),
    "npz without x": (["predict", "{model}", "{tmp}/w.npz"], r"expected an array x.*\['w'\]"),
    "wrong width": (["predict", "{model}", "{tmp}/wide.csv"],
                    r"shape \(5,\).*shape \(4,\).*label column"),
    "ragged csv": (["predict", "{model}", "{tmp}/ragged.csv"], "row 2 has 3 values"),
    "text csv": (["predict", "{model}", "{tmp}/words.csv"], "row 2 is not comma-separated"),
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

    monkeypatch.setattr(cli, "_network", broken)
    with pytest.raises(AttributeError, match="a bug"):
        cli.main(["train", "iris", "--verbose", "0"])


def test_the_installed_command_exits_2_with_one_line(tmp_path):
    argv = [sys.executable, "-m", "ndgrad.cli", "evaluate", str(tmp_path / "none.ndgrad"),
            "--data", "iris"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"ndgrad evaluate: error: {tmp_path / 'none.ndgrad'}: No such file or directory"]


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
