"""Scattering inversion speed: invscat against the same gradient loop written on Kymatio, and PSNR against J.

Part 1 inverts the scattering coefficients of a 256x256 image (camera, J=4, L=8, order 2, reflect padding as
Kymatio) by Adam (step 0.01) from the same white-noise start with each library, and reports iterations per
second and the time to reach a relative coefficient error ||S x - S x0|| / ||S x0|| of 1e-2.
Part 2 (invscat only, periodic padding): PSNR after alignment of the reconstruction of 128x128 natural images
for J = 2 ... 5.

    python benchmarks/inversion_speed.py [--device cpu|cuda] [--iters 400] [--skip-j-table]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from invscat import data
from invscat.synthesis import invert
from invscat.metrics import aligned_psnr
from invscat.scattering import Scattering2D


def kymatio_transform(J, shape, device):
    # Kymatio's package __init__ imports its 3D code, which fails on SciPy >= 1.17; the 2D frontend works.
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
    return ScatteringTorch2D(J=J, shape=shape).to(device)


def descend(transform, target, start, iters, device, goal=1e-2):
    """Adam on ||S x - target||^2 / ||target||^2; returns (iterations per second, time to goal or None, final error)."""
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.01)
    scale = torch.sum(target * target)
    reached = None
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    begin = time.perf_counter()
    for k in range(iters):
        optimizer.zero_grad(set_to_none=True)
        loss = torch.sum((transform(x) - target) ** 2) / scale
        loss.backward()
        optimizer.step()
        if reached is None and loss.item() ** 0.5 < goal:
            sync()
            reached = time.perf_counter() - begin
    sync()
    return iters / (time.perf_counter() - begin), reached, loss.item() ** 0.5


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--skip-j-table", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    image = torch.from_numpy(data.load_sample("camera", 256)).to(device)
    start = (image.mean() + 0.1 * torch.randn(256, 256, generator=torch.Generator().manual_seed(0)).to(device))
    rows = []
    for label, transform in (("invscat", Scattering2D(4, (256, 256)).to(device)),
                             ("Kymatio 0.3", kymatio_transform(4, (256, 256), device))):
        with torch.no_grad():
            target = transform(image)
        rows.append((label, *descend(transform, target, start, args.iters, device)))
    print(f"# Scattering inversion, 256x256 camera, J=4, L=8, Adam lr 0.01, {args.iters} iterations; {name}, "
          f"torch {torch.__version__}")
    print("| library | iterations / s | time to 1e-2 relative error | final relative error |")
    print("| --- | ---: | ---: | ---: |")
    for label, rate, reached, error in rows:
        to_goal = f"{reached:.1f} s" if reached is not None else f"not within {args.iters} iterations"
        print(f"| {label} | {rate:.2f} | {to_goal} | {error:.2e} |")
    print(f"| ratio invscat / Kymatio | {rows[0][1] / rows[1][1]:.2f}x | | |")
    if args.skip_j_table:
        return
    print(f"\n# PSNR (dB, after alignment) of the reconstruction from S_J x, 128x128, periodic, Adam, "
          f"{2 * args.iters} iterations")
    names = ("camera", "brick", "grass")
    print("| J | " + " | ".join(names) + " | relative coefficient error (mean) |")
    print("| --- |" + " ---: |" * (len(names) + 1))
    for J in range(2, 6):
        transform = Scattering2D(J, (128, 128), padding="periodic").to(device)
        psnrs, errors = [], []
        for picture in names:
            x = data.load_sample(picture, 128)
            with torch.no_grad():
                target = transform(torch.from_numpy(x).to(device))
            result = invert(target, transform, iters=2 * args.iters)
            psnrs.append(aligned_psnr(result.image.cpu().numpy(), x))
            errors.append(result.residual[-1])
        print(f"| {J} | " + " | ".join(f"{p:.2f}" for p in psnrs) + f" | {np.mean(errors):.2e} |", flush=True)


if __name__ == "__main__":
    main()
