"""Time of ``method='scattering'`` (TV, the estimate, then 100 L-BFGS iterations on the scattering objective)
against its own TV start, for super-resolution x4 at 256x256, on CPU and, when present, CUDA.

    python benchmarks/scattering_method_speed.py [--size 256] [--device cpu cuda]
"""

from __future__ import annotations

import argparse
import time

import torch

from invscat import data, metrics
from invscat import reconstruct as R


def timed(function):
    start = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    args = parser.parse_args()
    truth = data.load_sample("camera", args.size)
    _, low = R.simulate_superres(truth, 4)
    name = lambda d: torch.cuda.get_device_name() if d == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# superres x4 of camera at {args.size}x{args.size}, torch {torch.__version__}")
    print("| device | TV | scattering (incl. TV) | ratio | PSNR TV | PSNR scattering |")
    print("|---|---:|---:|---:|---:|---:|")
    for device in args.device:
        R.superres(low, 4, "scattering", iters=2, device=torch.device(device))  # warm-up: filters, caches
        tv, t_tv = timed(lambda: R.superres(low, 4, "tv", device=torch.device(device)))
        sc, t_sc = timed(lambda: R.superres(low, 4, "scattering", device=torch.device(device)))
        print(f"| {name(device)} | {t_tv:.1f} s | {t_sc:.1f} s | {t_sc / t_tv:.1f}x | "
              f"{metrics.psnr(tv.image, truth):.2f} | {metrics.psnr(sc.image, truth):.2f} |", flush=True)


if __name__ == "__main__":
    main()
