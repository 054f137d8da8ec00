"""The example scripts run and write their figures."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sparse_view_fbp_example(tmp_path):
    out = tmp_path / "panel.png"
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "sparse_view_fbp.py"), "-o", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000
    assert "PSNR" in result.stdout


def run_example(script, *arguments, timeout=300):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), *arguments], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_superres_example(tmp_path):
    out = tmp_path / "sr.png"
    stdout = run_example("superres.py", "--images", "brick", "--size", "64", "-o", str(out))
    assert out.stat().st_size > 10_000
    assert all(f" {method} " in stdout for method in ("linear", "tv", "l1", "scattering"))


def test_tomography_example(tmp_path):
    out = tmp_path / "ct.png"
    # the script's path for every method is the task's (tests/test_estimators.py runs the scattering method on CT)
    stdout = run_example("tomography.py", "--images", "shepp_logan", "--geometries", "sparse", "--methods", "fbp",
                         "tv", "-o", str(out))
    assert (tmp_path / "ct_shepp_logan_sparse.png").stat().st_size > 10_000
    assert " tv " in stdout and " fbp " in stdout


@pytest.mark.slow
def test_scattering_gain_example(tmp_path):
    out = tmp_path / "gain.png"
    stdout = run_example("scattering_gain.py", "--cases", "ct30", "-o", str(out))
    assert (tmp_path / "gain_ct30.png").stat().st_size > 10_000
    assert " tv " in stdout and " scattering " in stdout
