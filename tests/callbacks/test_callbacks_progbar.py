"""ProgbarLogger output for verbose 0, 1 and 2, read back from the stream it writes to."""

import io
import re
import warnings

import pytest

from ndgrad.callbacks import CallbackList, ProgbarLogger
from ndgrad.callbacks import progbar_logger as progbar_module
from ndgrad.callbacks.progbar_logger import format_logs


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so the bar redraws in place."""

    def isatty(self):
        return True


TRAIN, VAL = [0.2345, 0.1234], [0.3456, 0.2345]
FINAL_1 = re.compile(
    r"^3/3 \[#{20}\] - \d+s \d+(us|ms|s)/step - loss: 0\.2345 - accuracy: 0\.5000 "
    r"- val_loss: 0\.3456 - val_accuracy: 0\.6000$"
)
FINAL_2 = re.compile(
    r"^3/3 - \d+s - \d+(us|ms|s)/step - loss: 0\.1234 - accuracy: 0\.6000 "
    r"- val_loss: 0\.2345 - val_accuracy: 0\.6500$"
)


def run(model, fit, verbose, stream, **progbar_args):
    fit(model, [ProgbarLogger(stream, **progbar_args)], train=TRAIN, val=VAL, verbose=verbose)
    return stream.getvalue()


def test_verbose_0_prints_nothing(model, fit, capsys):
    assert run(model, fit, 0, io.StringIO()) == ""
    fit(model, train=TRAIN, val=VAL, verbose=0)  # and fit adds no logger of its own
    assert capsys.readouterr().out == ""


def test_verbose_1_on_a_file_prints_headers_and_one_clean_line_per_epoch(model, fit):
    out = run(model, fit, 1, io.StringIO())
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert FINAL_1.match(lines[1]), lines[1]
    assert "loss: 0.1234" in lines[3] and "val_loss: 0.2345" in lines[3]
    assert "\r" not in out  # short epochs on a non-terminal leave no redraws behind
    assert "/5" not in out  # validation inside fit draws no bar of its own


def test_verbose_1_on_a_terminal_draws_a_live_bar(model, fit):
    out = run(model, fit, 1, Terminal(), mininterval=0)
    first_epoch = out.split("Epoch 2/2")[0]
    redraws = first_epoch.split("\r")
    assert redraws[0] == "Epoch 1/2\n"
    # the bar after each step: steps done, ETA and the running loss and metrics
    assert "1/3 [" in redraws[2] and "ETA:" in redraws[2]
    assert redraws[2].endswith("- loss: 0.4345 - accuracy: 0.5000")
    assert "2/3 [" in redraws[3] and redraws[3].endswith("- loss: 0.3345 - accuracy: 0.5000")
    assert "3/3 [" in redraws[4] and redraws[4].endswith("- loss: 0.2345 - accuracy: 0.5000")
    # then the bar is cleared and replaced by the epoch's line with the val_ metrics
    assert redraws[-2].strip() == ""
    assert FINAL_1.match(redraws[-1].rstrip("\n"))
    assert out.endswith("val_loss: 0.2345 - val_accuracy: 0.6500\n")


def test_verbose_2_prints_one_line_per_epoch_without_a_bar(model, fit):
    out = run(model, fit, 2, io.StringIO())
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("3/3 - ") and "val_loss: 0.3456" in lines[1]
    assert FINAL_2.match(lines[3]), lines[3]
    assert "[" not in out and "\r" not in out


def test_fit_adds_a_logger_writing_to_stdout(model, fit, capsys):
    fit(model, train=TRAIN, val=VAL, verbose=2)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/2\n3/3 - ") and "val_loss: 0.2345" in out


def test_a_single_epoch_has_no_header(model, fit):
    stream = io.StringIO()
    fit(model, [ProgbarLogger(stream)], train=[0.5], verbose=1)
    assert stream.getvalue().startswith("3/3 [") and "Epoch" not in stream.getvalue()


def test_without_tqdm_verbose_1_prints_one_line_per_epoch_and_no_warning(model, fit,
                                                                          monkeypatch):
    monkeypatch.setattr(progbar_module, "tqdm", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = run(model, fit, 1, io.StringIO())
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert re.match(r"Epoch 1/2 - 3/3 - \d+s - \d+(us|ms|s)/step - loss: ", lines[0])
    assert lines[1].startswith("Epoch 2/2 - ") and FINAL_2.match(lines[1][12:]), lines[1]


def test_verbose_2_never_warns_about_tqdm(model, fit, monkeypatch):
    monkeypatch.setattr(progbar_module, "tqdm", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(model, fit, 2, io.StringIO())


def drive_evaluate(logger, steps=4, verbose=1):
    cbs = CallbackList([logger], add_history=False, epochs=1, steps=steps, verbose=verbose)
    cbs.on_test_begin()
    for batch in range(steps):
        cbs.on_test_batch_begin(batch)
        cbs.on_test_batch_end(batch, {"loss": 1.0 / (batch + 1)})
    cbs.on_test_end({"loss": 0.5208, "accuracy": 0.75})


def test_evaluate_outside_fit_gets_a_bar_and_a_final_line():
    stream = Terminal()
    drive_evaluate(ProgbarLogger(stream, mininterval=0))
    out = stream.getvalue()
    assert "2/4 [" in out and "loss: 0.5000" in out
    assert re.search(r"\r4/4 \[#{20}\] - \d+s \S+/step - loss: 0\.5208 - accuracy: 0\.7500\n$", out)
    stream = io.StringIO()
    drive_evaluate(ProgbarLogger(stream), verbose=2)
    assert re.fullmatch(
        r"4/4 - \d+s - \S+/step - loss: 0\.5208 - accuracy: 0\.7500\n", stream.getvalue()
    )


def test_predict_shows_progress_but_no_outputs():
    stream = io.StringIO()
    cbs = CallbackList([ProgbarLogger(stream)], add_history=False, epochs=1, steps=2, verbose=1)
    cbs.on_predict_begin()
    for batch in range(2):
        cbs.on_predict_batch_end(batch, {"outputs": [[0.1, 0.9]]})
    cbs.on_predict_end()
    assert re.fullmatch(r"2/2 \[#{20}\] - \d+s \S+/step\n", stream.getvalue())


def test_unknown_number_of_steps_is_learnt_from_the_first_epoch(model, fit):
    stream = Terminal()
    fit(model, [ProgbarLogger(stream, mininterval=0)], train=TRAIN, steps_known=False, verbose=1)
    first, second = stream.getvalue().split("Epoch 2/2")
    assert "\r2/? - " in first and "2/3" not in first  # no total, so no bar and no ETA
    assert re.search(r"\r3/3 \[#{20}\] - \d+s \S+/step - loss: 0\.2345", first)
    assert "\r2/3 [" in second and "ETA:" in second


def test_format_logs_uses_four_decimals_or_scientific():
    assert format_logs({"loss": 0.23456, "accuracy": 0.9}) == "loss: 0.2346 - accuracy: 0.9000"
    assert format_logs({"lr": 1e-5, "zero": 0.0}) == "lr: 1.0000e-05 - zero: 0.0000e+00"
    assert format_logs({"loss": float("nan"), "big": float("inf"), "tag": "x"}) == (
        "loss: nan - big: inf - tag: x"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s/step"), (1.0, "1s/step"), (2.6, "3s/step"), (0.999, "999ms/step"),
        (0.0025, "2ms/step"), (1e-3, "1ms/step"), (9.99e-4, "999us/step"), (2e-6, "2us/step"),
        (9.994999e-4, "999us/step"),  # just under half a microsecond from 1000us
    ],
)  # fmt: skip
def test_time_per_step_in_the_largest_unit_that_keeps_it_at_least_one(seconds, text):
    assert progbar_module._per_step(seconds) == text


def test_format_logs_switches_to_scientific_at_one_thousandth():
    assert format_logs({"a": 1e-3, "b": 0.0011, "c": -2e-4}) == (
        "a: 1.0000e-03 - b: 0.0011 - c: -2.0000e-04"
    )


def test_the_final_line_reports_elapsed_seconds_and_time_per_step(model, fit, monkeypatch):
    clock = iter(range(0, 1000, 2))  # every reading 2 s after the last
    monkeypatch.setattr(progbar_module.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    fit(model, [ProgbarLogger(stream)], train=[0.5], verbose=2)
    # the epoch begins at one reading and ends at the next: 2 s for 3 steps
    assert stream.getvalue() == (
        "3/3 - 2s - 667ms/step - loss: 0.5000 - accuracy: 0.5000\n"
    )


def test_verbose_auto_means_1_and_missing_params_mean_1_and_one_epoch():
    logger = ProgbarLogger(io.StringIO())
    logger.set_params({"verbose": "auto", "epochs": 3, "steps": 2})
    assert (logger.verbose, logger.epochs, logger.target) == (1, 3, 2)
    logger.set_params({})
    assert (logger.verbose, logger.epochs, logger.target) == (1, 1, None)


@pytest.mark.parametrize(
    ("stream", "ipython", "expected"),
    [
        (Terminal(), False, True), (io.StringIO(), False, False),
        ("stdout", True, True), (io.StringIO(), True, False), ("stdout", False, False),
    ],
)  # fmt: skip
def test_a_bar_redraws_in_place_on_terminals_and_notebook_outputs(
    monkeypatch, stream, ipython, expected
):
    import sys

    if ipython:
        monkeypatch.setitem(sys.modules, "ipykernel", object())
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    if stream == "stdout":
        stream = io.StringIO()
        monkeypatch.setattr(sys, "stdout", stream)
    assert progbar_module._redraws_in_place(stream) is expected


def test_after_fit_evaluate_prints_again(model, fit):
    stream = io.StringIO()
    logger = ProgbarLogger(stream)
    fit(model, [logger], train=[0.5], verbose=2)
    stream.truncate(0)
    stream.seek(0)
    cbs = CallbackList([logger], model=model, add_history=False, verbose=2, epochs=1, steps=1)
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 0.25})
    cbs.on_test_end({"loss": 0.25})
    assert stream.getvalue().startswith("1/1 - ") and "loss: 0.2500" in stream.getvalue()


class Clock:
    """A clock read by both tqdm and the logger, moved forward only by the test."""

    def __init__(self, now=1024.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    import tqdm as tqdm_package
    import tqdm.std

    clock = Clock()
    monkeypatch.setattr(tqdm.std, "time", clock)
    monkeypatch.setattr(tqdm_package.tqdm, "monitor_interval", 0)  # no monitor thread
    monkeypatch.setattr(progbar_module.time, "perf_counter", clock)
    return clock


def evaluate_with_clock(stream, clock, seconds_per_step, steps=3, **progbar_args):
    cbs = CallbackList([ProgbarLogger(stream, **progbar_args)], add_history=False, epochs=1,
                       steps=steps, verbose=1)
    cbs.on_test_begin()
    for batch in range(steps):
        clock.now += seconds_per_step
        cbs.on_test_batch_end(batch, {"loss": 1.0 / (batch + 1)})
    cbs.on_test_end({"loss": 0.5})
    return stream.getvalue()


def test_on_a_terminal_the_bar_shows_at_once_and_redraws_every_tenth_of_a_second(clock):
    out = evaluate_with_clock(Terminal(), clock, 0.0625)
    frames = [f.split(" [")[0] for f in out.split("\r") if " [" in f]
    # drawn empty at the start, then only when 0.1 s has passed since the last draw
    assert frames == ["0/3", "2/3", "3/3"], out
    assert out.endswith("\r3/3 [####################] - 0s 62ms/step - loss: 0.5000\n")


def test_on_a_file_the_bar_first_shows_after_30_seconds_and_then_every_30(clock):
    out = evaluate_with_clock(io.StringIO(), clock, 15.25, steps=4)
    frames = [f.split(" [")[0] for f in out.split("\r") if " [" in f]
    # at 15.25 s nothing; at 30.5 s the first draw; at 45.75 s too soon; at 61 s again
    assert frames == ["2/4", "4/4", "4/4"], out
    assert out.endswith("\r4/4 [####################] - 61s 15s/step - loss: 0.5000\n")


class UnicodeTerminal(Terminal):
    encoding = "utf-8"


def test_the_final_line_draws_its_bar_with_the_live_bar_s_characters():
    stream = UnicodeTerminal()
    drive_evaluate(ProgbarLogger(stream, mininterval=0))
    final = stream.getvalue().rsplit("\r", 1)[1]
    assert final.startswith("4/4 [" + "\u2588" * 20 + "] - "), final  # full blocks, not '#'


def test_the_final_line_times_the_epoch_from_its_start(model, fit, monkeypatch):
    readings = iter([100.0, 106.0])  # the epoch begins at 100 s and ends at 106 s
    monkeypatch.setattr(progbar_module.time, "perf_counter", lambda: next(readings, 1000.0))
    stream = io.StringIO()
    fit(model, [ProgbarLogger(stream)], train=[0.5], verbose=2)
    assert stream.getvalue() == "3/3 - 6s - 2s/step - loss: 0.5000 - accuracy: 0.5000\n"


def test_evaluate_on_no_data_reports_zero_steps(capsys):
    import numpy as np

    from ndgrad import Sequential, layers

    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.evaluate(np.zeros((0, 4), "float32"), np.zeros((0, 2), "float32"), verbose=2)
    assert capsys.readouterr().out == "0/0 - 0s - 0s/step - loss: nan\n"


def test_without_end_logs_the_final_line_shows_the_last_running_metrics():
    stream = io.StringIO()
    cbs = CallbackList([ProgbarLogger(stream)], add_history=False, epochs=1, steps=2, verbose=2)
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 0.75})
    cbs.on_test_batch_end(1, {"loss": 0.25})
    cbs.on_test_end(None)
    assert stream.getvalue().endswith("/step - loss: 0.2500\n")


def test_each_line_is_flushed_as_it_is_written(model, fit, tmp_path):
    path = tmp_path / "log.txt"
    with open(path, "w") as stream:  # buffered: nothing reaches the file until a flush
        fit(model, [ProgbarLogger(stream)], train=TRAIN, verbose=2)
        assert path.read_text().startswith("Epoch 1/2\n3/3 - ")
        assert path.read_text().count("\n") == 4


def test_on_a_real_terminal_the_bar_follows_the_terminal_s_width():
    termios = pytest.importorskip("termios")
    import fcntl
    import os
    import pty
    import struct

    master, replica = pty.openpty()

    def resize(columns):
        fcntl.ioctl(replica, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    resize(50)
    with open(replica, "w") as stream:
        cbs = CallbackList([ProgbarLogger(stream, mininterval=0)], add_history=False, epochs=1,
                           steps=3, verbose=1)
        cbs.on_test_begin()
        logs = {"loss": 0.1234, "accuracy": 0.5, "precision": 0.25, "recall": 0.75}
        cbs.on_test_batch_end(0, logs)
        resize(40)  # the window narrows during the run
        cbs.on_test_batch_end(1, logs)
        cbs.on_test_batch_end(2, logs)
        cbs.on_test_end({"loss": 0.5})
    chunks = []  # everything written, however the pty hands it over (in one read or more)
    while True:
        try:
            chunk = os.read(master, 100_000)
        except OSError:  # EIO: the replica is closed and all it wrote has been read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out = b"".join(chunks).decode()
    frames = [f for f in out.split("\r") if " [" in f and "ETA" in f]
    # each redraw is cut to the width the terminal has at the time, less one column (and
    # padded with spaces over what is left of a longer line before it)
    assert [len(f.rstrip()) for f in frames] == [35, 49, 39, 39], frames
    assert frames[1].startswith("1/3 [") and frames[2].startswith("2/3 [")
