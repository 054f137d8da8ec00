"""The scattering estimators shipped with invscat for the default tasks (fitted by ``make estimators``), looked up
by the task (:meth:`invscat.tasks.base.Task.estimator_filename`)."""

from __future__ import annotations

from pathlib import Path

from invscat.estimators.scattering import ScatteringEstimator

DIRECTORY = Path(__file__).with_name("pretrained")


def filename(task) -> str:
    """The shipped file's name for a task."""
    return task.estimator_filename()


def available() -> list[str]:
    """Names of the shipped estimators."""
    return sorted(p.name for p in DIRECTORY.glob("*.pt"))


def load(task) -> ScatteringEstimator:
    """The shipped estimator for ``task``: the one fitted for its exact setting, else the one fitted across its
    family (:meth:`~invscat.tasks.base.Task.family_metadata`); a ``ValueError`` saying how to fit one if there is
    neither."""
    path = DIRECTORY / filename(task)
    if path.is_file():
        return ScatteringEstimator.load(path, **task.metadata())
    family = task.family_filename()
    if family is not None and (DIRECTORY / family).is_file():
        return ScatteringEstimator.load(DIRECTORY / family, **task.family_metadata())
    raise ValueError(f"no scattering estimator ships for this setting ({path.stem}); fit one with "
                     f"`invscat fit {task.fit_options()} -o estimator.pt` and pass --estimator estimator.pt.")
