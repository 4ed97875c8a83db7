"""`ndgrad lab compare`: sweeps side by side, the better one named, the noise rule applied,
everything escaped; real training on the bundled subset."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import pytest

from ndgrad.cli import main
from ndgrad.lab import InlineExecutor, MnistBuild, SweepResult, sweep
from ndgrad.lab.compare import load, noise_verdict, sentences, write_compare
from ndgrad.lab.results import ConfigSummary

from .conftest import small_data

pytest.importorskip("matplotlib", reason="matplotlib is in the lab extra")


def _sweep(folder, optimizer, grid, seeds=2, sweep_seed=0):
    return sweep(MnistBuild(optimizer), grid, seeds=seeds, data=small_data(256, 128), epochs=2,
                 batch_size=32, executor=InlineExecutor(), store=folder, progress=False,
                 sweep_seed=sweep_seed, settings={"optimizer": optimizer})


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    good = _sweep(root / "rmsprop", "rmsprop",
                  {"learning_rate": [1e-3, 1e-2], "momentum": [0.0]}, sweep_seed=1)
    slow = _sweep(root / "sgd <i>&", "sgd", {"learning_rate": [1e-5]})
    return root, good, slow


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_compare_names_the_better_sweep_beyond_the_noise(sweeps, tmp_path):
    root, good, slow = sweeps
    a, b = good.best(), slow.best()
    assert a.mean - b.mean > max(a.spread, b.spread) > 0  # what the sentence must conclude
    path, said = write_compare([root / "sgd <i>&", root / "rmsprop"], tmp_path / "cmp")
    assert said == [
        f"rmsprop is better than sgd <i>&: val_accuracy {_4(a.mean)} (± {_4(a.spread)} over 2 "
        f"seeds) against {_4(b.mean)} (± {_4(b.spread)} over 2 seeds); the difference of "
        f"{_4(a.mean - b.mean)} exceeds the larger spread, {_4(max(a.spread, b.spread))}."
    ]
    page = path.read_text()
    assert "<i>" not in page and "sgd &lt;i&gt;&amp;" in page  # escaped
    parsed = _Text()
    parsed.feed(page)
    text = " ".join(parsed.text)
    assert said[0] in text and "larger of the two spreads" in text
    assert "held-out" not in text  # these stores measured no test figure
    assert page.index("rmsprop") < page.index("sgd &lt;i&gt;&amp;")  # best first
    assert (tmp_path / "cmp" / "compare-curves.png").read_bytes()[:4] == b"\x89PNG"
    # lower is better for a loss: the same sweep still wins, ranked by its lowest val_loss
    _, said = write_compare([root / "sgd <i>&", root / "rmsprop"], tmp_path / "l", "val_loss")
    assert said[0].startswith("rmsprop ") and "val_loss" in said[0]


def _4(v: float) -> str:
    from ndgrad.lab.report import sig4

    return sig4(v)


def _summary(*values: float) -> ConfigSummary:
    return ConfigSummary({"learning_rate": 0.1}, values=list(values))


def test_the_noise_rule():
    # a difference under the larger spread is within noise, over it is not
    a, b = _summary(0.90, 0.92, 0.94), _summary(0.89, 0.91, 0.93)
    assert noise_verdict(a, b) == (False, pytest.approx(0.01), pytest.approx(0.01633, abs=1e-5))
    c = _summary(0.80, 0.81, 0.82)
    assert noise_verdict(a, c)[0] is True
    verdict, diff, noise = noise_verdict(a, _summary(0.5))  # one seed: nothing measured
    assert verdict is None and diff == pytest.approx(0.42) and math.isnan(noise)


def test_within_noise_and_one_seed_sentences(sweeps, tmp_path):
    root, good, _ = sweeps
    # the same grid with other seeds: a difference under the seeds' spread
    again = _sweep(tmp_path / "rmsprop-again", "rmsprop",
                   {"learning_rate": [1e-3, 1e-2], "momentum": [0.0]}, sweep_seed=2)
    a, b = good.best(), again.best()
    diff, noise = abs(a.mean - b.mean), max(a.spread, b.spread)
    assert 0 < diff < noise
    said = sentences(load([root / "rmsprop", tmp_path / "rmsprop-again"]), "val_accuracy")
    assert said == [
        f"rmsprop and rmsprop-again are within noise of each other: val_accuracy {_4(a.mean)} "
        f"(± {_4(a.spread)} over 2 seeds) against {_4(b.mean)} (± {_4(b.spread)} over 2 "
        f"seeds); the difference of {_4(diff)} does not exceed the larger spread, {_4(noise)}."
    ]
    one = _sweep(tmp_path / "one-seed", "rmsprop", {"learning_rate": [1e-3]}, seeds=1)
    assert len(one.best().values) == 1
    _, said = write_compare([root / "rmsprop", tmp_path / "one-seed"], tmp_path / "c1")
    assert "with one seed no spread was measured" in said[0] and "unknown" in said[0]
    page = (tmp_path / "c1" / "compare.html").read_text()
    assert "not measured (one seed)" in page and "± 0.0000" not in page


def test_a_measured_held_out_figure_is_shown_beside_validation(sweeps, tmp_path):
    import dataclasses

    from ndgrad.lab.compare import heldout

    root, _, _ = sweeps
    d = small_data(256, 128)
    test_split = small_data(256 + 96, 128)
    data = dataclasses.replace(d, x_test=test_split.x_train[256:], y_test=test_split.y_train[256:])
    tested = sweep(MnistBuild("rmsprop"), {"learning_rate": [1e-3]}, seeds=2, data=data,
                   epochs=2, batch_size=32, executor=InlineExecutor(), store=tmp_path / "held",
                   progress=False)
    values = tested.test().test
    assert len(values) == 2
    mean, spread, runs = heldout(tested)
    assert (mean, spread, runs) == (pytest.approx(sum(values) / 2),
                                    pytest.approx(abs(values[0] - values[1]) / 2), 2)
    assert heldout(SweepResult.load(root / "rmsprop")) is None  # no test split kept
    path, _ = write_compare([tmp_path / "held", root / "sgd <i>&"], tmp_path / "t")
    page = path.read_text()
    assert "held-out test (mean ± spread)" in page
    assert f"{_4(mean)} ± {_4(spread)} (2 runs)" in page and "not measured" in page


def test_the_cli(sweeps, tmp_path, capsys):
    root, _, _ = sweeps
    code = main(["lab", "compare", str(root / "rmsprop"), str(root / "sgd <i>&"),
                 "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("rmsprop is better than sgd <i>&")
    assert f"report: {tmp_path / 'c' / 'compare.html'}" in out
    for args, message in (
        ([str(root / "rmsprop")], "compare needs two or more sweeps' folders; got 1"),
        ([str(root / "rmsprop"), str(tmp_path / "none")], f"no sweep results at {tmp_path}"),
        ([str(root / "rmsprop"), str(root / "sgd <i>&"), "--metric", "bogus"],
         "no metric 'bogus' in"),
    ):
        code = main(["lab", "compare", *args, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x" / "compare.html").exists()
