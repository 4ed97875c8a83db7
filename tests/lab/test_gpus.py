"""The lab on GPUs, checked on any machine: which device each worker rank gets, how many
workers there are, the run's default device, and the command line refusing GPUs it lacks.

`ndgrad.cuda.device_count` stands in for a machine with GPUs where the placement needs a
count (no GPU is touched: the executor only names devices); the run's device is then checked
with a device this machine has.
"""

from __future__ import annotations

from typing import Any

import pytest

import ndgrad
from ndgrad.cli import main
from ndgrad.lab.executors import LocalExecutor, gpu_devices
from ndgrad.lab.grid import Cell
from ndgrad.lab.runner import run_cell
from ndgrad.lab.sweep import GPU_TOLERANCE, same_value


@pytest.mark.parametrize(
    ("device", "gpus", "want"),
    [
        (None, None, []),
        ("cpu", None, []),
        ("cuda", None, ["cuda:0", "cuda:1", "cuda:2"]),
        ("cuda", 2, ["cuda:0", "cuda:1"]),
        (None, 1, ["cuda:0"]),
        ("cuda:2", None, ["cuda:2"]),
    ],
)
def test_the_gpus_a_sweep_uses(device: str | None, gpus: int | None, want: list[str]) -> None:
    assert gpu_devices(device, gpus, available=3) == want


@pytest.mark.parametrize(
    ("device", "gpus", "available", "message"),
    [
        ("cuda", None, 0, "no CUDA device"),
        (None, 2, 0, "no CUDA device"),
        ("cuda", 4, 3, "gpus=4: this machine has 3 CUDA device"),
        ("cuda:3", None, 3, "'cuda:3' with gpus=None: this machine has 3"),
        ("cuda:0", 2, 3, "with gpus=2"),
    ],
)
def test_gpus_this_machine_lacks_are_refused(
    device: str | None, gpus: int | None, available: int, message: str
) -> None:
    with pytest.raises(ndgrad.DeviceError, match=message):
        gpu_devices(device, gpus, available)


@pytest.mark.parametrize(("device", "gpus"), [("tpu", None), ("cuda:x", None), ("cuda", 0)])
def test_bad_device_arguments(device: str, gpus: int | None) -> None:
    with pytest.raises(ValueError, match="device must be|gpus must be"):
        gpu_devices(device, gpus, available=2)


def test_no_gpu_here_means_no_gpu_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndgrad.cuda, "device_count", lambda: 0)  # so on a GPU machine too
    with pytest.raises(ndgrad.DeviceError, match="no CUDA device"):
        LocalExecutor(device="cuda")


@pytest.fixture
def three_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndgrad.cuda, "device_count", lambda: 3)


def test_each_worker_rank_has_a_gpu_of_its_own(three_gpus: None) -> None:
    """The ranks the executor gives its workers are 0 .. workers-1, at most one per GPU."""
    ex = LocalExecutor(device="cuda")
    assert ex.workers == 3  # one per GPU, not one per core
    assert [ex.device_of(r) for r in range(ex.workers)] == ["cuda:0", "cuda:1", "cuda:2"]
    assert "on cuda:0, cuda:1, cuda:2" in ex.describe()
    two = LocalExecutor(5, gpus=2)
    assert two.workers == 2 and [two.device_of(r) for r in range(2)] == ["cuda:0", "cuda:1"]
    assert LocalExecutor(device="cuda:2").device_of(0) == "cuda:2"
    for rank in (2, -1, 1.0):  # no worker has it: an error, not another worker's GPU
        with pytest.raises(ValueError, match=rf"rank must be an int in \[0, 2\).*{rank!r}"):
            two.device_of(rank)  # type: ignore[arg-type]


def test_workers_are_limited_to_the_gpus(three_gpus: None) -> None:
    assert LocalExecutor(8, device="cuda").workers == 3
    assert LocalExecutor(2, device="cuda").workers == 2
    assert LocalExecutor(4, device="cuda:1").workers == 1
    cpu = LocalExecutor(8)
    assert cpu.workers == 8 and [cpu.device_of(r) for r in range(8)] == [None] * 8
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        cpu.device_of(8)


def test_a_run_builds_and_trains_on_its_workers_device() -> None:
    seen: list[str] = []

    def build(config: dict, report: Any) -> None:
        seen.append(ndgrad.zeros(1).device)
        report(1, {"loss": 1.0})

    reports: list[Any] = []
    outcome = run_cell(build, Cell({}, 0), None, lambda e, m: reports.append(m), device="strict")
    assert outcome.status == "done" and seen == ["strict"] and reports == [{"loss": 1.0}]
    assert ndgrad.zeros(1).device == "cpu"  # the default device is the caller's again
    run_cell(build, Cell({}, 0), None, lambda e, m: None)
    assert seen == ["strict", "cpu"]


@pytest.mark.parametrize(
    "options", [["--gpus", "2"], ["--device", "cuda"], ["--gpus", "1", "--device", "cuda"]]
)
def test_the_command_line_refuses_gpus_without_cuda(
    options: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    code = main(["lab", "rmsprop", "--out", str(tmp_path / "out"), *options])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("ndgrad lab: error: --") and "no CUDA device here" in err[0]
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_the_command_line_refuses_gpus_with_ray(
    capsys: pytest.CaptureFixture[str], three_gpus: None, tmp_path: Any
) -> None:
    code = main(["lab", "rmsprop", "--gpus", "2", "--ray", "--out", str(tmp_path / "o")])
    assert code == 2 and "not with --ray" in capsys.readouterr().err


def test_verify_tolerance_for_gpu_sweeps() -> None:
    assert same_value(0.25, 0.25) and same_value(float("nan"), float("nan"))
    assert not same_value(0.25, 0.2501)  # CPU sweeps: bit-identical or a difference
    assert same_value(0.25, 0.2501, GPU_TOLERANCE)
    assert not same_value(0.25, 0.26, GPU_TOLERANCE) and not same_value(None, 0.25, 1.0)
