"""Speed of the classical path (what a newcomer meets first), against other libraries where they solve the same problem.

1. The TV proximal step, min_x 0.5 ||x - f||^2 + w TV(x) on a noisy 512x512 image: invscat's PDHG
   (``pdhg(Identity, f, TotalVariation(), w)``) against scikit-image's ``denoise_tv_chambolle`` (Chambolle 2004) and,
   when installed (``pip install odl``), ODL's ``pdhg``: the time each needs to bring the objective within 0.1% of the
   optimum (found by a long invscat run), best of --repeats, alternating.
2. End to end, as ``invscat tomo --simulate --views 60 --method tv`` and ``invscat superres --simulate --method tv`` run
   them (operator set-up and norm included): 256x256 CT from 60 parallel views, and a 512x512 RGB photo super-resolved
   x4 (targets: under 10 s and under 15 s on the 2-core CPU). Training images only.

    python benchmarks/classical_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from invscat import data, metrics
from invscat.operators import Identity
from invscat.regularizers import TotalVariation
from invscat.regularizers.tv import gradient
from invscat.solvers import pdhg
from invscat.tasks import SuperResolution, Tomography
from invscat.tasks.base import _cached_operator

WEIGHT = 0.08
WITHIN = 1e-3


def objective(x, f) -> float:
    x, f = torch.as_tensor(np.asarray(x, np.float64)), torch.as_tensor(np.asarray(f, np.float64))
    g = gradient(x)
    return float(0.5 * ((x - f) ** 2).sum() + WEIGHT * torch.sqrt((g * g).sum(-3)).sum())


def time_to_optimum(solve, f, optimum: float, repeats: int) -> tuple[float, int]:
    """Fewest iterations (doubling from 10) whose objective is within WITHIN of the optimum, and the best time."""
    iters = 10
    while objective(solve(iters), f) > optimum * (1 + WITHIN):
        iters *= 2
        if iters > 20000:
            return float("nan"), iters
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        solve(iters)
        best = min(best, time.perf_counter() - start)
    return best, iters


def tv_prox(repeats: int) -> None:
    clean = data.load_sample("astronaut", 512)
    f = (clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape)).astype(np.float32)
    identity = Identity(f.shape)
    optimum = objective(pdhg(identity, f, TotalVariation(), WEIGHT, iters=3000, tol=0).image, f)

    def ours(iters):
        return pdhg(identity, f, TotalVariation(), WEIGHT, iters=iters, tol=0, balance=1.0).image

    from skimage.restoration import denoise_tv_chambolle

    def theirs(iters):
        return denoise_tv_chambolle(f, weight=WEIGHT, eps=0, max_num_iter=iters)

    solvers = {"invscat pdhg": ours, "scikit-image denoise_tv_chambolle": theirs}
    try:
        solvers["ODL pdhg"] = odl_tv_prox(f)
    except ImportError:
        print("(ODL not installed: pip install odl to add its pdhg)")
    print(f"TV proximal step, 512x512, weight {WEIGHT}: time to reach the optimum's objective within {WITHIN:.1%}")
    print("| solver | iterations | time (s) | vs invscat |")
    print("|---|---|---|---|")
    times = {name: time_to_optimum(solve, f, optimum, repeats) for name, solve in solvers.items()}
    for name, (seconds, iters) in times.items():
        print(f"| {name} | {iters} | {seconds:.2f} | {seconds / times['invscat pdhg'][0]:.2f}x |")


def odl_tv_prox(f):
    import odl

    space = odl.uniform_discr([0, 0], f.shape, f.shape, dtype="float32")
    grad = odl.Gradient(space, pad_mode="symmetric")
    op = odl.BroadcastOperator(odl.IdentityOperator(space), grad)
    data_term = 0.5 * odl.functionals.L2NormSquared(space).translated(space.element(f))  # 0.5 F, not F(0.5 x)
    functional = odl.functionals.SeparableSum(data_term, WEIGHT * odl.functionals.GroupL1Norm(grad.range))
    norm = 1.01 * np.sqrt(1 + 8)
    step = 1.0 / norm

    def solve(iters):
        x = space.zero()
        odl.solvers.pdhg(x, odl.functionals.ZeroFunctional(space), functional, op, iters, step, step)
        return np.asarray(x.data)

    return solve


def end_to_end() -> None:
    print("\nEnd to end (operator set-up and norm, TV with the task's defaults), training images:")
    print("| problem | iterations | time (s) | target (s) | PSNR (dB) |")
    print("|---|---|---|---|---|")
    ct_truth = data.load_sample("astronaut", 256)
    sr_truth = colour_photo("coffee", 512)
    for name, task, truth, target in (("CT 256x256, 60 views", Tomography(60), ct_truth, 10),
                                      ("super-resolution x4, 512x512 RGB", SuperResolution(4), sr_truth, 15)):
        _cached_operator.cache_clear()  # operator set-up and norm counted, as in a fresh command
        start = time.perf_counter()
        _, y = task.simulate(truth, 0)
        result = task.reconstruct(y, "tv", channel_axis=0 if y.ndim == 3 else None)  # colour as the CLI: auto
        seconds = time.perf_counter() - start
        print(f"| {name} | {result.iterations} | {seconds:.1f} | {target} | {metrics.psnr(result.image, truth):.2f} |")


def colour_photo(name: str, side: int) -> np.ndarray:
    """A scikit-image photo, centre-cropped square and resized to side x side, channels first, in [0, 1]."""
    import skimage.data
    from skimage.transform import resize

    image = getattr(skimage.data, name)()
    crop = min(image.shape[:2])
    top, left = (image.shape[0] - crop) // 2, (image.shape[1] - crop) // 2
    square = image[top:top + crop, left:left + crop] / 255.0
    return np.moveaxis(resize(square, (side, side), anti_aliasing=True), -1, 0).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    tv_prox(args.repeats)
    end_to_end()


if __name__ == "__main__":
    main()
