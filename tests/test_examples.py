"""The example scripts run and write their figures."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sparse_view_fbp_example(tmp_path):
    out = tmp_path / "panel.png"
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "sparse_view_fbp.py"), "-o", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000
    assert "PSNR" in result.stdout
