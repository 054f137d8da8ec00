"""Sparse-view and limited-angle CT with the FBP, SIRT and CGLS baselines on the Shepp–Logan phantom
=================================================================================================

    .venv/bin/python examples/sparse_view_fbp.py [-o results/sparse_view_fbp.png]

Prints the PSNR of each reconstruction and saves a panel of them.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from invscat import data  # noqa: E402
from invscat.noise import gaussian_noise  # noqa: E402
from invscat.operators import limited_angle, sparse_view  # noqa: E402
from invscat.solvers import cgls, fbp, sirt  # noqa: E402


def psnr(reference, estimate):
    return 10 * np.log10(1.0 / np.mean((reference - np.clip(estimate, 0, 1)) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="results/sparse_view_fbp.png")
    args = parser.parse_args()
    x = data.shepp_logan(128)
    problems = {"30 views / 180°": sparse_view(x.shape, 30), "90 views / 120°": limited_angle(x.shape, 90, 120)}
    fig, axes = plt.subplots(len(problems), 4, figsize=(12, 6.4), layout="constrained")
    for row, (name, radon) in zip(axes, problems.items()):
        y = gaussian_noise(radon(x), 0.01, seed=0)
        results = {"ground truth": x, "FBP (hann)": fbp(radon, y, "hann"),
                   "SIRT (x >= 0)": sirt(radon, y, 200, nonnegative=True), "CGLS (20 it.)": cgls(radon, y, 20)}
        for ax, (method, image) in zip(row, results.items()):
            label = method if method == "ground truth" else f"{method}: {psnr(x, image):.1f} dB"
            if method != "ground truth":
                print(f"{name:>16}  {method:<14} PSNR {psnr(x, image):5.2f} dB")
            ax.imshow(np.clip(image, 0, 1), cmap="gray")
            ax.set_title(f"{name}\n{label}" if method == "ground truth" else label, fontsize=9)
            ax.axis("off")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=80)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
