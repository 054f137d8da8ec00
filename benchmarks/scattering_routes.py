"""Issue 14's cases on the held-out test images: TV, the scattering method with the ridge estimator (the papers'
linear baseline), with the convolutional estimator, and with the true scattering (oracle), written to RESULTS.md.

Cases (noise 0.01 of the measurement's range, seed 0; the test images are data.TEST_IMAGES, plus for CT two random
phantoms with seeds never used in training):
  - CT, 30 views over 180 degrees, 128x128;           target: scattering >= TV + 1.0 dB
  - CT, 90 views over 120 degrees, 128x128;           target: TV + 1.0 dB
  - super-resolution x4, 256x256;                     target: TV + 0.3 dB
  - CT, 45 views over 180 degrees, 128x128 (no estimator fitted for it);   target: TV + 0.5 dB
  - CT, 30 views over 180 degrees, 256x256 (no estimator fitted for it);   target: TV + 0.5 dB
and, on the first three, a lower spectrum error (above the measurement's cut-off) than TV.

Estimators: the shipped ones (``invscat/estimators/pretrained``), one row per kind (ensemble, convolutional, ridge:
the first that ships for the setting or, CT, its family), each with the weights stored in it; the target is judged
on the one ``--method scattering`` uses by default. ``--convolutional CASE=FILE`` measures another network.

    python benchmarks/scattering_routes.py [--write] [--cases ct30 ct120 sr4 ct45 ct256] [--convolutional sr4=F]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from invscat import metrics
from invscat.estimators import ScatteringEstimator
from invscat.estimators import pretrained
from invscat.tasks import SuperResolution, Tomography

sys.path.insert(0, str(Path(__file__).parent))
from quality import test_images, write_section  # noqa: E402

COMMAND = "python benchmarks/scattering_routes.py --write"
CASES = {
    "ct30": ("CT, 30 views over 180 degrees, 128x128", Tomography(30, size=128), 128, 1.0),
    "ct120": ("CT, 90 views over 120 degrees, 128x128", Tomography(90, 120, size=128), 128, 1.0),
    "sr4": ("super-resolution x4, 256x256", SuperResolution(4), 256, 0.3),
    "ct45": ("CT, 45 views over 180 degrees, 128x128 (no estimator fitted for it)", Tomography(45, size=128), 128, 0.5),
    "ct256": ("CT, 30 views over 180 degrees, 256x256 (no estimator fitted for it)", Tomography(30, size=256), 256,
              0.5),
}


def estimators(task, convolutional_file=None) -> tuple[dict, str]:
    """The shipped estimators a case can use, one per kind ({'ensemble': ..., 'convolutional': ..., 'ridge': ...},
    those that ship for the setting or its family), the convolutional one replaced by ``convolutional_file`` if
    given; and the kind ``method='scattering'`` uses by default."""
    found = {}
    for kind in pretrained.KINDS:
        options = pretrained.candidates(task, kind)
        if options:
            path, expected = options[0]
            found[kind] = ScatteringEstimator.load(path, **expected)
    default = next(kind for kind in pretrained.KINDS if pretrained.candidates(task, kind)[:1] ==
                   pretrained.candidates(task)[:1])
    if convolutional_file is not None:
        found["convolutional"] = ScatteringEstimator.load(convolutional_file)
        if found["convolutional"].metadata.get("family"):
            found["convolutional"].metadata = {**task.family_metadata(), "family": True}
    return found, default


def cutoff(task, size: int) -> float:
    if isinstance(task, SuperResolution):
        return 1 / task.factor
    return min(1.0, task.views * 180 / task.arc / (np.pi * size / 2))


def run_case(key: str, convolutional_file=None, oracle: bool = True) -> tuple[str, dict]:
    title, task, size, need = CASES[key]
    found, default = estimators(task, convolutional_file)
    scores = {}
    columns = test_images(size, isinstance(task, Tomography))
    for name, truth in columns.items():
        _, y = task.simulate(truth, 0)
        results = {"tv": task.reconstruct(y, "tv").image}
        for label, estimator in found.items():
            start = time.perf_counter()
            results[f"scattering ({label})"] = task.reconstruct(y, "scattering", estimator=estimator).image
            results[f"time ({label})"] = time.perf_counter() - start
        if oracle:
            results["oracle"] = task.oracle(y, truth).image
        for label, image in results.items():
            if label.startswith("time"):
                scores.setdefault(label, []).append(image)
                continue
            scores.setdefault(label, []).append((metrics.psnr(image, truth), metrics.ssim(image, truth),
                                                 metrics.spectrum_error(image, truth, cutoff(task, size))))
        print(f"{key} {name}: " + ", ".join(f"{k} {v[-1][0]:.2f}" for k, v in scores.items()
                                             if not k.startswith("time")), flush=True)
    lines = [f"### {title}", "", "PSNR (dB) / SSIM; last columns: mean spectrum error above the cut-off, mean time", "",
             "| method | " + " | ".join(columns) + " | mean | spectrum error | time |", "|---" * (len(columns) + 4) + "|"]
    means = {}
    for label, rows in scores.items():
        if label.startswith("time"):
            continue
        means[label] = np.mean([p for p, _, _ in rows])
        seconds = scores.get(label.replace("scattering (", "time ("))
        clock = f"{np.mean(seconds):.1f} s" if seconds and label.startswith("scattering") else ""
        lines.append(f"| {label} | " + " | ".join(f"{p:.2f} / {s:.3f}" for p, s, _ in rows)
                     + f" | **{means[label]:.2f}** / {np.mean([s for _, s, _ in rows]):.3f} | "
                       f"{np.mean([e for _, _, e in rows]):.3f} | {clock} |")
    chosen = f"scattering ({default})"
    gain = means[chosen] - means["tv"]
    spectrum = {k: np.mean([e for _, _, e in v]) for k, v in scores.items() if not k.startswith("time")}
    lines += ["", f"`--method scattering` (its default estimator, the {default}): **{gain:+.2f} dB** over TV (target "
                  f"{need:+.1f} dB: {'met' if gain >= need else 'not met'}); spectrum error {spectrum[chosen]:.3f} vs "
                  f"TV's {spectrum['tv']:.3f} ({'lower' if spectrum[chosen] < spectrum['tv'] else 'not lower'})."]
    return "\n".join(lines) + "\n", means


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--write", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    parser.add_argument("--convolutional", nargs="*", default=[], metavar="CASE=FILE",
                        help="a convolutional estimator to measure instead of the shipped one (e.g. sr4=x4.pt)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle rows (the slowest)")
    args = parser.parse_args()
    files = dict(item.split("=", 1) for item in args.convolutional)
    sections = [run_case(key, files.get(key), not args.no_oracle)[0] for key in args.cases]
    body = "\n".join(sections)
    print(body)
    if args.write:
        write_section("scattering-routes", "## The scattering method on issue 14's cases\n\n",
                      f"`{COMMAND}` (held-out test images; estimators fitted on training and procedural images "
                      f"only)\n\n{body}")


if __name__ == "__main__":
    main()
