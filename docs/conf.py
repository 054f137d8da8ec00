"""Sphinx configuration: API pages from the NumPy-style docstrings (numpydoc), the command-line reference from the
Typer app (each command's --help, written to cli.rst at build time), and a gallery of examples/ (sphinx-gallery; run with ``make docs GALLERY=1``)."""

import os
from pathlib import Path

project = "invscat"
author = "the invscat developers"
copyright = "2026, the invscat developers"
from invscat import __version__  # noqa: E402

release = version = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.mathjax", "numpydoc",
              "sphinx_gallery.gen_gallery"]
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
html_theme = "alabaster"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
suppress_warnings = ["config.cache"]
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",
    "plot_gallery": os.environ.get("GALLERY", "0") == "1",  # executing the examples takes minutes
    "download_all_examples": False,
    "write_computation_times": False,
}


def _write_cli_reference(path: Path) -> None:
    """docs/cli.rst from the Typer app: every command's --help, as ``invscat COMMAND --help`` prints it."""
    os.environ["TERMINAL_WIDTH"] = "110"
    from typer.testing import CliRunner

    from invscat.cli import app

    runner = CliRunner()
    commands = ["--help"] + [[c.name or c.callback.__name__, "--help"] for c in app.registered_commands]
    lines = ["Command line", "============", "", "Generated from the Typer application at build time "
             "(``invscat COMMAND --help`` prints the same).", ""]
    for args in commands:
        args = [args] if isinstance(args, str) else args
        name = " ".join(["invscat", *args[:-1]])
        lines += [name, "-" * len(name), "", "::", ""]
        text = runner.invoke(app, args, prog_name="invscat", terminal_width=110).output
        lines += ["    " + line.rstrip() for line in text.splitlines()] + [""]
    path.write_text("\n".join(lines) + "\n")


_write_cli_reference(Path(__file__).with_name("cli.rst"))
