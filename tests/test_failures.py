"""The failure contract: a failed run leaves nothing behind, outputs never overwrite inputs or each other, writes
cannot be redirected, filesystem errors and signals end in one sentence, and metrics are strict JSON."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from invscat import data
from invscat.io import InvscatError, all_or_nothing, atomic_path, save_image
from test_cli import assert_one_sentence_error, run


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "in.png"
    save_image(path, data.shepp_logan(64))
    return path


def leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- outputs against inputs and each other ---------------------------------------------------------------------

def test_an_output_naming_the_input_is_refused_before_any_work(png):
    before = png.read_bytes()
    result = run("superres", png, "-o", png.with_name("out.png"), "--simulate", "--figure", png)
    assert result.exit_code == 2 and "is the input" in result.stderr
    assert png.read_bytes() == before


def test_two_outputs_naming_one_file_are_refused(png, tmp_path):
    out = tmp_path / "out.png"
    result = run("superres", png, "-o", out, "--simulate", "--figure", out)
    assert_one_sentence_error(result, out)
    assert "name the same file" in result.stderr


def test_synth_samples_never_overwrite_the_texture(tmp_path):
    texture = tmp_path / "t_0.png"
    save_image(texture, data.load_sample("brick", 64))
    before = texture.read_bytes()
    result = run("synth", texture, "-o", tmp_path / "t.png", "--count", 2, "--J", 2, "--iters", 2)
    assert result.exit_code == 2 and "is the input" in result.stderr
    assert texture.read_bytes() == before and not (tmp_path / "t_1.png").exists()


# -- all outputs or none ---------------------------------------------------------------------------------------

def test_a_failure_after_some_outputs_leaves_none(png, tmp_path, monkeypatch):
    import invscat.figures

    def broken(*args, **kwargs):
        raise ValueError("the figure could not be drawn.")

    monkeypatch.setattr(invscat.figures, "save_comparison_figure", broken)
    out, metrics = tmp_path / "out.npy", tmp_path / "m.json"
    result = run("superres", png, "-o", out, "--simulate", "--iters", 3, "--metrics-json", metrics,
                 "--figure", tmp_path / "f.png", "--quiet")
    assert_one_sentence_error(result, out)
    assert not metrics.exists() and leftovers(tmp_path) == []


def test_all_or_nothing_renames_only_at_the_end(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(RuntimeError):
        with all_or_nothing():
            with atomic_path(first) as tmp:
                tmp.write_text("a")
            assert not first.exists()
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    with all_or_nothing():
        with atomic_path(first) as tmp:
            tmp.write_text("a")
        with atomic_path(second) as tmp:
            tmp.write_text("b")
    assert first.read_text() == "a" and second.read_text() == "b" and leftovers(tmp_path) == []


def test_scatter_checks_every_output_before_writing(png, tmp_path):
    out = tmp_path / "c.npz"
    result = run("scatter", png, "-o", out, "--J", 2, "--figure", tmp_path / "missing" / "f.png")
    assert_one_sentence_error(result, out)
    upper = tmp_path / "C.NPZ"
    result = run("scatter", png, "-o", upper, "--J", 2)
    assert_one_sentence_error(result, upper)
    assert list(tmp_path.glob("*.npz")) == [] and leftovers(tmp_path) == []


# -- filesystem errors -----------------------------------------------------------------------------------------

def test_output_that_is_a_directory(png, tmp_path):
    folder = tmp_path / "dir.png"
    folder.mkdir()
    result = run("superres", png, "-o", folder, "--simulate")
    assert result.exit_code == 2 and "is a directory" in result.stderr and "Traceback" not in result.output
    (tmp_path / "dir.pt").mkdir()
    result = run("fit", "superres", "-o", tmp_path / "dir.pt", "--count", 2)
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_a_name_too_long_for_a_temporary_is_one_sentence(png, tmp_path):
    out = tmp_path / ("x" * 247 + ".npy")  # a valid 251-character name
    result = run("superres", png, "-o", out, "--simulate")
    assert_one_sentence_error(result, out)
    assert "too long" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_any_work(png, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run("fit", "superres", "-o", folder / "e.pt", "--count", 2)
        assert result.exit_code == 2 and "not writable" in result.stderr
    finally:
        folder.chmod(0o755)


def test_a_planted_link_at_the_output_is_replaced_not_followed(png, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out.npy"
    out.symlink_to(victim)
    result = run("superres", png, "-o", out, "--simulate", "--iters", 3, "--quiet")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "keep me" and not out.is_symlink() and np.load(out).shape == (64, 64)


# -- signals and JSON ------------------------------------------------------------------------------------------

def test_sigterm_mid_run_leaves_nothing(png, tmp_path):
    out = tmp_path / "out.png"
    command = [sys.executable, "-c", "from invscat.cli import main; main()", "synth", str(png), "-o", str(out),
               "--J", "2", "--iters", "1000000", "--metrics-json", str(tmp_path / "m.json"), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    time.sleep(3)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and b"Traceback" not in stderr
    assert not out.exists() and not (tmp_path / "m.json").exists() and leftovers(tmp_path) == []


def test_metrics_are_strict_json():
    from invscat.cli import _json

    text = _json({"psnr": float("inf"), "ssim": 1.0, "error": float("nan")})
    parsed = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert parsed["psnr"] is None and parsed["error"] is None and "exactly" in parsed["notes"]["psnr"]


def test_atomic_path_refuses_a_missing_folder(tmp_path):
    with pytest.raises(InvscatError, match="does not exist"):
        with atomic_path(tmp_path / "no" / "x.npy"):
            pass


@pytest.mark.parametrize("seed", [-1, 2**32, 2**63, 10**20])
@pytest.mark.parametrize("command", [["superres", "--simulate"], ["tomo", "--simulate"], ["synth", "--iters", "1"]])
def test_one_rule_for_seeds(png, tmp_path, command, seed):
    out = tmp_path / "out.png"
    result = run(command[0], png, "-o", out, *command[1:], "--seed", seed)
    assert_one_sentence_error(result, out)
    assert "--seed" in result.stderr


def test_one_rule_for_seeds_in_the_library():
    from invscat.synthesis import synthesize
    from invscat.tasks import SuperResolution

    for call in (lambda: SuperResolution(2).simulate(np.zeros((16, 16)), seed=-1),
                 lambda: synthesize(np.random.rand(32, 32), J=2, iters=1, seed=2**40)):
        with pytest.raises(ValueError, match="seed"):
            call()


# -- 8-bit outputs and library entry points -------------------------------------------------------------------

def test_png_output_far_outside_0_1_is_refused_not_clipped(tmp_path):
    ct = tmp_path / "hu.npy"
    np.save(ct, (1000 * data.shepp_logan(64) - 500).astype(np.float32))  # HU-like units
    out = tmp_path / "out.png"
    result = run("deblur", ct, "-o", out, "--simulate", "--iters", 3)
    assert_one_sentence_error(result, out)
    assert ".tif or .npy" in result.stderr and "--rescale" in result.stderr
    result = run("deblur", ct, "-o", out, "--simulate", "--iters", 3, "--rescale", "--quiet")
    assert result.exit_code == 0, result.output
    from invscat.io import load_image
    image = load_image(out)
    assert image.min() == 0 and image.max() == 1


@pytest.mark.parametrize("call, words", [
    (lambda: data.shepp_logan(0), "image size"),
    (lambda: data.random_ellipses(-3), "image size"),
    (lambda: __import__("invscat.operators", fromlist=["Radon"]).Radon((32, 32), 10.5), "number of views"),
    (lambda: __import__("invscat.synthesis", fromlist=["synthesize"]).synthesize(np.random.rand(32, 32), J=2,
                                                                                 iters=1, count=1.5), "samples"),
    (lambda: save_image("x.png", np.zeros((2, 2, 8, 8))), r"\(M, N\) or \(M, N, 3\)"),
    (lambda: __import__("invscat.reconstruct", fromlist=["superres"]).superres(np.zeros(16), 2), "two dimensions"),
])
def test_library_entry_points_fail_in_one_sentence(tmp_path, monkeypatch, call, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises((ValueError, TypeError), match=words):
        call()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["superres", "--factor", 1000], ["superres", "--factor", 10**20],
                                  ["invert", "--restarts", 10**6, "--J", 2]])
def test_oversized_problems_are_refused_before_allocating(png, tmp_path, args):
    out = tmp_path / "out.npy"
    result = run(args[0], png, "-o", out, *(["--simulate"] if args[0] == "superres" else []), *args[1:])
    assert_one_sentence_error(result, out)


def test_memory_estimate_refuses_a_huge_measured_image(tmp_path):
    from invscat.tasks import SuperResolution

    with pytest.raises(MemoryError, match="GiB of memory"):
        SuperResolution(64).reconstruct(np.zeros((2000, 2000), np.float32), "tv")


def test_grey_alpha_and_rgba_drop_alpha_alike(tmp_path):
    from skimage import io as skio

    from invscat.io import load_image

    grey = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    skio.imsave(tmp_path / "la.png", np.stack([grey, np.full_like(grey, 255)], -1), check_contrast=False)
    skio.imsave(tmp_path / "rgba.png", np.stack([grey] * 3 + [np.full_like(grey, 255)], -1), check_contrast=False)
    assert load_image(tmp_path / "la.png").shape == (64, 64)
    assert load_image(tmp_path / "rgba.png").shape == (64, 64, 3)


def test_tomo_size_beyond_the_field_of_view_is_refused(tmp_path):
    sinogram = tmp_path / "s.npy"
    np.save(sinogram, np.ones((30, 92), np.float32))
    out = tmp_path / "out.npy"
    result = run("tomo", sinogram, "-o", out, "--size", 1000, "--method", "fbp")
    assert_one_sentence_error(result, out)
    assert "field of view" in result.stderr


@pytest.mark.parametrize("fields, words", [
    (dict(J=np.array([4, 4])), "field J must be one integer"),
    (dict(coefficients=np.array([["a"]])), "field coefficients must be a real float array"),
    (dict(coefficients=np.ones((3, 2, 2), np.complex64)), "field coefficients must be a real float array"),
    (dict(padding="zero"), "field padding"),
])
def test_malformed_coefficient_files_name_the_file_and_the_field(tmp_path, fields, words):
    good = dict(coefficients=np.ones((81, 8, 8), np.float32), J=2, L=8, max_order=2, padding="periodic",
                shape=np.array([32, 32]))
    path = tmp_path / "c.npz"
    np.savez(path, **{**good, **fields})
    out = tmp_path / "out.npy"
    result = run("invert", path, "-o", out, "--iters", 1)
    assert_one_sentence_error(result, out)
    assert words in result.stderr and str(path) in result.stderr


@pytest.mark.parametrize("command, option", [("superres", ["--reference", "REF"]), ("tomo", ["--size", 64])])
def test_options_that_simulate_ignores_are_refused(png, tmp_path, command, option):
    out = tmp_path / "out.npy"
    option = [png if o == "REF" else o for o in option]
    result = run(command, png, "-o", out, "--simulate", *option)
    assert_one_sentence_error(result, out)
