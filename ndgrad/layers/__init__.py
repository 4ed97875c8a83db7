"""Keras-style layers, channels-last. Subclass `Layer` for your own."""

from .conv import Conv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Rescaling, Reshape
from .layer import Layer
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from .preprocessing import Normalization

__all__ = [
    "Activation",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "Input",
    "InputLayer",
    "Layer",
    "MaxPooling2D",
    "Normalization",
    "Rescaling",
    "Reshape",
]
