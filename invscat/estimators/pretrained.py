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


# The kinds of shipped estimator, best first, and the suffix of their files' names (NAME_ensemble.pt, ...)
KINDS = {"restoration": "_restoration", "ensemble": "_ensemble", "convolutional": "_cnn", "ridge": ""}


def candidates(task, kind: str | None = None) -> list[tuple[Path, dict]]:
    """(file, metadata it must match) of the shipped estimators that could serve ``task``, best first: those
    fitted for the exact setting (``NAME_restoration.pt``, the scattering of a U-Net's restored image;
    ``NAME_ensemble.pt``, the ridge and the network averaged; ``NAME_cnn.pt``, the convolutional one; ``NAME.pt``, the ridge, the papers' linear baseline), then those fitted across the task's
    family in the same order (CT: ``tomo_parallel_any_ensemble.pt`` ..., for any number of views, arc and
    size); ``kind`` keeps one kind."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown estimator kind {kind!r}; expected one of {', '.join(KINDS)} or a file.")
    settings = [(filename(task), task.metadata())]
    if task.family_filename() is not None:
        settings.append((task.family_filename(), task.family_metadata()))
    found = [(DIRECTORY / name.replace(".pt", f"{suffix}.pt"), expected)
             for name, expected in settings for key, suffix in KINDS.items() if kind in (None, key)]
    return [(path, expected) for path, expected in found if path.is_file()]


def load(task, kind: str | None = None) -> ScatteringEstimator:
    """The shipped estimator for ``task``: the first of :func:`candidates` (of ``kind`` if given); a ``ValueError``
    saying how to fit one if there is none."""
    found = candidates(task, kind)
    if not found:
        what = f"no {kind} scattering estimator" if kind else "no scattering estimator"
        options = task.fit_options() + (f" --kind {kind}" if kind not in (None, "ridge") else "")
        raise ValueError(f"{what} ships for this setting ({Path(filename(task)).stem}); fit one with "
                         f"`invscat fit {options} -o estimator.pt` and pass --estimator estimator.pt.")
    path, expected = found[0]
    return ScatteringEstimator.load(path, **expected)
