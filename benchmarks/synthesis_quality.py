"""Texture synthesis checks: averaged-moment error and octave power of synthesised textures against the example.

For a Gaussian random field of known power spectrum (1 / (1 + |f|)^2, seeded) and skimage's brick, grass and
gravel, synthesise one sample (white-noise start, Adam) matching the averaged scattering moments (orders 0-2,
periodic) and report the relative moment error and, per octave of radial frequency, the ratio of the sample's
radially averaged power to the example's (the target is 0.8-1.2 in every octave).

    python benchmarks/synthesis_quality.py [--size 64] [--J 6] [--iters 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from invscat import data
from invscat.synthesis import averaged_moments, synthesize
from invscat.metrics import radial_power_spectrum
from invscat.scattering import Scattering2D


def gaussian_field(size: int, seed: int = 0) -> np.ndarray:
    """A stationary Gaussian field with power spectrum 1 / (1 + |f|)^2 (f in cycles per image), mean 0.5, std 0.15."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size) * size, np.fft.fftfreq(size) * size, indexing="ij"))
    noise = np.random.default_rng(seed).standard_normal((size, size))
    field = np.fft.ifft2(np.fft.fft2(noise) / (1 + f)).real
    return ((field - field.mean()) / field.std() * 0.15 + 0.5).astype(np.float32)


def octave_power(image: np.ndarray) -> np.ndarray:
    """Mean radial power in the octaves [1, 2), [2, 4), ..., [N/4, N/2) of radial frequency (cycles per image)."""
    power = radial_power_spectrum(image)
    return np.array([power[2 ** k:2 ** (k + 1)].mean() for k in range(int(np.log2(len(power) - 1)))])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--J", type=int, default=6, help="default 6: 2^J = the default size")
    parser.add_argument("--iters", type=int, default=1000)
    args = parser.parse_args()
    examples = {"gaussian field": gaussian_field(args.size)}
    examples.update({name: data.load_sample(name, args.size) for name in ("brick", "grass", "gravel")})
    S = Scattering2D(args.J, (args.size, args.size), padding="periodic")
    octaves = len(octave_power(examples["gaussian field"]))
    print(f"# Texture synthesis, {args.size}x{args.size}, J={args.J}, L=8, periodic, Adam, {args.iters} iterations")
    print("| example | moment error | " + " | ".join(f"octave [{2 ** k}, {2 ** (k + 1)})" for k in range(octaves))
          + " | octaves within 20% |")
    print("| --- | ---: |" + " ---: |" * (octaves + 1))
    for name, example in examples.items():
        sample = synthesize(example, J=args.J, iters=args.iters).image[0]
        target = averaged_moments(S, torch.from_numpy(example))
        error = (torch.linalg.vector_norm(averaged_moments(S, sample) - target) / torch.linalg.vector_norm(target)).item()
        ratio = octave_power(sample.numpy()) / octave_power(example)
        within = int(np.sum(np.abs(ratio - 1) <= 0.2))
        print(f"| {name} | {100 * error:.2f}% | " + " | ".join(f"{r:.2f}" for r in ratio) + f" | {within}/{octaves} |",
              flush=True)


if __name__ == "__main__":
    main()
