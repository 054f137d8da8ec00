"""The super-resolution model on the command line: --kernel gaussian|box|bicubic|FILE.npy and --sigma, recorded in
the metrics, used by the reconstruction, and fitted for by `invscat fit`."""

import json

import numpy as np
import pytest

from invscat import data
from invscat.tasks import SuperResolution
from test_cli import run


@pytest.fixture
def low_box(tmp_path):
    x = data.load_sample(data.TRAINING_IMAGES[2], 64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "low.npy", SuperResolution(2, kernel="box").simulate(x, seed=0)[1])
    return tmp_path


def test_the_matching_kernel_reconstructs_better_and_is_recorded(low_box):
    scores = {}
    for args in (["--kernel", "box"], ["--kernel", "gaussian"], ["--sigma", "0.5"]):
        result = run("superres", low_box / "low.npy", "--factor", 2, *args, "-o", low_box / "out.npy", "--reference",
                     low_box / "x.npy", "--metrics-json", low_box / "m.json", "--quiet")
        assert result.exit_code == 0, result.output
        metrics = json.loads((low_box / "m.json").read_text())
        scores[" ".join(args)] = metrics["psnr"]
    assert metrics["kernel"] == "gaussian" and metrics["sigma"] == 0.5
    assert scores["--kernel box"] > scores["--kernel gaussian"] + 0.5


def test_a_kernel_file(low_box):
    np.save(low_box / "kernel.npy", np.ones((2, 2), np.float32))  # the box kernel of factor 2, as a file
    result = run("superres", low_box / "low.npy", "--factor", 2, "--kernel", low_box / "kernel.npy", "-o",
                 low_box / "file.npy", "--quiet", "--metrics-json", low_box / "m.json")
    assert result.exit_code == 0, result.output
    run("superres", low_box / "low.npy", "--factor", 2, "--kernel", "box", "-o", low_box / "box.npy", "--quiet")
    np.testing.assert_allclose(np.load(low_box / "file.npy"), np.load(low_box / "box.npy"), atol=1e-5)
    assert json.loads((low_box / "m.json").read_text())["kernel"] == "custom 2x2"


@pytest.mark.parametrize("args,phrase", [(["--kernel", "box", "--sigma", "1"], "has none"),
                                         (["--kernel", "lanczos"], "unknown blur kernel"),
                                         (["--sigma", "-1"], "sigma")])
def test_impossible_models_fail_in_one_sentence(low_box, args, phrase):
    result = run("superres", low_box / "low.npy", "--factor", 2, *args, "-o", low_box / "out.npy")
    assert result.exit_code == 2 and phrase in result.stderr and "Traceback" not in result.output


def test_fit_for_a_kernel_and_use_it(low_box):
    result = run("fit", "superres", "--factor", 2, "--kernel", "box", "--size", 32, "--count", 6, "-o",
                 low_box / "est.pt", "--quiet")
    assert result.exit_code == 0, result.output
    args = ["superres", low_box / "low.npy", "--factor", 2, "--method", "scattering", "--estimator", low_box / "est.pt",
            "--iters", 5, "-o", low_box / "out.npy", "--quiet"]
    assert run(*args, "--kernel", "box").exit_code == 0
    mismatch = run(*args)
    assert mismatch.exit_code == 2 and "kernel" in mismatch.stderr
    shipped = run("superres", low_box / "low.npy", "--factor", 2, "--kernel", "box", "--method", "scattering",
                  "-o", low_box / "out.npy")
    assert shipped.exit_code == 2 and "--kernel box" in shipped.stderr
