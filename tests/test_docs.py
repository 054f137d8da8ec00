"""`make docs` builds the documentation site without a warning (the gallery's examples are not run here)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx_gallery", reason="the docs extra (make test installs it)")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                             str(ROOT / "docs"), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "api.html").exists() and (tmp_path / "cli.html").exists()
    assert "invscat tomo" in (tmp_path / "cli.html").read_text()
    assert (tmp_path / "auto_examples" / "index.html").exists()
