"""The command line: the main job runs, and bad input gets one sentence, exit code 2 and no output file."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from invscat.cli import app

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_sentence_error(result, output: Path):
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("invscat: error:") and "\n" not in message and "Traceback" not in message
    assert not output.exists()
    assert not any(p.name.startswith(f".{output.stem}.") for p in output.parent.iterdir())


def test_info():
    result = run("info")
    assert result.exit_code == 0
    assert "torch" in result.stdout and "astra" in result.stdout


def test_scatter_writes_coefficients_and_figure(tmp_path):
    out, fig = tmp_path / "c.npz", tmp_path / "c.png"
    result = run("scatter", DATA / "camera.png", "-o", out, "--J", 3, "--figure", fig)
    assert result.exit_code == 0, result.output
    saved = np.load(out)
    assert saved["coefficients"].shape == (1 + 24 + 192, 32, 32)
    assert int(saved["J"]) == 3 and str(saved["padding"]) == "periodic"
    assert fig.stat().st_size > 1000


def _write(path: Path, content):
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name, content, words", [
    ("missing.png", None, "no such file"),
    ("empty.png", b"", "empty"),
    ("corrupt.png", b"\x89PNG not really", "not a readable"),
    ("notes.txt", b"hello", "unsupported file type"),
    ("line.npy", np.ones(16, np.float32), "2-D image"),
    ("cube.npy", np.ones((2, 2, 16, 16), np.float32), "2-D image"),
    ("nan.npy", np.full((32, 32), np.nan, np.float32), "NaN"),
    ("text.npy", np.array([["a"] * 32] * 32), "numeric"),
    ("tiny.npy", np.ones((8, 8), np.float32), "too small"),
])
def test_scatter_bad_input(tmp_path, name, content, words):
    source = tmp_path / name
    if content is not None:
        _write(source, content)
    out = tmp_path / "out.npz"
    result = run("scatter", source, "-o", out)
    assert_one_sentence_error(result, out)
    assert words in result.stderr


@pytest.mark.parametrize("args, words", [
    (("--J", 0), "J must be"),
    (("--L", -1), "L must be"),
    (("--order", 3), "max_order"),
])
def test_scatter_bad_parameters(tmp_path, args, words):
    out = tmp_path / "out.npz"
    result = run("scatter", DATA / "camera.png", "-o", out, *args)
    assert_one_sentence_error(result, out)
    assert words in result.stderr


def test_scatter_cuda_without_cuda(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "out.npz"
    result = run("scatter", DATA / "camera.png", "-o", out, "--device", "cuda")
    assert_one_sentence_error(result, out)
    assert "CUDA" in result.stderr


def test_scatter_output_folder_missing(tmp_path):
    out = tmp_path / "nowhere" / "out.npz"
    result = run("scatter", DATA / "camera.png", "-o", out)
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_outputs_get_ordinary_permissions(tmp_path):
    import os
    out = tmp_path / "c.npz"
    assert run("scatter", DATA / "camera.png", "-o", out, "--J", 2).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_threads_option_sets_torch_threads():
    import torch

    before = torch.get_num_threads()
    try:
        result = run("--threads", 1, "info")
        assert result.exit_code == 0 and "threads: 1)" in result.stdout
    finally:
        torch.set_num_threads(before)


def test_progress_outside_a_terminal_is_a_line_every_few_seconds(monkeypatch, capsys):
    from invscat.operators import Identity
    from invscat.regularizers import TotalVariation
    from invscat.solvers import pdhg, result

    monkeypatch.setattr(result, "PROGRESS_SECONDS", 0.0)
    pdhg(Identity((8, 8)), np.zeros((8, 8), np.float32), TotalVariation(), 0.1, iters=3, tol=0, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"pdhg-tv: iteration {k}/3, 0 s" for k in (1, 2, 3)]
