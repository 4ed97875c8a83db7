"""Broadcasting: scale each colour channel of an image (256, 256, 3) by a vector (3,).

Shapes are compared right to left: (256, 256, 3) and (3,) agree on the last axis, and the
vector is reused for every pixel. Run: python examples/rgb_scaling.py
"""

from __future__ import annotations

import textwrap

import ndgrad


def main() -> ndgrad.Tensor:
    ndgrad.manual_seed(0)
    image = ndgrad.rand(256, 256, 3)  # height, width, channels
    weights = ndgrad.tensor([0.299, 0.587, 0.114])  # how bright each channel looks
    scaled = image * weights  # (256, 256, 3) * (3,) -> (256, 256, 3)
    gray = scaled.sum(axis=-1)  # (256, 256): a grayscale image
    print("image", image.shape, "* weights", weights.shape, "->", scaled.shape)
    print("grayscale", gray.shape, f"mean brightness {gray.mean().item():.3f}")
    try:
        image * ndgrad.ones(4)
    except ndgrad.ShapeError as e:
        print("a (4,) vector does not fit:")
        print(textwrap.indent(str(e), "    "))
    return gray


if __name__ == "__main__":
    main()
