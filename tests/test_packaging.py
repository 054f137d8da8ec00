"""`pip install .` gives a working invscat with its shipped estimators: the wheel holds them."""

import subprocess
import sys
import zipfile
from pathlib import Path

from invscat.estimators import pretrained

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_contains_the_package_and_its_estimators(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    wheel, = tmp_path.glob("invscat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = pretrained.available()
    assert len(shipped) >= 5
    assert {f"invscat/estimators/pretrained/{name}" for name in shipped} <= names
    assert {"invscat/cli.py", "invscat/stacks/run.py", "invscat/scattering/transform.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "invscat = invscat.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
