"""Saving: weights as .safetensors / .npz, whole models as .ndgrad zips, atomic writes."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import struct
import sys
import zipfile

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, saving
from ndgrad.models import book


def _model(seed: int, filters: int = 2) -> Sequential:
    ndgrad.manual_seed(seed)
    return Sequential(
        [
            layers.Input((6, 6, 1)),
            layers.Conv2D(filters, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.1),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _trained(backend: str = "cpu") -> Sequential:
    model = _model(0).to(backend)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 6, 6, 1)).astype("float32")
    model.fit(x, rng.integers(0, 3, 20), epochs=1, batch_size=10, verbose=0)
    return model


def _listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_weights_round_trip(tmp_path, backend, suffix):
    source = _trained(backend)  # moving statistics are non-trainable weights: saved too
    path = tmp_path / f"w{suffix}"
    source.save_weights(path)  # a str or a Path
    assert _listing(tmp_path) == [path.name]
    target = _model(1).to(backend)
    assert not _same(source.get_weights(), target.get_weights())
    target.load_weights(path)
    assert _same(source.get_weights(), target.get_weights())
    assert all(w.device == backend for w in target.weights)
    x = ndgrad.randn(4, 6, 6, 1, device=backend)
    np.testing.assert_array_equal(source.predict(x).numpy(), target.predict(x).numpy())


def test_weights_files_are_readable_without_ndgrad_or_pickle(tmp_path):
    model = _trained()
    model.save_weights(str(tmp_path / "w.npz"))
    model.save_weights(str(tmp_path / "w.safetensors"))
    with np.load(tmp_path / "w.npz", allow_pickle=False) as npz:
        names = sorted(npz.files)
    from safetensors.numpy import load_file

    assert names == sorted(load_file(str(tmp_path / "w.safetensors")))
    assert names == sorted(name for name, _, _ in model.named_weights())
    assert "layers.1.moving_mean" in names


def test_load_weights_checks_names_and_shapes_first(tmp_path):
    path = str(tmp_path / "w.safetensors")
    _model(0).save_weights(path)
    other = Sequential([layers.Input((6, 6, 1)), layers.Flatten(), layers.Dense(3)])
    before = other.get_weights()
    with pytest.raises(ValueError, match="missing.*unexpected") as info:
        other.load_weights(path)
    # the two differ; the file itself is fine: not a ModelFileError, and it is named
    assert not isinstance(info.value, ndgrad.errors.ModelFileError)
    assert str(info.value).startswith(f"{path}: the weights of model '{other.name}'")
    assert _same(before, other.get_weights())
    wider = _model(0, filters=4)
    before = wider.get_weights()
    with pytest.raises(
        ndgrad.ShapeError, match=r"layers.0.kernel.*\(3, 3, 1, 4\).*\(3, 3, 1, 2\)"
    ) as info:
        wider.load_weights(path)
    assert str(info.value).startswith(f"{path}: ")
    assert _same(before, wider.get_weights())


def test_weights_path_must_name_a_format(tmp_path):
    with pytest.raises(ValueError, match=r"\.safetensors or \.npz"):
        _model(0).save_weights(str(tmp_path / "w.h5"))
    assert _listing(tmp_path) == []


def test_unbuilt_models_cannot_be_saved(tmp_path):
    model = Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="build"):
        model.save_weights(str(tmp_path / "w.npz"))
    with pytest.raises(ValueError, match="build"):
        model.load_weights(str(tmp_path / "w.npz"))


def test_model_round_trip_gives_identical_predictions(tmp_path, backend):
    model = _trained(backend)
    path = str(tmp_path / "model.ndgrad")
    model.save(path)
    loaded = ndgrad.load_model(path)
    assert type(loaded) is Sequential and loaded.name == model.name
    assert loaded.get_config() == model.get_config()
    assert _same(model.get_weights(), loaded.get_weights())
    x = np.random.default_rng(1).standard_normal((5, 6, 6, 1)).astype("float32")
    np.testing.assert_array_equal(model.predict(x).numpy(), loaded.predict(x).numpy())
    # compiled again: the same optimizer settings, loss, metrics and optimizer state ...
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert type(loaded.loss) is type(model.loss)
    assert [m.name for m in loaded.compiled_metrics] == ["accuracy"]
    assert loaded.optimizer.iterations == model.optimizer.iterations == 2
    # ... so training continues exactly as the original's would (dropout seeded alike)
    loaded.to(backend)  # the state moves with the weights
    y = np.array([0, 1, 2, 0, 1])
    for m in (model, loaded):
        ndgrad.manual_seed(7)
        m.fit(x, y, epochs=1, batch_size=5, shuffle=False, verbose=0)
    assert loaded.optimizer.iterations == 3
    assert _same(model.get_weights(), loaded.get_weights())
    assert not _same(model.get_weights(), _trained(backend).get_weights())  # it did train


def test_saved_model_is_a_zip_with_json_config(tmp_path):
    path = tmp_path / "mlp.ndgrad"
    book.mnist_mlp().save(str(path))
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        config = json.loads(z.read("config.json"))
    assert names == {"config.json", config["weights"]}  # no optimizer: no optimizer state
    assert config["class_name"] == "Sequential" and "compile" not in config
    assert [c["class_name"] for c in config["config"]["layers"]] == ["Dense", "Dense"]
    loaded = ndgrad.load_model(str(path))
    assert loaded.optimizer is None and loaded.count_params() == 407_050


@saving.register
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", name="w")

    def call(self, inputs):
        return inputs * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_registered_custom_layers_round_trip(tmp_path):
    model = Sequential([layers.Input((3,)), Scale(3.0), layers.Dense(2)])
    model.layers[0].w.data = ndgrad.tensor([1.0, 2.0, 3.0]).data
    path = str(tmp_path / "custom.ndgrad")
    model.save(path)
    loaded = ndgrad.load_model(path)
    assert isinstance(loaded.layers[0], Scale) and loaded.layers[0].factor == 3.0
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x).numpy(), model.predict(x).numpy())


def test_unregistered_custom_layers_fail_with_advice(tmp_path, monkeypatch):
    class Unknown(layers.Layer):
        def call(self, inputs):
            return inputs

    path = str(tmp_path / "m.ndgrad")
    Sequential([layers.Input((3,)), Unknown(), layers.Dense(2)]).save(path)
    with pytest.raises(ValueError, match="register") as info:
        ndgrad.load_model(path)
    # the advice lists the classes it does know, readably
    assert "Known: " in str(info.value) and "Conv2D, Dense, Dropout" in str(info.value)


def test_a_class_registered_after_a_load_is_found(tmp_path):
    """The classes load_model knows are one registry, made once: Sequential is in it, and a
    class registered after models were loaded is found too."""
    assert saving.layer_from_config(saving.layer_config(Sequential())).__class__ is Sequential

    class Later(Scale):
        pass

    path = str(tmp_path / "later.ndgrad")
    Sequential([layers.Input((3,)), Later(), layers.Dense(2)]).save(path)
    with pytest.raises(ValueError, match="unknown layer class 'Later'"):
        ndgrad.load_model(path)
    try:
        saving.register(Later)
        assert isinstance(ndgrad.load_model(path).layers[0], Later)
    finally:
        saving._REGISTRY.pop("Later", None)


# -- atomic writes ---------------------------------------------------------------------------


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_crash_mid_save_weights_keeps_the_old_file(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"w{suffix}"
    old = _model(0)
    old.save_weights(str(path))
    original = path.read_bytes()

    def crash(fd):  # the data is written, the rename has not happened yet
        raise Crash("power cut")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(Crash):
        _model(1).save_weights(str(path))
    assert path.read_bytes() == original
    assert _listing(tmp_path) == [path.name]  # no temporary file left behind
    monkeypatch.undo()
    fresh = _model(2)
    fresh.load_weights(str(path))
    assert _same(fresh.get_weights(), old.get_weights())


def test_crash_mid_model_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.ndgrad"
    model = _trained()
    model.save(str(path))
    original = path.read_bytes()
    real = zipfile.ZipFile.writestr
    calls = []

    def writestr(self, name, data, *args, **kwargs):  # the config gets written, then boom
        calls.append(name)
        if len(calls) == 2:
            raise Crash("disk full")
        return real(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    with pytest.raises(Crash):
        _model(5).save(str(path))
    monkeypatch.undo()
    assert calls == ["config.json", "model.safetensors"]  # then optimizer.safetensors
    assert path.read_bytes() == original
    assert _listing(tmp_path) == [path.name]
    loaded = ndgrad.load_model(str(path))
    assert _same(loaded.get_weights(), model.get_weights())


def test_save_into_a_new_folder(tmp_path):
    path = tmp_path / "a" / "b" / "w.npz"
    _model(0).save_weights(str(path))
    assert path.is_file()


def test_the_loss_configuration_survives_save_and_load(tmp_path) -> None:
    model = ndgrad.Sequential([ndgrad.layers.Input((2,)), ndgrad.layers.Dense(3)])
    model.compile(
        "sgd", ndgrad.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.save(str(tmp_path / "m.ndgrad"))
    again = ndgrad.load_model(str(tmp_path / "m.ndgrad"))
    assert again.loss.get_config()["from_logits"] is True
    assert [m.name for m in again.compiled_metrics] == ["accuracy"]


def test_what_load_model_could_not_rebuild_is_refused_at_save_time(tmp_path) -> None:
    class Custom(ndgrad.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="not a registered class"):
        Custom().save(str(tmp_path / "c.ndgrad"))
    model = ndgrad.Sequential([ndgrad.layers.Input((2,)), ndgrad.layers.Dense(1)])
    model.compile("sgd", lambda y, p: ((y - p) ** 2).mean())
    with pytest.raises(ValueError, match="no name load_model knows"):
        model.save(str(tmp_path / "l.ndgrad"))
    assert not list(tmp_path.iterdir())  # nothing half-written


# -- optimizer state: fit 2 epochs == fit 1, save, load, fit 1 more ---------------------------


def _resume_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.standard_normal((21, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 21)


def _fit(model: Sequential, epochs: int, initial_epoch: int = 0) -> None:
    # fit shuffles (and Dropout draws) with the global generator: seed each epoch alike
    reseed = ndgrad.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: ndgrad.manual_seed(100 + epoch)
    )
    x, y = _resume_data()
    model.fit(
        x,
        y,
        epochs=epochs,
        initial_epoch=initial_epoch,
        batch_size=8,
        verbose=0,
        callbacks=[reseed],
    )


OPTIMIZERS = {
    "rmsprop": lambda: "rmsprop",
    "rmsprop-centered-momentum": lambda: ndgrad.optimizers.RMSprop(momentum=0.5, centered=True),
    "adam": lambda: "adam",
    "adam-amsgrad-schedule": lambda: ndgrad.optimizers.Adam(
        ndgrad.optimizers.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5), amsgrad=True
    ),
    "adamw": lambda: "adamw",
    "sgd-nesterov": lambda: ndgrad.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
}


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_fit_resumes_bit_exactly_after_save_and_load(tmp_path, make_optimizer):
    straight = _model(0)
    straight.compile(make_optimizer(), "sparse_categorical_crossentropy", ["accuracy"])
    _fit(straight, epochs=2)

    first = _model(0)
    first.compile(make_optimizer(), "sparse_categorical_crossentropy", ["accuracy"])
    _fit(first, epochs=1)
    first.save(str(tmp_path / "epoch1.ndgrad"))
    resumed = ndgrad.load_model(str(tmp_path / "epoch1.ndgrad"))
    assert resumed.optimizer.iterations == 3  # ceil(21 / 8) steps
    _fit(resumed, epochs=2, initial_epoch=1)

    assert resumed.optimizer.iterations == straight.optimizer.iterations == 6
    assert _same(resumed.get_weights(), straight.get_weights())
    state, expected = resumed.optimizer.get_state(), straight.optimizer.get_state()
    assert state["slots"].keys() == expected["slots"].keys()
    assert all(_same(state["slots"][k], expected["slots"][k]) for k in state["slots"])

    # without the saved state (a fresh optimizer) the second epoch differs: the test has teeth
    fresh = ndgrad.load_model(str(tmp_path / "epoch1.ndgrad"))
    fresh.compile(make_optimizer(), "sparse_categorical_crossentropy", ["accuracy"])
    _fit(fresh, epochs=2, initial_epoch=1)
    assert not _same(fresh.get_weights(), straight.get_weights())


def test_optimizer_state_is_stored_by_weight_name(tmp_path):
    model = _trained()
    path = tmp_path / "m.ndgrad"
    model.save(str(path))
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
        from safetensors.numpy import load

        state = load(z.read("optimizer.safetensors"))
    trainable = [p for p, _, t in model.named_weights() if t]
    assert config["optimizer_state"] == {"file": "optimizer.safetensors", "variables": trainable}
    assert int(state.pop("iterations")) == 2
    assert sorted(state) == sorted(f"velocity/{p}" for p in trainable)
    velocity = model.optimizer.get_state()["slots"]["velocity"]
    assert all(np.array_equal(state[f"velocity/{p}"], v) for p, v in zip(trainable, velocity))


# -- files that are not ndgrad models -----------------------------------------------------------


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _edit_config(members: dict[str, bytes], edit) -> dict[str, bytes]:
    config = json.loads(members["config.json"])
    edit(config)
    return {**members, "config.json": json.dumps(config).encode()}


def _edit_weights(members: dict[str, bytes], edit) -> dict[str, bytes]:
    from safetensors.numpy import load, save

    weights = load(members["model.safetensors"])
    edit(weights)
    return {**members, "model.safetensors": save(weights)}


def _layers_of(config):
    return config["config"]["layers"]


BROKEN = {
    "empty": (lambda good: b"", r"\(empty file\)"),
    "truncated": (lambda good: good[: len(good) // 2], "BadZipFile"),
    "text": (
        lambda good: b"hello, I am a CSV file\n1,2,3\n",
        r"\(BadZipFile: File is not a zip file\)",
    ),
    "weights only": (lambda good: _members_of(good)["model.safetensors"], "BadZipFile"),
    "foreign zip": (lambda good: _zip({"model.weights.h5": b"HDF"}), "without config.json"),
    "config not json": (
        lambda good: _zip({**_members_of(good), "config.json": b"{nope"}),
        "not valid JSON",
    ),
    "no weights entry": (
        lambda good: _zip(_edit_config(_members_of(good), lambda c: c.pop("weights"))),
        "does not name the weights",
    ),
    "weights member missing": (
        lambda good: _zip({"config.json": _members_of(good)["config.json"]}),
        "has no model.safetensors",
    ),
    "weights corrupt": (
        lambda good: _zip({**_members_of(good), "model.safetensors": b"\x00" * 9}),
        "cannot read the arrays",
    ),
    "weight missing": (
        lambda good: _zip(_edit_weights(_members_of(good), lambda w: w.pop("layers.5.bias"))),
        r"missing \['layers.5.bias'\]",
    ),
    "weight wrong shape": (
        lambda good: _zip(
            _edit_weights(
                _members_of(good), lambda w: w.update({"layers.5.bias": np.zeros(4, "float32")})
            )
        ),
        r"'layers.5.bias' has shape \(3,\) in the model, \(4,\) in the file",
    ),
    "weight not float": (
        lambda good: _zip(
            _edit_weights(
                _members_of(good), lambda w: w.update({"layers.5.bias": np.zeros(3, "int32")})
            )
        ),
        "dtype int32",
    ),
    "unknown layer": (
        lambda good: _zip(
            _edit_config(_members_of(good), lambda c: _layers_of(c)[0].update(class_name="Conv7D"))
        ),
        "architecture.*does not parse.*Conv7D",
    ),
    "bad layer argument": (
        lambda good: _zip(
            _edit_config(_members_of(good), lambda c: _layers_of(c)[0]["config"].update(filterz=2))
        ),
        "architecture.*does not parse.*filterz",
    ),
    "no layers": (
        lambda good: _zip(_edit_config(_members_of(good), lambda c: c["config"].pop("layers"))),
        "architecture.*does not parse",
    ),
    "unknown optimizer": (
        lambda good: _zip(
            _edit_config(
                _members_of(good), lambda c: c["compile"]["optimizer"].update(class_name="Adagrad")
            )
        ),
        "compile settings.*Adagrad",
    ),
    "optimizer state missing": (
        lambda good: _zip(
            {k: v for k, v in _members_of(good).items() if k != "optimizer.safetensors"}
        ),
        "has no optimizer.safetensors",
    ),
    "optimizer slot wrong shape": (
        lambda good: _zip(_edit_optimizer(_members_of(good))),
        r"optimizer state.*velocity/layers.0.kernel.*shape",
    ),
    "member cut short": (
        lambda good: _cut_short(_members_of(good)),
        r"not a readable ndgrad model \(EOFError\);",
    ),
    "weights member of no known format": (
        lambda good: _zip(_rename(_members_of(good), "model.safetensors", "weights")),
        r"config\.json names 'weights', not a \.safetensors or \.npz file",
    ),
    "no input shape": (
        lambda good: _zip(
            _edit_config(_members_of(good), lambda c: c["config"].pop("input_shape"))
        ),
        "the saved model has no input shape, so it cannot be rebuilt",
    ),
    "optimizer_state not a table": (
        lambda good: _zip(
            _edit_config(
                _members_of(good), lambda c: c.update(optimizer_state="optimizer.safetensors")
            )
        ),
        "optimizer_state must name the state file",
    ),
    "optimizer_state names no file": (
        lambda good: _zip(
            _edit_config(_members_of(good), lambda c: c["optimizer_state"].pop("file"))
        ),
        "optimizer_state must name the state file",
    ),
    "optimizer_state names a foreign weight": (
        lambda good: _zip(
            _edit_config(
                _members_of(good),
                lambda c: c["optimizer_state"]["variables"].__setitem__(0, "layers.9.kernel"),
            )
        ),
        r"optimizer_state must name .* the model's weights .*layers\.9\.kernel",
    ),
    "optimizer state corrupt": (
        lambda good: _zip({**_members_of(good), "optimizer.safetensors": b"\x00" * 9}),
        r"optimizer\.safetensors: cannot read the arrays",
    ),
    "optimizer state of no known format": (
        lambda good: _zip(_rename(_members_of(good), "optimizer.safetensors", "optimizer.bin")),
        r"config\.json names 'optimizer\.bin', not a \.safetensors or \.npz file",
    ),
    "no step count": (
        lambda good: _zip(_edit_optimizer(_members_of(good), lambda s: s.pop("iterations"))),
        r"optimizer\.safetensors: no integer 'iterations'",
    ),
    "step count not an integer": (
        lambda good: _zip(
            _edit_optimizer(
                _members_of(good), lambda s: s.update(iterations=np.array(2.0, "float32"))
            )
        ),
        r"optimizer\.safetensors: no integer 'iterations'",
    ),
}

# messages about one entry of a model file, saying what it should hold, rather than about
# the kind of file
NO_FORMAT_ADVICE = {
    "weight missing",
    "weight wrong shape",
    "weight not float",
    "optimizer slot wrong shape",
    "no input shape",
    "optimizer_state not a table",
    "optimizer_state names no file",
    "optimizer_state names a foreign weight",
    "no step count",
    "step count not an integer",
}


def _members_of(data: bytes) -> dict[str, bytes]:
    return _members(io.BytesIO(data))


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    _write_zip(buf, members)
    return buf.getvalue()


def _wrong_slot(state: dict[str, np.ndarray]) -> None:
    state["velocity/layers.0.kernel"] = np.zeros((3, 3, 1, 5), "float32")


def _edit_optimizer(members: dict[str, bytes], edit=_wrong_slot) -> dict[str, bytes]:
    from safetensors.numpy import load, save

    state = load(members["optimizer.safetensors"])
    edit(state)
    return {**members, "optimizer.safetensors": save(state)}


def _rename(members: dict[str, bytes], old: str, new: str) -> dict[str, bytes]:
    """Rename member `old` to `new`, and config.json's reference to it."""

    def edit(config):
        if config["weights"] == old:
            config["weights"] = new
        else:
            config["optimizer_state"]["file"] = new

    members = _edit_config(members, edit)
    return {new if name == old else name: data for name, data in members.items()}


def _cut_short(members: dict[str, bytes]) -> bytes:
    """A zip whose directory is intact but whose last member (config.json) claims more bytes
    than the file holds, as when the data region of a file is damaged."""
    data = bytearray(
        _zip(
            {
                **{k: v for k, v in members.items() if k != "config.json"},
                "config.json": members["config.json"],
            }
        )
    )
    entry = data.rfind(b"PK\x01\x02")  # config.json's central directory entry
    compressed, size = struct.unpack_from("<II", data, entry + 20)
    struct.pack_into("<II", data, entry + 20, compressed + 1000, size + 1000)
    return bytes(data)


@pytest.mark.parametrize("case", BROKEN, ids=BROKEN)
def test_load_model_names_the_file_and_what_was_expected(tmp_path, case):
    good = tmp_path / "good.ndgrad"
    _trained().save(str(good))
    ndgrad.load_model(good)  # the untouched file loads (also from a Path)
    make, reason = BROKEN[case]
    bad = tmp_path / "bad.ndgrad"
    bad.write_bytes(make(good.read_bytes()))
    with pytest.raises(ndgrad.errors.ModelFileError, match=reason) as info:
        ndgrad.load_model(str(bad))
    message = str(info.value)
    assert str(bad) in message and isinstance(info.value, ValueError)
    if case not in NO_FORMAT_ADVICE:
        assert "written by model.save" in message


def test_load_model_of_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.ndgrad"):
        ndgrad.load_model(str(tmp_path / "nothing.ndgrad"))


def test_weights_are_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = io.BytesIO()
    np.savez(buf, **{"layers.0.kernel": np.array([Evil()], dtype=object)})
    model = Sequential([layers.Input((2,)), layers.Dense(1)])
    config = {"class_name": "Sequential", "config": model.get_config(), "weights": "model.npz"}
    path = tmp_path / "evil.ndgrad"
    _write_zip(path, {"config.json": json.dumps(config).encode(), "model.npz": buf.getvalue()})
    with pytest.raises(ndgrad.errors.ModelFileError, match="allow_pickle"):
        ndgrad.load_model(str(path))
    (tmp_path / "w.npz").write_bytes(buf.getvalue())
    with pytest.raises(ndgrad.errors.ModelFileError, match=r"w\.npz.*allow_pickle"):
        model.load_weights(str(tmp_path / "w.npz"))
    assert not marker.exists()
    # the object array really was a pickle: allowing it would have run the payload
    with np.load(tmp_path / "w.npz", allow_pickle=True) as npz:
        npz["layers.0.kernel"]
    assert marker.exists()


def test_load_weights_names_a_corrupt_file(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"not safetensors at all")
    with pytest.raises(ndgrad.errors.ModelFileError, match=r"w\.safetensors.*save_weights"):
        _model(0).load_weights(str(path))


# -- what a model file holds: member names, compression, custom models ----------------------


def test_load_model_reads_the_members_config_json_names(tmp_path):
    model = _trained()
    path = tmp_path / "m.ndgrad"
    model.save(str(path))
    members = _rename(_members(path), "model.safetensors", "model.v2.safetensors")
    members = _rename(members, "optimizer.safetensors", "optimizer.v2.safetensors")
    _write_zip(path, members)  # any names, as long as the suffix says the format
    loaded = ndgrad.load_model(str(path))
    assert _same(loaded.get_weights(), model.get_weights())
    assert loaded.optimizer.iterations == 2
    state, expected = loaded.optimizer.get_state(), model.optimizer.get_state()
    assert all(_same(state["slots"][k], expected["slots"][k]) for k in expected["slots"])


def test_model_files_are_compressed(tmp_path):
    model = book.mnist_mlp()
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    raw = sum(w.nbytes for w in model.get_weights())  # 1.6 MB of zeros
    path = tmp_path / "zeros.ndgrad"
    model.save(str(path))
    assert path.stat().st_size < raw / 20
    loaded = ndgrad.load_model(str(path))
    assert _same(loaded.get_weights(), model.get_weights())


def test_registered_custom_models_round_trip(tmp_path):
    @saving.register
    class TwinDense(ndgrad.Model):  # built in __init__: its config has no input_shape
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.body = Sequential([layers.Input((3,)), layers.Dense(units)])
            self.built = True

        def call(self, inputs, training=None):
            return self.body(inputs)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = TwinDense(4, name="twin")
    path = str(tmp_path / "twin.ndgrad")
    model.save(path)
    loaded = ndgrad.load_model(path)
    assert type(loaded) is TwinDense and loaded.units == 4 and loaded.name == "twin"
    assert _same(loaded.get_weights(), model.get_weights())
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x).numpy(), model.predict(x).numpy())


def test_a_sequential_without_input_shape_is_refused_at_save_time(tmp_path):
    advice = (
        "save: the model has no input shape yet; start it with layers.Input(shape) "
        "or call it on data first"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(advice)}$"):
        Sequential([layers.Dense(2)]).save(str(tmp_path / "m.ndgrad"))
    assert _listing(tmp_path) == []
    model = Sequential([layers.Dense(2)])  # called on data: it has one now
    model(ndgrad.ones(1, 3))
    model.save(str(tmp_path / "m.ndgrad"))
    loaded = ndgrad.load_model(str(tmp_path / "m.ndgrad"))
    assert _same(loaded.get_weights(), model.get_weights())


def test_an_optimizer_shared_with_another_model_is_refused_at_save_time(tmp_path):
    optimizer = ndgrad.optimizers.Adam()
    other = Sequential([layers.Input((3,)), layers.Dense(2)], name="other")
    other.compile(optimizer, "mse")
    other.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    model = Sequential([layers.Input((3,)), layers.Dense(2)], name="mine")
    model.compile(optimizer, "mse")  # its state belongs to `other`'s weights
    with pytest.raises(
        ValueError,
        match=r"optimizer updates variables \[0, 1\] that are not "
        r"weights of model 'mine'",
    ):
        model.save(str(tmp_path / "m.ndgrad"))
    assert _listing(tmp_path) == []


def test_backward_after_load_weights_reports_the_replaced_weights(tmp_path):
    # weights replaced between forward and backward: the graph's saved copies are stale
    model = Sequential([layers.Input((3,)), layers.Dense(2)])
    path = str(tmp_path / "w.npz")
    model.save_weights(path)
    model.load_weights(path)
    out = model(ndgrad.ones(1, 3)).sum()
    model.set_weights(model.get_weights())
    model.load_weights(path)
    with pytest.raises(ndgrad.errors.GraphError, match="modified in place"):
        out.backward()


# -- without the safetensors package: ndgrad reads and writes the format itself ---------------


def _without_safetensors(monkeypatch) -> None:
    for name in ("safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_safetensors_models_are_saved_and_loaded_the_same(tmp_path, monkeypatch):
    model = _trained()
    with_package, without = tmp_path / "with.ndgrad", tmp_path / "without.ndgrad"
    model.save(str(with_package))
    _without_safetensors(monkeypatch)
    model.save(str(without))
    assert _members(with_package) == _members(without)  # byte for byte, whatever is installed
    loaded = ndgrad.load_model(str(with_package))
    assert _same(loaded.get_weights(), model.get_weights())
    assert loaded.optimizer.iterations == model.optimizer.iterations == 2
    state, expected = loaded.optimizer.get_state(), model.optimizer.get_state()
    assert state["slots"].keys() == expected["slots"].keys() == {"velocity"}
    assert _same(state["slots"]["velocity"], expected["slots"]["velocity"])


def test_files_of_the_safetensors_package_load_without_it(tmp_path, monkeypatch):
    """A model file whose members the reference implementation wrote (as ndgrad installs with
    the package did), and a weights file, both read with the package blocked."""
    from safetensors.numpy import save

    model = _trained()
    path, weights = tmp_path / "m.ndgrad", tmp_path / "w.safetensors"
    model.save(str(path))
    members = _members(path)
    for name in ("model.safetensors", "optimizer.safetensors"):
        from ndgrad._safetensors import load

        members[name] = save(load(members[name]))
    _write_zip(path, members)
    weights.write_bytes(save(dict(_safetensors_arrays(model))))
    _without_safetensors(monkeypatch)
    loaded = ndgrad.load_model(str(path))
    assert _same(loaded.get_weights(), model.get_weights())
    other = _model(1)
    other.load_weights(str(weights))
    assert _same(other.get_weights(), model.get_weights())


def _safetensors_arrays(model):
    return {p: w.numpy() for p, w, _ in model.named_weights()}


def test_old_files_with_npz_weights_still_load(tmp_path):
    model = _trained()
    path = tmp_path / "m.ndgrad"
    model.save(str(path))
    members = _members(path)
    from ndgrad._safetensors import load

    config = json.loads(members.pop("config.json"))
    for kind in ("model", "optimizer"):
        buf = io.BytesIO()
        np.savez(buf, **load(members.pop(f"{kind}.safetensors")))
        members[f"{kind}.npz"] = buf.getvalue()
    config["weights"] = "model.npz"
    config["optimizer_state"]["file"] = "optimizer.npz"
    members["config.json"] = json.dumps(config).encode()
    _write_zip(path, members)
    loaded = ndgrad.load_model(str(path))
    assert _same(loaded.get_weights(), model.get_weights())
    assert loaded.optimizer.iterations == 2


# -- compile settings: every loss and metric load_model knows, and what it cannot save ---------


def _classifier(loss, metrics=()) -> Sequential:
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile("sgd", loss, list(metrics))
    return model


def _loss_on_a_batch(model: Sequential, sparse: bool) -> float:
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1])
    y = labels if sparse else np.eye(3, dtype="float32")[labels]
    return float(model.compute_loss(ndgrad.tensor(y), model(ndgrad.tensor(x))).numpy())


def _round_trip(model: Sequential, tmp_path) -> Sequential:
    path = str(tmp_path / "m.ndgrad")
    model.save(path)
    return ndgrad.load_model(path)


@pytest.mark.parametrize("name", sorted(ndgrad.losses.LOSSES))
def test_every_loss_name_survives_save_and_load(tmp_path, name):
    model = _classifier(name)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded.loss) is ndgrad.losses.LOSSES[name]
    sparse = name == "sparse_categorical_crossentropy"
    assert _loss_on_a_batch(loaded, sparse) == _loss_on_a_batch(model, sparse)


@pytest.mark.parametrize("name", sorted(ndgrad.losses.LOSSES))
def test_every_loss_function_survives_save_and_load(tmp_path, name):
    function = getattr(ndgrad.losses, name)  # compile(loss=ndgrad.losses.mse) ...
    model = _classifier(function)
    assert model.loss is function
    loaded = _round_trip(model, tmp_path)  # ... comes back as the matching Loss
    assert type(loaded.loss) is ndgrad.losses.LOSSES[name]
    sparse = name == "sparse_categorical_crossentropy"
    np.testing.assert_allclose(
        _loss_on_a_batch(loaded, sparse), _loss_on_a_batch(model, sparse), rtol=1e-6
    )


LOSS_OBJECTS = {
    "huber": lambda: ndgrad.losses.Huber(delta=0.3),
    "categorical": lambda: ndgrad.losses.CategoricalCrossentropy(label_smoothing=0.2),
    "binary": lambda: ndgrad.losses.BinaryCrossentropy(label_smoothing=0.1, name="bce"),
}


@pytest.mark.parametrize("make", LOSS_OBJECTS.values(), ids=LOSS_OBJECTS.keys())
def test_loss_objects_keep_their_settings(tmp_path, make):
    model = _classifier(make())
    loaded = _round_trip(model, tmp_path)
    assert type(loaded.loss) is type(model.loss)
    assert loaded.loss.get_config() == model.loss.get_config()
    assert _loss_on_a_batch(loaded, False) == _loss_on_a_batch(model, False)
    assert _loss_on_a_batch(loaded, False) != _loss_on_a_batch(
        _classifier(type(model.loss)()), False
    )  # the settings matter


def _own_mean_squared_error(y_true, y_pred):
    return ((y_pred - y_true) ** 2).sum(-1)  # not ndgrad's, though it shares its name


_own_mean_squared_error.__name__ = "mean_squared_error"


class _ScaledMSE(ndgrad.losses.MeanSquaredError):
    def __call__(self, y_true, y_pred, sample_weight=None):
        return super().__call__(y_true, y_pred, sample_weight) * 10


UNNAMED_LOSSES = {
    "own function with a known name": lambda: _own_mean_squared_error,
    "subclass of a known loss": _ScaledMSE,
    "partial": lambda: functools.partial(ndgrad.losses.huber, delta=2.0),
}


@pytest.mark.parametrize("make", UNNAMED_LOSSES.values(), ids=UNNAMED_LOSSES.keys())
def test_losses_load_model_would_not_rebuild_are_refused_at_save_time(tmp_path, make):
    model = _classifier(make())
    model.loss(np.eye(3, dtype="float32")[:2], model(ndgrad.ones(2, 4)))  # a usable loss
    with pytest.raises(ValueError, match="the loss .* has no name load_model knows"):
        model.save(str(tmp_path / "m.ndgrad"))
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("name", sorted(ndgrad.metrics.METRICS))
def test_every_metric_name_survives_save_and_load(tmp_path, name):
    model = _classifier("categorical_crossentropy", [name, "mse"])
    loaded = _round_trip(model, tmp_path)
    assert [m.name for m in loaded.compiled_metrics] == [m.name for m in model.compiled_metrics]
    assert loaded.compiled_metrics[0].name == ("accuracy" if name == "acc" else name)


def test_your_own_metric_named_like_ndgrads_is_refused(tmp_path):
    """Saved by name, it would come back as ndgrad's "mae": a different function."""

    def mae(y_true, y_pred):
        return (y_pred - y_true).sum(-1)

    model = _classifier("mse", [mae, "mse"])
    with pytest.raises(ValueError, match="the metric 'mae' is not one load_model knows"):
        model.save(str(tmp_path / "m.ndgrad"))
    assert _listing(tmp_path) == []


def test_a_metric_load_model_does_not_know_is_refused_with_the_known_names(tmp_path):
    def f1(y_true, y_pred):
        return y_pred.sum(-1)

    model = _classifier("mse", [f1])
    known = ", ".join(sorted(ndgrad.metrics.METRICS))
    assert known.startswith("acc, accuracy, binary_accuracy")
    with pytest.raises(
        ValueError, match=re.escape(f"the metric 'f1' is not one load_model knows ({known})")
    ):
        model.save(str(tmp_path / "m.ndgrad"))
    assert _listing(tmp_path) == []


# -- limits: a hostile file is refused in one line, before it takes the memory it asks for ----


def _iris_file(tmp_path):
    ndgrad.manual_seed(0)
    model = book.dosage_mlp()
    model.compile("adam", "binary_crossentropy")
    path = tmp_path / "m.ndgrad"
    model.save(str(path))
    return path


def _with_config(path, change) -> None:
    members = _members(path)
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    _write_zip(path, members)


def test_members_larger_than_the_limit_are_refused_before_reading(tmp_path, monkeypatch):
    path = _iris_file(tmp_path)
    with pytest.raises(
        ndgrad.errors.ModelFileError,
        match=rf"{re.escape(str(path))}: \S+ declares \d+ bytes, "
        r"more than the limit of 100 \(a larger limit",
    ):
        ndgrad.load_model(str(path), max_bytes=100)
    monkeypatch.setenv("NDGRAD_MAX_MODEL_BYTES", "100")
    with pytest.raises(ndgrad.errors.ModelFileError, match="limit of 100"):
        ndgrad.load_model(str(path))
    monkeypatch.setenv("NDGRAD_MAX_MODEL_BYTES", "lots")
    with pytest.raises(ValueError, match="NDGRAD_MAX_MODEL_BYTES must be a number"):
        ndgrad.load_model(str(path))
    monkeypatch.delenv("NDGRAD_MAX_MODEL_BYTES")
    ndgrad.load_model(str(path))  # the default limit is far above any real model


def test_a_member_that_inflates_beyond_its_declared_size_is_refused(tmp_path):
    """A zip bomb whose central directory understates the inflated size: reading stops at
    the declared size (zipfile) and the mismatch is a broken file, not a MemoryError."""
    path = _iris_file(tmp_path)
    members = _members(path)
    members["model.safetensors"] = members["model.safetensors"] + b"\0" * 5_000_000
    _write_zip(path, members)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model.safetensors")
    # patch the declared size in both headers to the original 5 MB less
    real = info.file_size
    small = struct.pack("<I", real - 5_000_000)
    for offset in _all(data, struct.pack("<I", real)):
        data[offset : offset + 4] = small
    path.write_bytes(bytes(data))
    with pytest.raises(ndgrad.errors.ModelFileError, match=re.escape(str(path))):
        ndgrad.load_model(str(path))


def _all(data: bytes, needle: bytes) -> list[int]:
    found, start = [], 0
    while (i := data.find(needle, start)) >= 0:
        found.append(i)
        start = i + 1
    return found


def test_an_architecture_bigger_than_its_weights_is_refused_before_allocating(tmp_path):
    path = _iris_file(tmp_path)
    _with_config(path, lambda c: c["config"]["layers"][0]["config"].update(units=10**12))
    with pytest.raises(
        ndgrad.errors.ModelFileError, match=r"config.json asks for a size of 1000000000000"
    ):
        ndgrad.load_model(str(path))
    _with_config(path, lambda c: c["config"]["layers"][0]["config"].update(units=10**7))
    with pytest.raises(
        ndgrad.errors.ModelFileError, match=r"asks for a weight of shape \(1, 10000000\).*hold only"
    ):
        ndgrad.load_model(str(path))


def test_deeply_nested_configs_are_refused_in_one_line(tmp_path):
    path = _iris_file(tmp_path)
    members = _members(path)
    members["config.json"] = b"[" * 100_000 + b"]" * 100_000
    _write_zip(path, members)
    with pytest.raises(ndgrad.errors.ModelFileError, match="config.json is not valid JSON"):
        ndgrad.load_model(str(path))

    for depth, reason in ((900, r"nested too deeply"), (40, r"nests \d+ levels deep, more than")):
        path = _iris_file(tmp_path)  # 900 or 40 Sequentials, one inside the other
        members = _members(path)
        config = json.loads(members["config.json"])
        inner = json.dumps({"class_name": "Sequential", "config": config["config"]})
        wrap = '{"class_name": "Sequential", "config": {"name": "s", "layers": ['
        config["config"] = "HERE"
        text = json.dumps(config).replace(
            '"HERE"', '{"name": "s", "layers": [' + wrap * depth + inner + "]}}" * depth + "]}"
        )
        members["config.json"] = text.encode()
        _write_zip(path, members)
        with pytest.raises(ndgrad.errors.ModelFileError, match=reason):
            ndgrad.load_model(str(path))


def test_a_huge_config_json_is_refused(tmp_path):
    path = _iris_file(tmp_path)
    members = _members(path)
    members["config.json"] = b" " * (saving.MAX_CONFIG_BYTES + 1)
    _write_zip(path, members)
    with pytest.raises(ndgrad.errors.ModelFileError, match="config.json declares"):
        ndgrad.load_model(str(path))


def test_load_weights_refuses_files_beyond_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    _model(0).save_weights(str(path))
    monkeypatch.setenv("NDGRAD_MAX_MODEL_BYTES", "10")
    with pytest.raises(ndgrad.errors.ModelFileError, match=r"w\.safetensors: \d+ bytes, more"):
        _model(1).load_weights(str(path))


# -- the device --------------------------------------------------------------------------------
def _devices_of(model) -> set[str]:
    return {w.device for w in model.weights} | {
        ndgrad.tensor(a).device for a in model.optimizer.variables
    }


def test_the_device_is_saved_and_restored(tmp_path):
    path = str(tmp_path / "model.ndgrad")
    _trained("strict").save(path)
    assert json.loads(_members(path)["config.json"])["device"] == "strict"
    loaded = ndgrad.load_model(path)
    assert loaded.device == "strict" and _devices_of(loaded) == {"strict"}
    x = np.zeros((2, 6, 6, 1), dtype="float32")
    assert loaded.predict(x).device == "strict"


def test_load_model_puts_the_model_on_the_device_asked_for(tmp_path):
    path = str(tmp_path / "model.ndgrad")
    model = _trained("strict")
    model.save(path)
    loaded = ndgrad.load_model(path, device="cpu")
    assert loaded.device == "cpu" and _devices_of(loaded) == {"cpu"}
    assert _same(model.get_weights(), loaded.get_weights())
    assert loaded.optimizer.iterations == 2
    with pytest.raises(ndgrad.DeviceError, match="cuda:7"):
        ndgrad.load_model(path, device="cuda:7")


@pytest.mark.parametrize("saved", [None, "cuda:7"])
def test_a_file_without_the_device_or_with_one_absent_here_loads_on_the_default_device(
    tmp_path, saved
):
    path = str(tmp_path / "model.ndgrad")
    _trained("cpu").save(path)

    def edit(config):
        if saved is None:
            del config["device"]  # as files written before the device was recorded
        else:
            config["device"] = saved

    _write_zip(path, _edit_config(_members(path), edit))
    assert ndgrad.load_model(path).device == "cpu"
    with ndgrad.device("strict"):
        loaded = ndgrad.load_model(path)
    assert loaded.device == "strict" and _devices_of(loaded) == {"strict"}


def test_a_device_that_is_not_a_name_is_refused(tmp_path):
    path = str(tmp_path / "model.ndgrad")
    _trained("cpu").save(path)
    _write_zip(path, _edit_config(_members(path), lambda c: c.update(device=[0])))
    with pytest.raises(saving.ModelFileError, match=r"model.ndgrad: config.json's device.*\[0\]"):
        ndgrad.load_model(path)
