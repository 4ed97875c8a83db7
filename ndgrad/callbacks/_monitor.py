"""Helpers for callbacks that watch one logged quantity (`monitor`) for improvement."""

import warnings

# In "auto" mode these name parts mean higher is better; anything else is minimised.
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "fmeasure")


def resolve_mode(monitor, mode, owner):
    """'min' or 'max' for `monitor`: `mode` itself, or in "auto" mode guessed from the name.

    Names with "loss" or "error" are minimised; names with a part of `_HIGHER_IS_BETTER`
    (accuracy, auc, precision, ...) are maximised; any other name is minimised, so pass
    `mode="max"` for a custom metric where higher is better.
    """
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode!r} is unknown, using 'auto'", stacklevel=3)
        mode = "auto"
    if mode != "auto":
        return mode
    if "loss" in monitor or "error" in monitor:
        return "min"
    return "max" if any(part in monitor for part in _HIGHER_IS_BETTER) else "min"


def worst(mode):
    """The starting 'best' value, which any finite value improves on."""
    return float("inf") if mode == "min" else float("-inf")


def improved(current, reference, mode, min_delta=0.0):
    """Whether `current` beats `reference` by more than `min_delta` (NaN never does)."""
    if mode == "min":
        return current < reference - min_delta
    return current > reference + min_delta


def warn_missing(owner, monitor, logs, consequence):
    available = ", ".join(logs or {}) or "none"
    warnings.warn(
        f"{owner} monitors {monitor!r}, which is not in the logs ({consequence}); "
        f"available keys: {available}",
        stacklevel=2,
    )
