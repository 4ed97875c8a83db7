"""Losses against torch.nn.functional: values and gradients, stability, errors, lookup by name.

Keras's losses average over the last axis (binary CE, mse, mae, huber) and give one value per
sample; the `Loss` classes then average over the batch. Probabilities that came out of a
softmax or sigmoid are traced back to their logits, so the fused, stable form is used.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ndgrad
from ndgrad import losses

RNG = np.random.default_rng(0)
LOGITS = (RNG.standard_normal((6, 4)) * 2).astype("float32")
LABELS = np.array([0, 3, 1, 2, 3, 0])
ONEHOT = np.eye(4, dtype="float32")[LABELS]
BINARY = RNG.integers(0, 2, (6, 4)).astype("float32")
TARGETS = RNG.standard_normal((6, 4)).astype("float32")


def _leaf(a, device):
    return ndgrad.tensor(a, device=device, requires_grad=True)


def _th(a):
    return torch.from_numpy(np.array(a, copy=True)).requires_grad_(True)


def _compare(got, want, leaf, tleaf, rtol=1e-5, atol=1e-6):
    """Values equal torch's, and so do the gradients of a weighted sum of them."""
    assert got.shape == tuple(want.shape), (got.shape, want.shape)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=rtol, atol=atol)
    g = np.linspace(0.5, 1.5, got.size, dtype="float32").reshape(got.shape)
    (got * ndgrad.tensor(g, device=leaf.device)).sum().backward()
    (want * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), tleaf.grad.numpy(), rtol=rtol, atol=atol)


# -- cross-entropies -------------------------------------------------------------------------

@pytest.mark.parametrize("labels_shape", [(6,), (6, 1)])
def test_sparse_ce_from_logits(backend, labels_shape):
    x, tx = _leaf(LOGITS, backend), _th(LOGITS)
    y = ndgrad.tensor(LABELS.reshape(labels_shape), device=backend)
    got = losses.sparse_categorical_crossentropy(y, x, from_logits=True)
    _compare(got, F.cross_entropy(tx, torch.from_numpy(LABELS), reduction="none"), x, tx)


def test_sparse_ce_from_softmax_outputs(backend):
    x, tx = _leaf(LOGITS, backend), _th(LOGITS)
    got = losses.sparse_categorical_crossentropy(LABELS, ndgrad.softmax(x, -1))
    _compare(got, F.cross_entropy(tx, torch.from_numpy(LABELS), reduction="none"), x, tx)


def test_sparse_ce_from_plain_probabilities(backend):
    """Probabilities with no softmax behind them: -log(p[label]), clipped to [1e-7, 1 - 1e-7]."""
    p = torch.softmax(torch.from_numpy(LOGITS), -1).numpy()
    x, tx = _leaf(p, backend), _th(p)
    got = losses.sparse_categorical_crossentropy(ndgrad.tensor(LABELS, device=backend), x)
    want = -torch.log(tx.clamp(1e-7, 1 - 1e-7)).gather(1, torch.from_numpy(LABELS)[:, None])[:, 0]
    _compare(got, want, x, tx)


def test_sparse_ce_accepts_batched_sequences(backend):
    logits = RNG.standard_normal((2, 3, 5)).astype("float32")
    labels = RNG.integers(0, 5, (2, 3))
    x, tx = _leaf(logits, backend), _th(logits)
    got = losses.sparse_categorical_crossentropy(labels, x, from_logits=True)
    want = F.cross_entropy(tx.reshape(6, 5), torch.from_numpy(labels.reshape(6)),
                           reduction="none").reshape(2, 3)
    _compare(got, want, x, tx)


def test_categorical_ce_from_logits_and_softmax(backend):
    want = F.cross_entropy(_th(LOGITS), torch.from_numpy(ONEHOT), reduction="none")
    for from_logits in (True, False):
        x, tx = _leaf(LOGITS, backend), _th(LOGITS)
        pred = x if from_logits else ndgrad.softmax(x, -1)
        got = losses.categorical_crossentropy(ndgrad.tensor(ONEHOT, device=backend), pred,
                                              from_logits=from_logits)
        _compare(got, F.cross_entropy(tx, torch.from_numpy(ONEHOT), reduction="none"), x, tx)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5)


def test_categorical_ce_from_plain_probabilities_normalises_them(backend):
    p = RNG.uniform(0.1, 1.0, (6, 4)).astype("float32")  # rows do not sum to 1
    x, tx = _leaf(p, backend), _th(p)
    got = losses.categorical_crossentropy(ONEHOT, x)
    q = tx / tx.sum(-1, keepdim=True)
    want = -(torch.from_numpy(ONEHOT) * torch.log(q.clamp(1e-7, 1 - 1e-7))).sum(-1)
    _compare(got, want, x, tx)


@pytest.mark.parametrize("smoothing", [0.1, 0.3])
def test_categorical_ce_label_smoothing_formula(backend, smoothing):
    """Keras: y * (1 - s) + s / num_classes, then the usual cross-entropy."""
    x, tx = _leaf(LOGITS, backend), _th(LOGITS)
    got = losses.categorical_crossentropy(ONEHOT, x, from_logits=True, label_smoothing=smoothing)
    smooth = torch.from_numpy(ONEHOT * (1 - smoothing) + smoothing / 4)
    want = -(smooth * torch.log_softmax(tx, -1)).sum(-1)
    _compare(got, want, x, tx)
    # torch's own label smoothing uses the same formula
    torch_ls = F.cross_entropy(_th(LOGITS), torch.from_numpy(LABELS), reduction="none",
                               label_smoothing=smoothing)
    np.testing.assert_allclose(got.detach().numpy(), torch_ls.detach().numpy(), rtol=1e-5)


def test_binary_ce_from_logits_and_sigmoid(backend):
    for from_logits in (True, False):
        x, tx = _leaf(LOGITS, backend), _th(LOGITS)
        pred = x if from_logits else ndgrad.sigmoid(x)
        got = losses.binary_crossentropy(ndgrad.tensor(BINARY, device=backend), pred,
                                         from_logits=from_logits)
        want = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(BINARY),
                                                  reduction="none").mean(-1)
        _compare(got, want, x, tx)


def test_binary_ce_from_plain_probabilities(backend):
    p = RNG.uniform(0.05, 0.95, (6, 4)).astype("float32")
    x, tx = _leaf(p, backend), _th(p)
    got = losses.binary_crossentropy(BINARY, x)
    want = F.binary_cross_entropy(tx, torch.from_numpy(BINARY), reduction="none").mean(-1)
    _compare(got, want, x, tx)


def test_binary_ce_label_smoothing_formula(backend):
    """Keras: y * (1 - s) + 0.5 * s."""
    x, tx = _leaf(LOGITS, backend), _th(LOGITS)
    got = losses.binary_crossentropy(BINARY, x, from_logits=True, label_smoothing=0.2)
    smooth = torch.from_numpy(BINARY * 0.8 + 0.1)
    want = F.binary_cross_entropy_with_logits(tx, smooth, reduction="none").mean(-1)
    _compare(got, want, x, tx)


def test_binary_ce_single_output_column(backend):
    """The usual binary classifier: predictions (N, 1), targets (N, 1) -> (N,)."""
    x, tx = _leaf(LOGITS[:, :1], backend), _th(LOGITS[:, :1])
    got = losses.binary_crossentropy(BINARY[:, :1], ndgrad.sigmoid(x))
    want = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(BINARY[:, :1]),
                                              reduction="none").mean(-1)
    _compare(got, want, x, tx)


# -- regression losses -----------------------------------------------------------------------

@pytest.mark.parametrize("name, torch_fn", [
    ("mean_squared_error", lambda p, t: F.mse_loss(p, t, reduction="none").mean(-1)),
    ("mean_absolute_error", lambda p, t: F.l1_loss(p, t, reduction="none").mean(-1)),
    ("huber", lambda p, t: F.huber_loss(p, t, reduction="none", delta=1.0).mean(-1)),
])
def test_regression_losses_match_torch(backend, name, torch_fn):
    pred = (RNG.standard_normal((6, 4)) * 2).astype("float32")
    x, tx = _leaf(pred, backend), _th(pred)
    got = getattr(losses, name)(ndgrad.tensor(TARGETS, device=backend), x)
    _compare(got, torch_fn(tx, torch.from_numpy(TARGETS)), x, tx)


def test_huber_delta(backend):
    pred = (RNG.standard_normal((5, 3)) * 3).astype("float32")
    x, tx = _leaf(pred, backend), _th(pred)
    got = losses.huber(TARGETS[:5, :3], x, delta=0.5)
    want = F.huber_loss(tx, torch.from_numpy(TARGETS[:5, :3]), reduction="none",
                        delta=0.5).mean(-1)
    _compare(got, want, x, tx)


@pytest.mark.parametrize("name", ["binary_crossentropy", "mean_squared_error",
                                  "mean_absolute_error", "huber"])
def test_targets_without_the_last_axis_are_not_broadcast(backend, name):
    """Keras matches ranks: targets (N,) for predictions (N, 1) mean (N, 1), never (N, N)."""
    pred = ndgrad.tensor([[0.9], [0.2], [0.6]], device=backend)
    fn = getattr(losses, name)
    want = fn(ndgrad.tensor([[1.0], [0.0], [0.0]], device=backend), pred).numpy()
    assert want.shape == (3,)
    np.testing.assert_allclose(fn(np.array([1.0, 0.0, 0.0], "float32"), pred).numpy(), want)
    np.testing.assert_allclose(
        fn(ndgrad.tensor([[1.0], [0.0], [0.0]], device=backend), pred[:, 0]).numpy(),
        want.mean(), rtol=1e-6)


def test_mse_and_mae_aliases():
    assert losses.mse is losses.mean_squared_error
    assert losses.mae is losses.mean_absolute_error


# -- stability -------------------------------------------------------------------------------

HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [3.0, 0.0, -1e4]], dtype="float32")


@pytest.mark.parametrize("case", ["sparse_logits", "sparse_softmax", "categorical_logits",
                                  "categorical_softmax", "binary_logits", "binary_sigmoid"])
def test_huge_logits_give_finite_loss_and_gradient(backend, case):
    x = _leaf(HUGE, backend)
    labels, onehot = np.array([1, 1, 2]), np.eye(3, dtype="float32")[[1, 1, 2]]
    if case.startswith("sparse"):
        pred = x if case.endswith("logits") else ndgrad.softmax(x, -1)
        loss = losses.sparse_categorical_crossentropy(labels, pred,
                                                      from_logits=case.endswith("logits"))
        want = F.cross_entropy(torch.from_numpy(HUGE), torch.from_numpy(labels), reduction="none")
    elif case.startswith("categorical"):
        pred = x if case.endswith("logits") else ndgrad.softmax(x, -1)
        loss = losses.categorical_crossentropy(onehot, pred, from_logits=case.endswith("logits"))
        want = F.cross_entropy(torch.from_numpy(HUGE), torch.from_numpy(onehot),
                               reduction="none")
    else:
        pred = x if case.endswith("logits") else ndgrad.sigmoid(x)
        loss = losses.binary_crossentropy(onehot, pred, from_logits=case.endswith("logits"))
        want = F.binary_cross_entropy_with_logits(torch.from_numpy(HUGE),
                                                  torch.from_numpy(onehot),
                                                  reduction="none").mean(-1)
    loss.mean().backward()
    assert np.isfinite(loss.numpy()).all(), loss.numpy()
    assert np.isfinite(x.grad.numpy()).all(), x.grad.numpy()
    np.testing.assert_allclose(loss.numpy(), want.numpy(), rtol=1e-5)


def test_saturated_probabilities_are_clipped_not_infinite(backend):
    p = ndgrad.tensor([[1.0, 0.0], [0.0, 1.0]], device=backend, requires_grad=True)
    loss = losses.sparse_categorical_crossentropy([1, 1], p)
    loss.sum().backward()
    assert np.isfinite(loss.numpy()).all() and np.isfinite(p.grad.numpy()).all()
    np.testing.assert_allclose(loss.numpy(), [-np.log(1e-7), 0.0], atol=1e-6, rtol=1e-5)


# -- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["logits", "softmax", "probabilities"])
def test_out_of_range_labels_raise_naming_them(backend, how):
    x = ndgrad.tensor(LOGITS, device=backend, requires_grad=True)
    pred = {"logits": x, "softmax": ndgrad.softmax(x, -1),
            "probabilities": ndgrad.softmax(x, -1).detach()}[how]
    for bad, named in (([0, 1, 4, 2, 9, 0], "[4, 9]"), ([0, -1, 1, 2, 3, 0], "[-1]")):
        with pytest.raises(ValueError, match="out-of-range") as info:
            losses.sparse_categorical_crossentropy(bad, pred, from_logits=how == "logits")
        assert named in str(info.value) and "[0, 4)" in str(info.value)


@pytest.mark.parametrize("how", ["logits", "softmax", "probabilities"])
def test_each_route_checks_labels_with_one_read_and_one_message(how):
    """Whether the loss takes the fused route or the probabilities' one, its labels are
    checked by `ops.fused.check_labels`: min and max in one transfer (one wait on a GPU)."""
    from .backends.test_device_context import HostSyncs

    dev = HostSyncs()
    x = ndgrad.tensor(LOGITS, device=dev)
    pred = {"logits": x, "softmax": ndgrad.softmax(x, -1),
            "probabilities": ndgrad.softmax(x, -1).detach()}[how]
    loss = losses.sparse_categorical_crossentropy(
        ndgrad.tensor(LABELS, device=dev), pred, from_logits=how == "logits")
    assert dev.transfers == 1 and loss.shape == (6,)
    with pytest.raises(ValueError) as info:
        losses.sparse_categorical_crossentropy(
            ndgrad.tensor([0, 1, 4, 2, 9, 0], device=dev), pred, from_logits=how == "logits")
    assert str(info.value) == ("sparse_categorical_crossentropy: labels must be in [0, 4) for 4 "
                               "classes. Received out-of-range labels [4, 9]")


@pytest.mark.parametrize("how", ["logits", "softmax", "probabilities"])
def test_each_route_refuses_float_labels_that_are_no_class(how):
    """Float labels are checked as given on every route, not truncated first: 2.9 and -0.5
    are no classes 2 and 0, NaN no class at all; whole floats are classes."""
    x = ndgrad.tensor(LOGITS)
    pred = {"logits": x, "softmax": ndgrad.softmax(x, -1),
            "probabilities": ndgrad.softmax(x, -1).detach()}[how]
    whole = losses.sparse_categorical_crossentropy(
        np.asarray(LABELS, dtype="float32"), pred, from_logits=how == "logits")
    assert np.allclose(whole.numpy(), losses.sparse_categorical_crossentropy(
        LABELS, pred, from_logits=how == "logits").numpy())
    bad = np.array([0, 1, 2.9, -0.5, np.nan, 0], dtype="float32")
    with pytest.raises(ValueError) as info:
        losses.sparse_categorical_crossentropy(bad, pred, from_logits=how == "logits")
    assert str(info.value).endswith("Received invalid labels [-0.5, 2.9, nan]")


def test_shape_mismatches_raise_shape_errors():
    x = ndgrad.randn(6, 4)
    with pytest.raises(ndgrad.ShapeError, match=r"\(5,\).*\(6, 4\)"):
        losses.sparse_categorical_crossentropy(LABELS[:5], x)
    with pytest.raises(ndgrad.ShapeError, match=r"\(6, 3\).*\(6, 4\)"):
        losses.categorical_crossentropy(np.zeros((6, 3), "float32"), x)
    with pytest.raises(ndgrad.ShapeError, match=r"\(6, 3\)"):
        losses.binary_crossentropy(np.zeros((6, 3), "float32"), x)
    with pytest.raises(ndgrad.ShapeError):
        losses.mean_squared_error(np.zeros((5, 4), "float32"), x)


# -- Loss objects and lookup -----------------------------------------------------------------

def test_loss_objects_average_over_the_batch(backend):
    x = ndgrad.tensor(LOGITS, device=backend)
    per = losses.sparse_categorical_crossentropy(LABELS, x, from_logits=True)
    obj = losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(obj(LABELS, x).item(), per.numpy().mean(), rtol=1e-6)
    w = np.array([1, 0, 2, 0, 1, 1], dtype="float32")
    np.testing.assert_allclose(obj(LABELS, x, sample_weight=w).item(),
                               (per.numpy() * w).mean(), rtol=1e-6)
    assert obj.name == "sparse_categorical_crossentropy"
    assert obj.get_config() == {"name": "sparse_categorical_crossentropy", "from_logits": True}
    assert losses.Huber(delta=2.0).get_config()["delta"] == 2.0


@pytest.mark.parametrize("name, cls", [
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError),
    ("mean_absolute_error", losses.MeanAbsoluteError),
    ("huber", losses.Huber),
    ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
    ("MeanSquaredError", losses.MeanSquaredError),
])
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_passes_objects_and_functions_through():
    obj = losses.Huber()
    assert losses.get(obj) is obj
    assert losses.get(losses.mse) is losses.mse
    assert type(losses.get(losses.BinaryCrossentropy)) is losses.BinaryCrossentropy


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'cross_entropy'") as info:
        losses.get("cross_entropy")
    for name in ("sparse_categorical_crossentropy", "binary_crossentropy", "mse", "huber"):
        assert name in str(info.value)


def test_softmax_over_another_axis_is_not_mistaken_for_logits(backend):
    """Only a softmax over the class axis (-1) is traced back to its logits."""
    x = ndgrad.tensor(LOGITS, device=backend)
    p = ndgrad.softmax(x, 0)
    got = losses.sparse_categorical_crossentropy(LABELS, p)
    want = -np.log(np.clip(p.numpy()[np.arange(6), LABELS], 1e-7, 1 - 1e-7))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_softmax_outputs_use_their_logits_under_no_grad_too() -> None:
    """evaluate/validation (no graph) must compute the same stable loss as training."""
    logits = ndgrad.tensor([[100.0, 0.0]])
    with ndgrad.no_grad():
        probs = ndgrad.softmax(logits)
        loss = ndgrad.losses.sparse_categorical_crossentropy(ndgrad.tensor([1]), probs)
    assert loss.item() == pytest.approx(100.0)  # not the clipped-probability 16.1
    with ndgrad.no_grad():
        p = ndgrad.sigmoid(ndgrad.tensor([[-50.0]]))
        bce = ndgrad.losses.binary_crossentropy(ndgrad.tensor([[1.0]]), p)
    assert bce.item() == pytest.approx(50.0)
