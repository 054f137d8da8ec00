"""Regenerate the bundled sample images from scikit-image's offline data (run once; the PNGs are committed)."""

from pathlib import Path

import numpy as np
from skimage import color, data, io, transform

HERE = Path(__file__).parent


def _save(name, image, size=256):
    image = color.rgb2gray(image) if image.ndim == 3 else image.astype(np.float64)
    image = (image - image.min()) / (image.max() - image.min())
    side = min(image.shape)
    image = image[:side, :side]
    image = transform.resize(image, (size, size), anti_aliasing=True)
    io.imsave(HERE / f"{name}.png", (image * 255).round().astype(np.uint8), check_contrast=False)


if __name__ == "__main__":
    _save("camera", data.camera())
    _save("shepp_logan", data.shepp_logan_phantom())
    for texture in ("brick", "grass", "gravel"):
        _save(texture, getattr(data, texture)())
