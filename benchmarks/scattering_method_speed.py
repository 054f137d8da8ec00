"""Time of ``method='scattering'`` (TV, the estimate, then the L-BFGS solve of the scattering objective) against TV
alone, in the same run, for issue 14's cases and targets:

- super-resolution x4 of the 256x256 camera (target: scattering under 10 s on the 2-core CPU);
- CT, 30 views over 180 degrees, of the 128x128 camera (target: under 5 s);
- with ``--photo``: scikit-image's 400x600 RGB coffee, x4, as ``invscat superres coffee.png --simulate`` runs it
  (targets: scattering under 60 s, TV under 15 s), with the peak memory of each (a child process per method).

Each timing is the best of ``--repeats`` runs, TV and scattering alternated.

    python benchmarks/scattering_method_speed.py [--repeats 3] [--photo] [--device cpu cuda]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from invscat import data, metrics
from invscat.tasks import SuperResolution, Tomography

TARGETS = {"superres x4 256x256": 10.0, "CT 30 views 128x128": 5.0}


def timed(function):
    start = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def case(name: str):
    """(task, truth) of a named case."""
    if name.startswith("superres"):
        return SuperResolution(4), data.load_sample("camera", 256)
    return Tomography(views=30), data.load_sample("camera", 128)


def photo(method: str) -> tuple[float, float, float]:
    """(seconds, peak MB, PSNR) of the coffee photo by ``method``, in this process (run as a child)."""
    from skimage import data as images

    truth = images.coffee().astype(np.float32) / 255
    task = SuperResolution(4)
    start = time.perf_counter()
    run = task.run(truth, method, simulate=True, channel_axis=-1)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, metrics.psnr(run.result.image, run.truth)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photo", action="store_true", help="also the 400x600 RGB coffee photo (minutes)")
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(*photo(args.child))
        return
    name = lambda d: torch.cuda.get_device_name() if d == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# torch {torch.__version__}")
    print("| case | device | TV | scattering (incl. TV) | ratio | target | PSNR TV | PSNR scattering |")
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for label, target in TARGETS.items():
        task, truth = case(label)
        _, y = task.simulate(truth, 0)
        for device in args.device:
            options = dict(device=torch.device(device))
            task.reconstruct(y, "scattering", iters=2, **options)  # warm-up: filters, caches, the estimator
            best, psnr = {"tv": np.inf, "scattering": np.inf}, {}
            for _ in range(args.repeats):
                for method in best:
                    result, seconds = timed(lambda: task.reconstruct(y, method, **options))
                    best[method] = min(best[method], seconds)
                    psnr[method] = metrics.psnr(result.image, truth)
            verdict = "met" if best["scattering"] < target else "not met"
            print(f"| {label} | {name(device)} | {best['tv']:.2f} s | {best['scattering']:.2f} s | "
                  f"{best['scattering'] / best['tv']:.1f}x | < {target:g} s ({verdict}) | {psnr['tv']:.2f} | "
                  f"{psnr['scattering']:.2f} |", flush=True)
    if args.photo:
        print("\n| coffee 400x600 RGB x4 (CPU) | seconds | peak memory | PSNR | target |")
        print("|---|---:|---:|---:|---|")
        for method, target in (("tv", 15.0), ("scattering", 60.0)):
            output = subprocess.run([sys.executable, __file__, "--child", method], capture_output=True, text=True,
                                    check=True).stdout.split()
            seconds, memory, psnr = (float(v) for v in output)
            verdict = "met" if seconds < target else "not met"
            print(f"| {method} | {seconds:.1f} s | {memory:.0f} MB | {psnr:.2f} | < {target:g} s ({verdict}) |",
                  flush=True)


if __name__ == "__main__":
    main()
