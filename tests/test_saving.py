"""Saving: weights as .safetensors / .npz, whole models as .ndgrad zips, atomic writes."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, saving
from ndgrad.models import book


def _model(seed: int) -> Sequential:
    ndgrad.manual_seed(seed)
    return Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="relu"),
                       layers.BatchNormalization(), layers.MaxPooling2D(),
                       layers.Flatten(), layers.Dropout(0.1),
                       layers.Dense(3, activation="softmax")])


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _trained(backend: str = "cpu") -> Sequential:
    model = _model(0).to(backend)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
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
    source.save_weights(str(path))
    assert _listing(tmp_path) == [path.name]
    target = _model(1).to(backend)
    assert not _same(source.get_weights(), target.get_weights())
    target.load_weights(str(path))
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
    with pytest.raises(ValueError, match="missing.*unexpected"):
        other.load_weights(path)
    assert _same(before, other.get_weights())
    wider = Sequential([layers.Input((6, 6, 1)), layers.Conv2D(4, 3, activation="relu"),
                        layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
                        layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    before = wider.get_weights()
    with pytest.raises(ndgrad.ShapeError, match=r"layers.0.kernel.*\(3, 3, 1, 4\).*\(3, 3, 1, 2\)"):
        wider.load_weights(path)
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
    # compiled again: the same optimizer settings, loss and metrics; training continues
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert type(loaded.loss) is type(model.loss)
    assert [m.name for m in loaded.compiled_metrics] == ["accuracy"]
    loaded.fit(x, np.array([0, 1, 2, 0, 1]), epochs=1, verbose=0)


def test_saved_model_is_a_zip_with_json_config(tmp_path):
    import json

    path = tmp_path / "mlp.ndgrad"
    book.mnist_mlp().save(str(path))
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        config = json.loads(z.read("config.json"))
    assert names == {"config.json", config["weights"]}
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
    with pytest.raises(ValueError, match="register"):
        ndgrad.load_model(path)


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
    assert calls == ["config.json", "model.safetensors"]
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
    model.compile("sgd", ndgrad.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
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
