"""Reconstruction quality: PSNR / SSIM per method on the held-out test images, written to RESULTS.md.

Tasks (noise: Gaussian, 0.01 of the measurement's range, seed 0):
  - super-resolution x4 (Gaussian blur sigma 2 + decimation), 256x256;
  - CT, 30 parallel-beam views over 180 degrees, 128x128;
  - CT, 90 parallel-beam views over 120 degrees (limited angle), 128x128.
Defaults (lam, iterations) are those of invscat.reconstruct, tuned on data.TRAINING_IMAGES only
(benchmarks/tune_lambdas.py); the test images are data.TEST_IMAGES, plus for CT two random phantoms with
seeds never used in training.

    python benchmarks/quality.py [--write]     # --write replaces the quality section of benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from invscat import data, metrics
from invscat import reconstruct as R

COMMAND = "python benchmarks/quality.py --write"
RESULTS = Path(__file__).with_name("RESULTS.md")


def test_images(size: int, phantoms: bool) -> dict:
    images = {name: data.load_sample(name, size) for name in data.TEST_IMAGES}
    if phantoms:
        images["ellipses#1000"] = data.random_ellipses(size, seed=1000)
        images["polygons#1001"] = data.random_polygons(size, seed=1001)
    return images


def table(title: str, images: dict, methods, simulate, solve) -> tuple[str, dict]:
    """Rows: methods; columns: images and their mean; cells PSNR / SSIM."""
    scores = {m: [] for m in methods}
    for k, (name, x) in enumerate(images.items()):
        A, y = simulate(x)
        for method in methods:
            image = solve(A, y, method)
            scores[method].append((metrics.psnr(image, x), metrics.ssim(image, x)))
            print(f"  {title} | {name} | {method}: {scores[method][-1][0]:.2f} dB", flush=True)
    lines = [f"### {title}", "", "PSNR (dB) / SSIM", "",
             "| method | " + " | ".join(images) + " | mean |", "|---" * (len(images) + 2) + "|"]
    means = {}
    for method in methods:
        cells = [f"{p:.2f} / {s:.3f}" for p, s in scores[method]]
        means[method] = np.mean([p for p, _ in scores[method]])
        mean_ssim = np.mean([s for _, s in scores[method]])
        lines.append(f"| {method} | " + " | ".join(cells) + f" | **{means[method]:.2f}** / {mean_ssim:.3f} |")
    return "\n".join(lines) + "\n", means


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    args = parser.parse_args()
    sections, checks = [], []

    text, sr = table("Super-resolution x4, 256x256, noise 0.01", test_images(256, phantoms=False),
                     R.SUPERRES_METHODS, lambda x: R.simulate_superres(x, 4),
                     lambda A, y, m: R.superres(y, 4, m).image)
    sections.append(text)
    checks.append(("TV - bicubic, superres x4", sr["tv"] - sr["bicubic"], 1.0))
    ct_images = test_images(128, phantoms=True)
    text, ct = table("CT, 30 views over 180 degrees, 128x128, noise 0.01", ct_images, R.TOMO_METHODS,
                     lambda x: R.simulate_tomo(x, 30), lambda A, y, m: R.tomo(y, A, m).image)
    sections.append(text)
    checks.append(("TV - FBP, 30-view CT", ct["tv"] - ct["fbp"], 3.0))
    text, _ = table("CT, 90 views over 120 degrees, 128x128, noise 0.01", ct_images, R.TOMO_METHODS,
                    lambda x: R.simulate_tomo(x, 90, arc_degrees=120), lambda A, y, m: R.tomo(y, A, m).image)
    sections.append(text)

    margins = ["| margin on mean PSNR | measured | required |", "|---|---|---|"]
    margins += [f"| {name} | {value:+.2f} dB | >= +{need:.1f} dB {'(met)' if value >= need else '(NOT met)'} |"
                for name, value, need in checks]
    body = "\n".join(sections) + "\n" + "\n".join(margins) + "\n"
    print(body)
    if args.write:
        block = (f"<!-- quality:start -->\n## Reconstruction quality\n\n`{COMMAND}` (defaults of "
                 f"`invscat.reconstruct`; lam tuned on the training images, never on these)\n\n{body}"
                 f"<!-- quality:end -->")
        text = RESULTS.read_text()
        pattern = re.compile(r"<!-- quality:start -->.*<!-- quality:end -->", re.S)
        RESULTS.write_text(pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n")


if __name__ == "__main__":
    main()
