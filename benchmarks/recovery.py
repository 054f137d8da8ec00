"""Bruna and Mallat's recovery claims: with 2^J = N, order 2 and periodic padding, a Dirac, a straight edge and a
sinusoid (64x64) are recovered from their scattering coefficients up to a translation.

Prints the relative coefficient error and the PSNR after alignment (best circular shift and half turn) of
invscat.invert (Adam, cosine-decayed step, white-noise starts, the best of --restarts kept) for each signal;
the target is >= 30 dB.

    python benchmarks/recovery.py [--iters 2000] [--restarts 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from invscat.synthesis import invert
from invscat.metrics import aligned_psnr
from invscat.scattering import Scattering2D


def signals(size: int = 64) -> dict:
    dirac = np.zeros((size, size), np.float32)
    dirac[20, 37] = 1
    edge = np.zeros((size, size), np.float32)
    edge[:, size // 2:] = 1
    rows, cols = np.mgrid[:size, :size]
    sinusoid = (0.5 + 0.5 * np.cos(2 * np.pi * (3 * cols + 5 * rows) / size)).astype(np.float32)
    return {"Dirac": dirac, "edge": edge, "sinusoid": sinusoid}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--restarts", type=int, default=8)
    args = parser.parse_args()
    S = Scattering2D(6, (64, 64), padding="periodic")
    print(f"# Recovery from S_J x, 64x64, J=6, L=8, order 2, periodic; Adam, {args.iters} iterations, best of "
          f"{args.restarts} starts")
    print("| signal | relative coefficient error | PSNR after alignment | time |")
    print("| --- | ---: | ---: | ---: |")
    for name, x in signals().items():
        start = time.perf_counter()
        result = invert(S(torch.from_numpy(x)), S, iters=args.iters, restarts=args.restarts)
        print(f"| {name} | {result.residual[-1]:.2e} | {aligned_psnr(result.image.numpy(), x):.2f} dB | "
              f"{time.perf_counter() - start:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
