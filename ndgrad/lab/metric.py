"""What the lab reads from a metric's name.

>>> lower_is_better("val_loss"), lower_is_better("val_accuracy"), test_metric("val_accuracy")
(True, False, 'accuracy')
"""

from __future__ import annotations


def lower_is_better(metric: str) -> bool:
    """Losses and errors fall as a model gets better; everything else rises."""
    return "loss" in metric or "error" in metric


def test_metric(metric: str) -> str:
    """The test split's name for a validation metric: ``val_accuracy`` -> ``accuracy``."""
    return metric[4:] if metric.startswith("val_") else metric
