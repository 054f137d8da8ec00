"""Colour: channel by channel, luminance + chroma (YCbCr), or vectorial TV, on the colour TRAINING images.

For super-resolution x4 and deblurring (sigma 2), TV at the task's weight, each colour mode on scikit-image's
colour photos among ``data.TRAINING_IMAGES`` (256x256 centre crops): mean PSNR over RGB, the PSNR of the chroma
planes (Cb, Cr: where coloured blotches show) and the time. The default of ``Task.reconstruct(colour=...)`` is chosen
from this table (never from the test images).

    python benchmarks/colour.py [--images astronaut coffee chelsea rocket retina] [--methods tv scattering]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from invscat import data, metrics
from invscat.tasks import Deblurring, SuperResolution
from invscat.tasks.base import COLOUR_MODES, YCBCR

COLOUR_TRAINING = ("astronaut", "coffee", "chelsea", "rocket", "retina")


def colour_photo(name: str, side: int = 256) -> np.ndarray:
    """A scikit-image photo, centre-cropped square and resized to side x side, (M, N, 3) in [0, 1]."""
    import skimage.data
    from skimage.transform import resize

    image = getattr(skimage.data, name)()[..., :3]
    crop = min(image.shape[:2])
    top, left = (image.shape[0] - crop) // 2, (image.shape[1] - crop) // 2
    return resize(image[top:top + crop, left:left + crop] / 255.0, (side, side), anti_aliasing=True).astype(np.float32)


def chroma_psnr(image, truth) -> float:
    """PSNR of the chroma planes (Cb, Cr) on the unit range of the RGB images."""
    planes = lambda rgb: np.tensordot(YCBCR[1:], np.moveaxis(rgb, -1, 0), axes=1)  # noqa: E731
    mse = np.mean((planes(image) - planes(truth)) ** 2)
    return float(10 * np.log10(1.0 / mse))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=list(COLOUR_TRAINING))
    parser.add_argument("--methods", nargs="+", default=["tv"])
    args = parser.parse_args()
    assert not set(args.images) & set(data.TEST_IMAGES), "tune on the training images only"
    print("| task | method | colour | mean PSNR (dB) | chroma PSNR (dB) | time (s) |")
    print("|---|---|---|---|---|---|")
    tasks = (("super-resolution x4", SuperResolution(4)), ("deblurring sigma 2", Deblurring(2.0)))
    for (name, task), method in ((t, m) for m in args.methods for t in tasks):
        for colour in (mode for mode in COLOUR_MODES if mode != "auto" and (mode != "vectorial" or method == "tv")):
            scores, chroma, seconds = [], [], []
            for k, image_name in enumerate(args.images):
                truth = colour_photo(image_name)
                _, y = task.simulate(np.moveaxis(truth, -1, 0), seed=k)
                start = time.perf_counter()
                image = task.reconstruct(np.moveaxis(y, 0, -1), method, channel_axis=-1, colour=colour).image
                seconds.append(time.perf_counter() - start)
                scores.append(metrics.psnr(image, truth))
                chroma.append(chroma_psnr(image, truth))
            print(f"| {name} | {method} | {colour} | {np.mean(scores):.2f} | {np.mean(chroma):.2f} | "
                  f"{np.mean(seconds):.1f} |", flush=True)


if __name__ == "__main__":
    main()
