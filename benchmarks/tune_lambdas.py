"""Choose the default regularisation weights of invscat.reconstruct on the TRAINING images only.

For each task (super-resolution x4 at 256x256; 30-view parallel CT at 128x128; noise 0.01) and each regularised
method, run a grid of lam on the first training images and print the mean PSNR per lam; the best goes into
invscat.reconstruct.DEFAULT_LAMBDA.

    python benchmarks/tune_lambdas.py [--images 4]
"""

from __future__ import annotations

import argparse

import numpy as np

from invscat import data, metrics
from invscat import reconstruct as R

GRID = np.logspace(-5, -1, 9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="how many training images to tune on")
    args = parser.parse_args()
    tasks = {
        "superres": (data.training_set((256, 256), args.images),
                     lambda x, k: R.simulate_superres(x, 4, seed=k),
                     lambda A, y, m, lam: R.superres(y, 4, m, lam=lam)),
        "tomo": (data.training_set((128, 128), args.images, phantoms=2),
                 lambda x, k: R.simulate_tomo(x, 30, seed=k),
                 lambda A, y, m, lam: R.tomo(y, A, m, lam=lam)),
    }
    print("| task | method | " + " | ".join(f"{lam:.0e}" for lam in GRID) + " | best |")
    print("|" + "---|" * (len(GRID) + 3))
    for task, (images, simulate, solve) in tasks.items():
        problems = [simulate(x, k) for k, x in enumerate(images)]
        for method in ("tikhonov", "tv", "l1"):
            scores = [np.mean([metrics.psnr(solve(A, y, method, lam).image, x) for x, (A, y) in zip(images, problems)])
                      for lam in GRID]
            best = GRID[int(np.argmax(scores))]
            print(f"| {task} | {method} | " + " | ".join(f"{s:.2f}" for s in scores) + f" | {best:.0e} |", flush=True)


if __name__ == "__main__":
    main()
