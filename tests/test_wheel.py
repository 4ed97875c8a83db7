"""The wheel as a user gets it: built from this tree, installed without extras into a fresh
virtual environment, run from an empty folder with no network.

The fresh environment gets ndgrad's two dependencies, NumPy and numba (with llvmlite), from
the test's own environment through a ``.pth`` file, so the test runs offline; nothing else of
that environment is visible (the test checks that safetensors, tqdm and matplotlib are not).
"""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ndgrad

ROOT = Path(__file__).resolve().parents[1]
CORE = ("numpy", "numpy.libs", "numba", "llvmlite")  # ndgrad's dependencies, and theirs


def _build_wheel(out: Path) -> Path:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (dev group)")
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out / done.stdout.strip().splitlines()[-1]


def _fresh_venv(folder: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True)
    site = Path(purelib.stdout.strip())
    deps = folder / "core-deps"
    deps.mkdir()
    ours = Path(sysconfig.get_path("purelib"))
    for entry in ours.iterdir():
        name = entry.name.split("-")[0]
        if name in CORE or (entry.suffix == ".dist-info" and name in CORE):
            (deps / entry.name).symlink_to(entry)
    (site / "core-deps.pth").write_text(f"{deps}\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, python of a fresh venv with the wheel installed, an empty working folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp / "dist")
    python = _fresh_venv(tmp / "venv")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--quiet", "--no-deps", "--no-index", "--no-cache-dir", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    work = tmp / "empty"
    work.mkdir()
    return wheel, python, work


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NDGRAD_"))}
    env.update(HOME=str(work.parent / "home"), XDG_CACHE_HOME=str(work.parent / "cache"),
               NDGRAD_OFFLINE="1", NUMBA_CACHE_DIR=str(work.parent / "numba"))
    return env


def _run(python: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    ndgrad_cmd = python.parent / "ndgrad"
    return subprocess.run([str(ndgrad_cmd), *args], cwd=work, env=_env(work),
                          capture_output=True, text=True, timeout=900)


def test_the_wheel_holds_the_licences_and_declares_them(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(z.read(info))
    dist_info = info.rsplit("/", 1)[0]
    for licence in ("LICENSE", "ndgrad/datasets/data/LICENSE-MNIST.txt",
                    "ndgrad/datasets/data/LICENSE-IRIS.txt"):
        assert f"{dist_info}/licenses/{licence}" in names
        assert licence in metadata.get_all("License-File")
    assert metadata["License-Expression"] == "MIT AND CC-BY-SA-3.0 AND CC-BY-4.0"
    assert metadata["Version"] == ndgrad.__version__
    assert any(c == "Typing :: Typed" for c in metadata.get_all("Classifier"))
    assert "ndgrad/py.typed" in names and "ndgrad/datasets/data/mnist_5k.npz" in names
    requires = metadata.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    assert sorted(core) == ["numba>=0.61", "numpy>=2"]
    extras = metadata.get_all("Provides-Extra")
    assert "dev" not in extras and "distributed" in extras
    lab = [r for r in requires if re.search(r"extra == ['\"]lab['\"]", r)]
    assert lab and not any(r.startswith("ray") for r in lab)  # Ray only in `distributed`
    assert not any(r.startswith(("torch", "mutmut")) for r in requires)
    assert not any("shared" in n for n in names)


def test_installed_alone_it_trains_saves_and_loads_offline(installed, tmp_path):
    _, python, work = installed
    alone = subprocess.run([python, "-c", "import importlib.util as u; print([m for m in "
                            "('safetensors', 'tqdm', 'matplotlib', 'ray') if u.find_spec(m)])"],
                           cwd=work, env=_env(work), capture_output=True, text=True, timeout=120)
    assert alone.stdout.strip() == "[]", alone.stderr
    version = _run(python, work, "--version")
    assert (version.returncode, version.stdout) == (0, f"ndgrad {ndgrad.__version__}\n")
    done = subprocess.run([python, "-m", "ndgrad", "--version"], cwd=work, env=_env(work),
                          capture_output=True, text=True, timeout=120)
    assert done.stdout == f"ndgrad {ndgrad.__version__}\n"

    trained = _run(python, work, "train", "mnist", "--epochs", "1", "--save", "mnist.ndgrad")
    assert trained.returncode == 0, trained.stderr
    assert "data: bundled subset (4000 training, 1000 test images)" in trained.stdout
    assert "--data" in trained.stderr and "NDGRAD_OFFLINE" in trained.stderr
    assert "tqdm" not in trained.stderr and "Warning" not in trained.stderr
    epochs = [line for line in trained.stdout.splitlines() if " - loss: " in line]
    assert len(epochs) == 1  # one line per epoch without tqdm
    # a fresh numba cache: the wait for the compiler is announced first
    assert trained.stderr.count("compiling the CPU kernels once") == 1
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", trained.stdout).group(1))
    assert accuracy > 0.8
    evaluated = _run(python, work, "evaluate", "mnist.ndgrad", "--data", "mnist")
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"accuracy: {accuracy:.4f}" in evaluated.stdout
    assert sorted(os.listdir(work)) == ["mnist.ndgrad"]


def test_a_model_saved_with_all_extras_loads_on_a_plain_install(installed, tmp_path):
    """Saved here (safetensors, tqdm, ... installed) with the members the safetensors package
    writes, as ndgrad installs with it once did; evaluated by the plain install."""
    from safetensors.numpy import save

    from ndgrad._safetensors import load
    from ndgrad.models import book

    _, python, work = installed
    (x, y), _ = ndgrad.datasets.iris.load_data()
    ndgrad.manual_seed(0)
    model = book.iris_mlp(x)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    path = tmp_path / "extras.ndgrad"
    model.save(str(path))
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    for name in members:
        if name.endswith(".safetensors"):
            members[name] = save(load(members[name]))
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert json.loads(members["config.json"])["weights"] == "model.safetensors"
    x_test = tmp_path / "flowers.npy"
    np.save(x_test, x[:5])
    done = _run(python, work, "predict", str(path), str(x_test))
    assert done.returncode == 0, done.stderr
    expected = model.predict(x[:5]).numpy().argmax(axis=1)
    classes = [int(line.split("\t")[1]) for line in done.stdout.splitlines()[1:]]
    assert classes == expected.tolist()
