"""Choose the default regularisation weights of the tasks (invscat.tasks) on the TRAINING images only.

For each task (super-resolution x4 at 256x256; 30-view parallel CT at 128x128; deblurring of a Gaussian blur of
sigma 2 at 256x256; noise 0.01) and each regularised method, run a grid of lam (relative to ||A||^2) on the first
training images and print the mean PSNR per lam; the best goes into the task class's ``relative_lam``.

With --scattering, tune the weight of the scattering prior instead (the TV weight stays the TV default), for
super-resolution x4, for CT with 30 views and with 90 views over 120 degrees, and for deblurring (sigma 2), with
the shipped estimators.
Those were fitted on crops of the same training images, which flatters the estimate; the test images never enter.

--tv-scales also tries multiples of TV's weight in the joint objective. With --store, the best pair is written
into its shipped estimator (ScatteringEstimator.lam, .tv_weight), which method='scattering' uses when no
weight is given.

--workers N (a local Dask cluster) or --scheduler ADDRESS spreads the reconstructions over Dask workers; the
table is the serial one.

    python benchmarks/tune_lambdas.py [--images 4] [--only TEXT] [--scattering [--tv-scales 1 0.5] [--store]]
                                      [--workers N | --scheduler ADDRESS]
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np

from invscat import data, metrics
from invscat.estimators import pretrained
from invscat.stacks import dask_client
from invscat.tasks import Deblurring, SuperResolution, Tomography

GRID = np.logspace(-5, -1, 9)
SCATTERING_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="how many training images to tune on")
    parser.add_argument("--scattering", action="store_true", help="tune the scattering prior's weight")
    parser.add_argument("--only", help="only the tasks whose name contains this text")
    parser.add_argument("--store", action="store_true", help="with --scattering: save each best weight in its "
                        "shipped estimator")
    parser.add_argument("--tv-scales", type=float, nargs="+", default=[1.0],
                        help="with --scattering: multiples of TV's default weight tried in the joint objective")
    parser.add_argument("--workers", type=int, help="worker processes of a local Dask cluster")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        global CLIENT
        if args.workers or args.scheduler:
            CLIENT = stack.enter_context(dask_client(args.workers, args.scheduler))[0]
        if args.scattering:
            return tune_scattering(args.images, args.only, args.store, args.tv_scales)
        tune_variational(args)


CLIENT = None  # a dask.distributed.Client when --workers or --scheduler is given


def mean_psnrs(task, images, problems, method, lams, **options) -> list[float]:
    """Mean PSNR over the images for each weight; every (image, weight) reconstruction is one job, on the Dask
    workers when there are some."""
    jobs = [(task, y, x, method, lam, options) for lam in lams for x, y in zip(images, problems)]
    if CLIENT is None:
        scores = [score(*job) for job in jobs]
    else:
        scores = CLIENT.gather([CLIENT.submit(score, *job, pure=False) for job in jobs])
    return list(np.asarray(scores).reshape(len(lams), len(images)).mean(axis=1))


def score(task, y, x, method, lam, options) -> float:
    return metrics.psnr(task.reconstruct(y, method, lam=lam, **options).image, x)


def tune_variational(args):
    tasks = {
        "superres": (SuperResolution(4), data.training_set((256, 256), args.images)),
        "tomo": (Tomography(30, size=128), data.training_set((128, 128), args.images, phantoms=2)),
        "deblur": (Deblurring(2.0), data.training_set((256, 256), args.images)),
    }
    print("| task | method | " + " | ".join(f"{lam:.0e}" for lam in GRID) + " | best |")
    print("|" + "---|" * (len(GRID) + 3))
    for name, (task, images) in tasks.items():
        if args.only and args.only not in name:
            continue
        problems = [task.simulate(x, k)[1] for k, x in enumerate(images)]
        for method in ("tikhonov", "tv", "l1"):
            scores = mean_psnrs(task, images, problems, method, GRID)
            best = GRID[int(np.argmax(scores))]
            print(f"| {name} | {method} | " + " | ".join(f"{s:.2f}" for s in scores) + f" | {best:.0e} |", flush=True)


def tune_scattering(count: int, only: str | None = None, store: bool = False, tv_scales=(1.0,)):
    ct_images = data.training_set((128, 128), count, phantoms=2)
    tasks = {
        "superres x4": (data.training_set((256, 256), count), SuperResolution(4)),
        "tomo 30 views": (ct_images, Tomography(30, size=128)),
        "tomo 90 views / 120 deg": (ct_images, Tomography(90, 120, size=128)),
        "deblur sigma 2": (data.training_set((256, 256), count), Deblurring(2.0)),
    }
    print("| task | TV weight | TV alone | " + " | ".join(f"{lam:.0e}" for lam in SCATTERING_GRID) + " |")
    print("|" + "---|" * (len(SCATTERING_GRID) + 3))
    for task, (images, spec) in tasks.items():
        if only and only not in task:
            continue
        problems = [spec.simulate(x, k)[1] for k, x in enumerate(images)]
        tv = mean_psnrs(spec, images, problems, "tv", [None])[0]
        estimator, best = pretrained.load(spec), (-np.inf, None, None)
        for scale in tv_scales:
            estimator.tv_weight = scale * spec.relative_lam["tv"]
            scores = mean_psnrs(spec, images, problems, "scattering", SCATTERING_GRID, estimator=estimator)
            best = max(best, (max(scores), SCATTERING_GRID[int(np.argmax(scores))], estimator.tv_weight))
            print(f"| {task} | {estimator.tv_weight:.1e} | {tv:.2f} | " + " | ".join(f"{s:.2f}" for s in scores)
                  + " |", flush=True)
        print(f"best for {task}: lam {best[1]:.0e}, TV weight {best[2]:.1e} ({best[0]:.2f} dB)")
        if store:
            estimator.lam, estimator.tv_weight = best[1], best[2]
            estimator.save(pretrained.DIRECTORY / pretrained.filename(spec))


if __name__ == "__main__":
    main()
