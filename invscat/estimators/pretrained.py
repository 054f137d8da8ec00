"""The scattering estimators shipped with invscat for the default tasks (fitted by ``make estimators``)."""

from __future__ import annotations

from pathlib import Path

from invscat.estimators.scattering import ScatteringEstimator

DIRECTORY = Path(__file__).with_name("pretrained")


def filename(task) -> str:
    """The shipped file's name for a :class:`invscat.reconstruct.Task`."""
    meta = task.checked_metadata()
    if meta["task"] == "superres":
        return f"superres_x{meta['factor']}.pt"
    return (f"tomo_{meta['geometry']}_{meta['views']}views_{meta['arc']:g}deg_{meta['size']}px_"
            f"{meta['detectors']}det.pt")


def available() -> list[str]:
    """Names of the shipped estimators."""
    return sorted(p.name for p in DIRECTORY.glob("*.pt"))


def load(task) -> ScatteringEstimator:
    """The shipped estimator for ``task``; a ``ValueError`` saying how to fit one if there is none."""
    path = DIRECTORY / filename(task)
    if not path.is_file():
        meta = task.checked_metadata()
        options = (f"--factor {meta['factor']}" if meta["task"] == "superres" else
                   f"--size {meta['size']} --views {meta['views']} --arc {meta['arc']:g} --geometry {meta['geometry']}")
        raise ValueError(f"no scattering estimator ships for this setting ({path.stem}); fit one with "
                         f"`invscat fit {meta['task']} {options} -o estimator.pt` and pass --estimator estimator.pt.")
    return ScatteringEstimator.load(path, **task.checked_metadata())
