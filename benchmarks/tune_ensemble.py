"""Choose the CT ensembles' share and prior weight on VALIDATION images, and build the shipped ensemble files.

The ensemble (:class:`invscat.estimators.EnsembleEstimator`) averages the shipped 30-view ridge and the shipped
parallel-beam convolutional network (``tomo_parallel_any_cnn.pt``). For each case (30 views at 128x128, the
exact setting; 45 views at 128x128 and 30 views at 256x256, served by the family) and each network share and
weight of the scattering prior (lam, relative to ||A||^2), the mean PSNR gain of ``method='scattering'`` over TV
on the validation images: three training photographs, scikit-image's ``cell`` (in no image set) and one image of
each procedural generator with a seed never used in training (30000+). A share of 0 is the ridge alone, 1 the
network alone. The test images (data.TEST_IMAGES) never enter.

With --store, the ensembles with the chosen share and lam are written to invscat/estimators/pretrained: the exact
30-view setting's (``..._ensemble.pt``, lam chosen on the 30-view case) and the family's
(``tomo_parallel_any_ensemble.pt``, lam chosen on the family's two cases together).

    python benchmarks/tune_ensemble.py [--cases ct30 ct45 ct256] [--shares 0 0.3 0.5 0.7 1] [--lams 1e-4 2e-4 3e-4]
                                       [--tv-weights 1e-3 5e-4] [--iters 40 100]
                                       [--network CANDIDATE.pt]
                                       [--store --share 0.7 --lam 2e-4 --family-lam 2e-4]
"""

from __future__ import annotations

import argparse

import functools
import itertools

import numpy as np

from invscat import data, metrics
from invscat.estimators import EnsembleEstimator, ScatteringEstimator, pretrained
from invscat.tasks import Tomography

CASES = {"ct30": (Tomography(views=30, size=128), 128), "ct45": (Tomography(views=45, size=128), 128),
         "ct256": (Tomography(views=30, size=256), 256)}
VALIDATION_PHOTOS = ("astronaut", "coffee", "chelsea", "cell")


def validation_images(size: int) -> dict:
    """The validation images at ``size``: photographs (never the test images) and unseen procedural images."""
    images = {name: data.load_sample(name, size) for name in VALIDATION_PHOTOS}
    for k, (name, make) in enumerate(data.GENERATORS.items()):
        images[f"{name}#{30000 + k}"] = make(size, seed=30000 + k)
    assert not set(images) & set(data.TEST_IMAGES)
    return images


NETWORK = pretrained.DIRECTORY / "tomo_parallel_any_cnn.pt"


@functools.lru_cache(maxsize=1)
def members(network: str = str(NETWORK)) -> tuple[ScatteringEstimator, ScatteringEstimator]:
    """The shipped 30-view ridge and a parallel-beam network (the shipped one by default)."""
    ridge = ScatteringEstimator.load(pretrained.DIRECTORY / Tomography(views=30, size=128).estimator_filename())
    return ridge, ScatteringEstimator.load(network)


def ensemble(share: float, lam: float, metadata: dict, network: str = str(NETWORK),
             tv_weight: float | None = None) -> EnsembleEstimator:
    ridge, network = members(network)
    combined = EnsembleEstimator([ridge, network], [1 - share, share], metadata=metadata)
    combined.lam, combined.tv_weight = lam, tv_weight
    return combined


def gains(case: str, shares, lams, network: str = str(NETWORK), tv_weights=(None,), iters=(None,)) -> dict:
    """{(share, lam, tv_weight, iters): [PSNR gain over TV per validation image]}, printed image by image.

    A tv_weight of None is TV's own weight (the task's default) in the joint objective, iters None the task's
    L-BFGS iterations."""
    task, size = CASES[case]
    family = {**task.family_metadata(), "family": True}
    rows = {}
    for name, truth in validation_images(size).items():
        _, y = task.simulate(truth, 0)
        tv = metrics.psnr(task.reconstruct(y, "tv").image, truth)
        for key in itertools.product(shares, lams, tv_weights, iters):
            image = task.reconstruct(y, "scattering", estimator=ensemble(*key[:2], family, network, key[2]),
                                     iters=key[3]).image
            rows.setdefault(key, []).append(metrics.psnr(image, truth) - tv)
        print(f"{case} {name}: TV {tv:.2f}; " + ", ".join(f"{'/'.join(f'{k:g}' for k in key if k is not None)} "
                                                          f"{v[-1]:+.2f}" for key, v in rows.items()), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.7, 1.0])
    parser.add_argument("--lams", type=float, nargs="+", default=[1e-4, 2e-4, 3e-4])
    parser.add_argument("--tv-weights", type=float, nargs="+", default=[None],
                        help="TV's weights in the joint objective (default: the task's own TV weight)")
    parser.add_argument("--iters", type=int, nargs="+", default=[None],
                        help="L-BFGS iterations of the joint solve (default: the task's own)")
    parser.add_argument("--network", default=str(NETWORK), help="the network to measure (default: the shipped one)")
    parser.add_argument("--store", action="store_true", help="only write the shipped ensembles (no measurement)")
    parser.add_argument("--share", type=float, default=0.7, help="with --store: the network's share")
    parser.add_argument("--lam", type=float, default=2e-4, help="with --store: the 30-view ensemble's lam")
    parser.add_argument("--family-lam", type=float, default=2e-4, help="with --store: the family ensemble's lam")
    args = parser.parse_args()
    if args.store:
        exact = Tomography(views=30, size=128)
        ensemble(args.share, args.lam, members()[0].metadata).save(
            pretrained.DIRECTORY / exact.estimator_filename().replace(".pt", "_ensemble.pt"))
        ensemble(args.share, args.family_lam, members()[1].metadata).save(
            pretrained.DIRECTORY / "tomo_parallel_any_ensemble.pt")
        return
    tables = {case: gains(case, args.shares, args.lams, args.network, args.tv_weights, args.iters)
              for case in args.cases}
    print("\n| network share | lam | TV weight | iterations | " + " | ".join(args.cases) + " |")
    print("|---|---|---|---|" + "---:|" * len(args.cases))
    for key in itertools.product(args.shares, args.lams, args.tv_weights, args.iters):
        print(f"| {key[0]:g} | {key[1]:g} | {'task' if key[2] is None else f'{key[2]:g}'} | "
              f"{'task' if key[3] is None else key[3]} | "
              + " | ".join(f"{np.mean(tables[c][key]):+.3f}" for c in args.cases) + " |")


if __name__ == "__main__":
    main()
