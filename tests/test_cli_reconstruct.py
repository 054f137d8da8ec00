"""`invscat superres` and `invscat tomo`: outputs, metrics and figures; one sentence, exit 2 and no output for
bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from invscat import data
from test_cli import assert_one_sentence_error, run

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def small_png(tmp_path_factory):
    from invscat.io import save_image
    path = tmp_path_factory.mktemp("images") / "phantom.png"
    save_image(path, data.shepp_logan(64))
    return path


def test_superres_simulate_writes_image_metrics_and_figure(tmp_path, small_png):
    out, metrics, figure = tmp_path / "sr.npy", tmp_path / "m.json", tmp_path / "f.png"
    result = run("superres", small_png, "-o", out, "--simulate", "--factor", 2, "--method", "tv", "--iters", 50,
                 "--metrics-json", metrics, "--figure", figure, "--quiet")
    assert result.exit_code == 0, result.output
    image = np.load(out)
    assert image.shape == (64, 64) and image.dtype == np.float32
    numbers = json.loads(metrics.read_text())
    assert {"method", "psnr", "ssim", "time_s", "iterations"} <= set(numbers)
    assert numbers["psnr"] > 20 and numbers["iterations"] == 50
    assert figure.stat().st_size > 1000
    assert result.stdout == ""  # --quiet


def test_superres_colour_measurement_with_reference(tmp_path):
    from invscat.io import save_image
    rgb = np.stack([data.shepp_logan(64), data.random_ellipses(64), data.random_polygons(64)], axis=-1)
    save_image(tmp_path / "truth.tif", rgb)
    low = np.moveaxis(np.stack([rgb[..., c].reshape(32, 2, 32, 2).mean(axis=(1, 3)) for c in range(3)]), 0, -1)
    save_image(tmp_path / "low.tif", low)
    out, metrics = tmp_path / "high.tif", tmp_path / "m.json"
    result = run("superres", tmp_path / "low.tif", "-o", out, "--factor", 2, "--method", "bicubic",
                 "--reference", tmp_path / "truth.tif", "--metrics-json", metrics)
    assert result.exit_code == 0, result.output
    import tifffile
    assert tifffile.imread(out).shape == (64, 64, 3)
    assert json.loads(metrics.read_text())["psnr"] > 20
    assert "PSNR" in result.stdout


def test_tomo_simulate_and_measured_sinogram(tmp_path, small_png):
    out, metrics = tmp_path / "ct.npy", tmp_path / "m.json"
    result = run("tomo", small_png, "-o", out, "--simulate", "--views", 20, "--method", "fbp",
                 "--metrics-json", metrics)
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (64, 64) and json.loads(metrics.read_text())["views"] == 20
    from invscat import reconstruct as R
    _, sinogram = R.simulate_tomo(data.shepp_logan(64), 24, arc_degrees=120)
    np.save(tmp_path / "sino.npy", sinogram)
    result = run("tomo", tmp_path / "sino.npy", "-o", tmp_path / "rec.png", "--arc", 120, "--method", "sirt",
                 "--iters", 20, "--quiet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rec.png").exists()


def test_tomo_fan_beam(tmp_path, small_png):
    out = tmp_path / "fan.npy"
    result = run("tomo", small_png, "-o", out, "--simulate", "--geometry", "fan", "--views", 40, "--method", "tv",
                 "--iters", 20, "--quiet")
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (64, 64)


@pytest.mark.parametrize("command, args, words", [
    ("superres", ("--factor", 0), "factor"),
    ("superres", ("--factor", -2), "factor"),
    ("superres", ("--method", "magic"), "unknown method"),
    ("superres", ("--noise", -0.1), "noise"),
    ("superres", ("--iters", -3), "iterations"),
    ("superres", ("--lam", -1), "weight"),
    ("superres", ("--factor", 16), "too small"),
    ("tomo", ("--views", 0), "views"),
    ("tomo", ("--arc", -90), "arc"),
    ("tomo", ("--method", "art"), "unknown method"),
    ("tomo", ("--detectors", 0), "detectors"),
])
def test_bad_parameters(tmp_path, small_png, command, args, words):
    out = tmp_path / "out.png"
    result = run(command, small_png, "-o", out, "--simulate", *args)
    assert_one_sentence_error(result, out)
    assert words in result.stderr


@pytest.mark.parametrize("command", ["superres", "tomo"])
@pytest.mark.parametrize("name, content, words", [
    ("missing.npy", None, "no such file"),
    ("empty.npy", b"", "empty"),
    ("corrupt.tif", b"II*\x00 garbage", "no pixels"),
    ("notes.txt", b"hello", "unsupported file type"),
    ("line.npy", np.ones(64, np.float32), "2-D"),
    ("cube.npy", np.ones((2, 2, 64, 64), np.float32), "2-D"),
    ("nan.npy", np.full((64, 64), np.nan, np.float32), "NaN"),
    ("text.npy", np.array([["a"] * 64] * 64), "numeric"),
])
def test_bad_files(tmp_path, command, name, content, words):
    source = tmp_path / name
    if content is not None:
        source.write_bytes(content) if isinstance(content, bytes) else np.save(source, content)
    out = tmp_path / "out.png"
    result = run(command, source, "-o", out)
    assert_one_sentence_error(result, out)
    assert words in result.stderr


def test_mismatches_and_missing_cuda(tmp_path, small_png):
    import torch
    out = tmp_path / "out.png"
    result = run("superres", small_png, "-o", out, "--reference", small_png)  # 64x64 -> 256x256 vs 64x64
    assert_one_sentence_error(result, out)
    assert "shape" in result.stderr
    np.save(tmp_path / "sino.npy", np.ones((30, 93), np.float32))
    result = run("tomo", tmp_path / "sino.npy", "-o", out, "--views", 40)
    assert_one_sentence_error(result, out)
    assert "views" in result.stderr
    result = run("superres", small_png, "-o", tmp_path / "out.bmp")
    assert_one_sentence_error(result, tmp_path / "out.bmp")
    if not torch.cuda.is_available():
        result = run("tomo", small_png, "-o", out, "--simulate", "--device", "cuda")
        assert_one_sentence_error(result, out)
        assert "CUDA" in result.stderr


def test_no_partial_outputs_when_the_figure_folder_is_missing(tmp_path, small_png):
    out = tmp_path / "out.png"
    result = run("superres", small_png, "-o", out, "--simulate", "--factor", 2, "--figure", tmp_path / "no" / "f.png")
    assert_one_sentence_error(result, out)


def test_fit_then_reconstruct_with_the_estimator(tmp_path, small_png):
    estimator = tmp_path / "sr_x2.pt"
    result = run("fit", "superres", "--factor", 2, "--size", 32, "--count", 6, "-o", estimator, "--quiet")
    assert result.exit_code == 0, result.output
    out = tmp_path / "sr.npy"
    result = run("superres", small_png, "-o", out, "--simulate", "--factor", 2, "--method", "scattering",
                 "--estimator", estimator, "--iters", 5, "--quiet")
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (64, 64)
    # an estimator for another task is refused in one sentence, and nothing is written
    out4 = tmp_path / "x4.npy"
    result = run("superres", small_png, "-o", out4, "--simulate", "--factor", 4, "--method", "scattering",
                 "--estimator", estimator, "--quiet")
    assert_one_sentence_error(result, out4)
    assert "factor=2, not factor=4" in result.stderr


def test_factor_3_end_to_end(tmp_path, small_png):
    # fit an estimator for x3 on 48x48 crops, then super-resolve a 63x63 image (cropped from 64x64) with it
    estimator = tmp_path / "sr_x3.pt"
    result = run("fit", "superres", "--factor", 3, "--size", 48, "--count", 6, "-o", estimator, "--quiet")
    assert result.exit_code == 0, result.output
    out = tmp_path / "sr3.npy"
    result = run("superres", small_png, "-o", out, "--simulate", "--factor", 3, "--method", "scattering",
                 "--estimator", estimator, "--iters", 5, "--quiet")
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (63, 63)


def test_deblur_simulate_beats_the_blurred_image(tmp_path, small_png):
    out, metrics = tmp_path / "db.npy", tmp_path / "db.json"
    result = run("deblur", small_png, "-o", out, "--simulate", "--sigma", 1.5, "--metrics-json", metrics, "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(metrics.read_text())
    from invscat import metrics as M
    from invscat.io import load_image
    from invscat.tasks import Deblurring

    truth = load_image(small_png)
    blurred = Deblurring(1.5).simulate(truth)[1]
    assert report["task"] == "deblur" and report["sigma"] == 1.5
    assert report["psnr"] > M.psnr(blurred, truth) + 1.0
    assert np.load(out).shape == (64, 64)


def test_tomo_scattering_without_a_shipped_estimator_says_how_to_fit_one(tmp_path, small_png):
    out = tmp_path / "ct.npy"
    result = run("tomo", small_png, "-o", out, "--simulate", "--views", 45, "--geometry", "fan", "--method",
                 "scattering", "--quiet")
    assert_one_sentence_error(result, out)
    assert "invscat fit tomo --size 64 --views 45 --arc 360 --geometry fan" in result.stderr


@pytest.mark.parametrize("args, words", [
    (["superres", "--count", 1], "--count >= 2"),
    (["superres", "--factor", 0], "factor must be an integer >= 1"),
    (["tomo", "--size", 8], "--size >= 16"),
    (["superres", "--noise", "nan"], "noise level"),
    (["superres", "--images", "/no/such/folder"], "no such directory"),
    (["superres", "-o", "e.npy"], "must end in .pt"),
    (["superres", "-o", "no/e.pt"], "does not exist"),
])
def test_fit_bad_input(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    out = Path(args[args.index("-o") + 1]) if "-o" in args else tmp_path / "e.pt"
    result = run("fit", *args, *([] if "-o" in args else ["-o", out]), "--quiet")
    written = tmp_path / out
    assert_one_sentence_error(result, written if written.parent.is_dir() else tmp_path / written.name)
    assert words in result.stderr
