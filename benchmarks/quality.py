"""Reconstruction quality: PSNR / SSIM per method on the held-out test images, written to RESULTS.md.

Tasks (noise: Gaussian, 0.01 of the measurement's range, seed 0):
  - super-resolution x4 (Gaussian blur sigma 2 + decimation), 256x256;
  - CT, 30 parallel-beam views over 180 degrees, 128x128;
  - CT, 90 parallel-beam views over 120 degrees (limited angle), 128x128;
  - deblurring, Gaussian blur of sigma 2, 256x256.
Defaults (lam, iterations) are those of the task classes in invscat.tasks, tuned on data.TRAINING_IMAGES only
(benchmarks/tune_lambdas.py); the scattering estimators are the shipped ones, fitted on crops of the same
training images (`make estimators`). The test images are data.TEST_IMAGES, plus for CT two random phantoms with
seeds never used in training.

Beside the methods, an "oracle" row solves the scattering objective with the true image's scattering as the
target (an upper bound for any estimator), and every row reports the missing-band spectrum error: the relative
error of the radially averaged power spectrum above the measurement's cut-off (1/4 of Nyquist for x4
super-resolution; for CT, views / (pi N / 2), the fraction of the angular sampling a full scan needs).

A last table puts invscat's FBP beside scikit-image's ``iradon`` on sinograms made by ``skimage.transform.radon``
(60 views of the 256x256 test images, the same noise), read with ``Tomography(convention="skimage")``; it runs
alone, in seconds, with --fbp-only.

    python benchmarks/quality.py [--write] [--fbp-only]   # --write replaces these sections of benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from invscat import data, metrics
from invscat.tasks import Deblurring, SuperResolution, Tomography

COMMAND = "python benchmarks/quality.py --write"
RESULTS = Path(__file__).with_name("RESULTS.md")


def test_images(size: int, phantoms: bool) -> dict:
    images = {name: data.load_sample(name, size) for name in data.TEST_IMAGES}
    if phantoms:
        images["ellipses#1000"] = data.random_ellipses(size, seed=1000)
        images["polygons#1001"] = data.random_polygons(size, seed=1001)
    return images


def solve(task, y, method: str, truth) -> np.ndarray:
    """The task's reconstruction by ``method``, or its scattering method with the true scattering ('oracle')."""
    return (task.oracle(y, truth) if method == "oracle" else task.reconstruct(y, method)).image


def table(title: str, images: dict, methods, simulate, solve, cutoff: float) -> tuple[str, dict]:
    """Rows: methods; columns: images and their mean; cells PSNR / SSIM; then the mean spectrum error."""
    scores = {m: [] for m in methods}
    for k, (name, x) in enumerate(images.items()):
        A, y = simulate(x)
        for method in methods:
            image = solve(A, y, method, x)
            scores[method].append((metrics.psnr(image, x), metrics.ssim(image, x),
                                   metrics.spectrum_error(image, x, cutoff)))
            print(f"  {title} | {name} | {method}: {scores[method][-1][0]:.2f} dB", flush=True)
    lines = [f"### {title}", "", f"PSNR (dB) / SSIM; spectrum error above {cutoff:.2f} x Nyquist (mean)", "",
             "| method | " + " | ".join(images) + " | mean | spectrum error |", "|---" * (len(images) + 3) + "|"]
    means = {}
    for method in methods:
        cells = [f"{p:.2f} / {s:.3f}" for p, s, _ in scores[method]]
        means[method] = np.mean([p for p, _, _ in scores[method]])
        mean_ssim = np.mean([s for _, s, _ in scores[method]])
        mean_spectrum = np.mean([e for _, _, e in scores[method]])
        lines.append(f"| {method} | " + " | ".join(cells) + f" | **{means[method]:.2f}** / {mean_ssim:.3f} | "
                     f"{mean_spectrum:.3f} |")
    return "\n".join(lines) + "\n", means


def fbp_against_skimage() -> str:
    """invscat's FBP and scikit-image's iradon (both Hann) on scikit-image's own noisy 60-view sinograms."""
    import skimage.transform as st

    from invscat.noise import gaussian_noise

    theta = np.linspace(0, 180, 60, endpoint=False)
    task = Tomography(60, convention="skimage")
    rows = {"skimage iradon (hann)": [], "invscat fbp (hann)": []}
    images = test_images(256, phantoms=False)
    for k, (name, x) in enumerate(images.items()):
        sinogram = gaussian_noise(st.radon(x.astype(np.float64), theta, circle=False).astype(np.float32), 0.01, k)
        theirs = st.iradon(sinogram.astype(np.float64), theta, filter_name="hann", circle=False).astype(np.float32)
        ours = task.reconstruct(sinogram.T, "fbp").image
        for row, image in zip(rows, (theirs, ours)):
            rows[row].append((metrics.psnr(image, x), metrics.ssim(image, x)))
    lines = ["### FBP on scikit-image's sinograms, 60 views, 256x256, noise 0.01", "",
             "`skimage.transform.radon(x, theta, circle=False)` plus noise; invscat reads it with "
             "`Tomography(60, convention=\"skimage\")` (`invscat tomo --layout skimage`). PSNR (dB) / SSIM.", "",
             "| method | " + " | ".join(images) + " | mean |", "|---" * (len(images) + 2) + "|"]
    for row, scores in rows.items():
        lines.append(f"| {row} | " + " | ".join(f"{p:.2f} / {q:.3f}" for p, q in scores)
                     + f" | **{np.mean([p for p, _ in scores]):.3f}** |")
    return "\n".join(lines) + "\n"


def write_section(name: str, title: str, body: str) -> None:
    """Replace the section between ``<!-- name:start -->`` and ``<!-- name:end -->`` of RESULTS.md (or append it)."""
    block = f"<!-- {name}:start -->\n{title}{body}<!-- {name}:end -->"
    text = RESULTS.read_text()
    pattern = re.compile(rf"<!-- {name}:start -->.*<!-- {name}:end -->", re.S)
    RESULTS.write_text(pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    parser.add_argument("--fbp-only", action="store_true", help="only the FBP table against scikit-image")
    args = parser.parse_args()
    fbp_table = fbp_against_skimage()
    print(fbp_table)
    if args.write:
        write_section("fbp-skimage", "", f"`{COMMAND} --fbp-only` (or the full run)\n\n{fbp_table}")
    if args.fbp_only:
        return
    sections, checks = [], []

    sr_task = SuperResolution(4)
    text, sr = table("Super-resolution x4, 256x256, noise 0.01", test_images(256, phantoms=False),
                     sr_task.methods + ("oracle",), sr_task.simulate, lambda A, y, m, x: solve(sr_task, y, m, x),
                     cutoff=0.25)
    sections.append(text)
    blur_task = Deblurring(2.0)
    text, blur = table("Deblurring, Gaussian sigma 2, 256x256, noise 0.01", test_images(256, phantoms=False),
                       blur_task.methods + ("oracle",), blur_task.simulate,
                       lambda A, y, m, x: solve(blur_task, y, m, x), cutoff=0.25)
    sections.append(text)
    checks += [("TV - Tikhonov, deblurring", blur["tv"] - blur["tikhonov"], 0.0),
               ("scattering - TV, deblurring", blur["scattering"] - blur["tv"], 0.0)]
    checks += [("TV - bicubic, superres x4", sr["tv"] - sr["bicubic"], 1.0),
               ("scattering - TV, superres x4", sr["scattering"] - sr["tv"], 0.0)]
    ct_images = test_images(128, phantoms=True)
    for views, arc, need in ((30, 180, 0.5), (90, 120, 0.5)):
        task = Tomography(views, arc, size=128)
        text, ct = table(f"CT, {views} views over {arc} degrees, 128x128, noise 0.01", ct_images,
                         task.methods + ("oracle",), task.simulate,
                         lambda A, y, m, x, task=task: solve(task, y, m, x),
                         cutoff=min(1.0, views * 180 / arc / (np.pi * 128 / 2)))
        sections.append(text)
        if arc == 180:
            checks.append(("TV - FBP, 30-view CT", ct["tv"] - ct["fbp"], 3.0))
        checks.append((f"scattering - TV, {views} views over {arc} degrees", ct["scattering"] - ct["tv"], need))

    margins = ["| margin on mean PSNR | measured | required |", "|---|---|---|"]
    margins += [f"| {name} | {value:+.2f} dB | >= {need:+.1f} dB {'(met)' if value >= need else '(NOT met)'} |"
                for name, value, need in checks]
    body = "\n".join(sections) + "\n" + "\n".join(margins) + "\n"
    print(body)
    if args.write:
        write_section("quality", "## Reconstruction quality\n\n", f"`{COMMAND}` (defaults of `invscat.tasks`; lam "
                      f"tuned on the training images, never on these)\n\n{body}")


if __name__ == "__main__":
    main()
