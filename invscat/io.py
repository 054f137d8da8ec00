"""Reading and writing images and arrays, with validation at the boundary and atomic writes."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")


class InvscatError(ValueError):
    """A user-facing error: its message is one sentence saying what was expected."""


def load_image(path, *, allow_rgb: bool = True) -> np.ndarray:
    """Read an image or array file as float32.

    Parameters
    ----------
    path : str or Path
        A .png, .jpg, .tif or .npy file. 8- and 16-bit images are scaled to [0, 1]; float images and .npy
        arrays are kept as they are.
    allow_rgb : bool, optional
        Accept (M, N, 3) colour images; otherwise colour images are an error.

    Returns
    -------
    ndarray
        float32 array of shape (M, N), or (M, N, 3) for colour images.

    Raises
    ------
    InvscatError
        If the file is missing, empty, unreadable, not 2-D (or 3-channel), non-numeric or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise InvscatError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise InvscatError(f"{path}: the file is empty.")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InvscatError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of "
                           f"{', '.join(IMAGE_SUFFIXES)}.")
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile
            with quiet_logger("tifffile"):
                array = tifffile.imread(path)
        else:
            from skimage import io as skio
            array = skio.imread(path)
    except Exception:
        raise InvscatError(f"{path}: not a readable {suffix[1:]} file.") from None
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InvscatError(f"{path}: expected a numeric array, got dtype {array.dtype}.")
    if array.size == 0:
        raise InvscatError(f"{path}: the file holds no pixels (an empty or corrupt image).")
    if array.ndim == 3 and array.shape[-1] in (2, 4) and suffix != ".npy":
        array = array[..., :-1]  # drop the alpha channel of grey+alpha and RGBA images alike
        array = array[..., 0] if array.shape[-1] == 1 else array
    is_rgb = array.ndim == 3 and array.shape[-1] == 3
    if array.ndim != 2 and not (allow_rgb and is_rgb):
        expected = "(M, N) or (M, N, 3)" if allow_rgb else "(M, N)"
        raise InvscatError(f"{path}: expected a 2-D image of shape {expected}, got shape {array.shape}.")
    if array.dtype.kind in "iu" and suffix != ".npy":
        array = array / np.iinfo(array.dtype).max
    elif array.dtype == bool:
        array = array.astype(np.float32)
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InvscatError(f"{path}: the array contains NaN or infinite values.")
    return array


@contextlib.contextmanager
def quiet_logger(name: str):
    """Silence a library's logger for a block (tifffile logs what it finds wrong in a corrupt file; we say it once,
    in one sentence)."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


# The renames a run of all_or_nothing() has deferred: (temporary, target) pairs.
_PENDING: contextvars.ContextVar = contextvars.ContextVar("invscat_pending_writes", default=None)
# Longest file name a temporary may have (most filesystems allow 255 bytes).
_NAME_MAX = 255


def _temporary_name_fits(path: Path) -> bool:
    # mkstemp's name: "." + stem + "." + 8 random characters + suffix
    return len(os.fsencode(path.name)) + 10 <= _NAME_MAX


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` that becomes ``path`` only if the block succeeds.

    The one writer of the package: the temporary has a random name in the target folder and is created
    exclusively (so it never follows a link planted there); it is renamed over ``path`` at the end (replacing a
    link at ``path``, not writing through it) and removed on any failure. Inside :func:`all_or_nothing` the
    rename waits for the end of the whole run.
    """
    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise InvscatError(f"{path}: the folder {path.parent} does not exist.")
    if not _temporary_name_fits(path):
        raise InvscatError(f"{path}: the file name is too long to write safely; use a shorter one.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as error:
        raise InvscatError(f"{path}: cannot write there ({error.strerror}).") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    pending = _PENDING.get()
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions open() would
        if pending is not None:
            pending.append((tmp, path))
            return
        os.replace(tmp, path)
    except OSError as error:
        raise InvscatError(f"{path}: writing failed ({error.strerror}).") from None
    finally:
        if pending is None or not any(t == tmp for t, _ in pending):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


@contextlib.contextmanager
def all_or_nothing():
    """Within this block, every :func:`atomic_path` write is kept in its temporary until the block ends: then all
    are renamed into place, or, if the block fails (an error, Ctrl-C, SIGTERM), all are removed."""
    pending: list = []
    token = _PENDING.set(pending)
    try:
        yield
        for tmp, path in pending:
            os.replace(tmp, path)
        pending.clear()
    finally:
        _PENDING.reset(token)
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


@contextlib.contextmanager
def immediate_writes():
    """Within this block :func:`atomic_path` renames at once, even inside :func:`all_or_nothing`: for the slices
    of a stack, each complete on its own (``--resume`` keeps them)."""
    token = _PENDING.set(None)
    try:
        yield
    finally:
        _PENDING.reset(token)


def check_outputs(outputs, inputs=()) -> None:
    """Refuse, before any work, outputs that cannot be written or that would overwrite an input or each other.

    Parameters
    ----------
    outputs : iterable of path or None
        The files a run will write (None entries are skipped).
    inputs : iterable of path
        The files it reads.
    """
    seen = {}
    read = {Path(p).resolve(): Path(p) for p in inputs if p is not None}
    for path in (Path(p) for p in outputs if p is not None):
        if path.is_dir():
            raise InvscatError(f"{path}: is a directory; give a file name.")
        if not path.parent.is_dir():
            raise InvscatError(f"{path}: the folder {path.parent} does not exist.")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise InvscatError(f"{path}: the folder {path.parent} is not writable.")
        if not _temporary_name_fits(path):
            raise InvscatError(f"{path}: the file name is too long to write safely; use a shorter one.")
        resolved = path.resolve()
        if resolved in read:
            raise InvscatError(f"{path}: this output is the input {read[resolved]}; choose another name.")
        if resolved in seen:
            raise InvscatError(f"{path}: two outputs ({seen[resolved]} and {path}) name the same file.")
        seen[resolved] = path


# 8-bit outputs store [0, 1]; values this far outside it (a fraction of the range, as reconstruction ringing gives)
# are clipped, anything beyond is refused rather than clipped silently.
EIGHT_BIT_TOLERANCE = 0.05


def save_image(path, image: np.ndarray, *, rescale: bool = False) -> None:
    """Write an image atomically; the format follows the extension.

    .npy and .tif keep float32 values. .png and .jpg store 8 bits over [0, 1]: values within
    ``EIGHT_BIT_TOLERANCE`` (5%) outside [0, 1] are clipped; an image further outside is refused with a sentence
    pointing to .tif/.npy, unless ``rescale`` maps its [min, max] to [0, 1].

    Parameters
    ----------
    path : str or Path
    image : array_like
        (M, N) or (M, N, 3).
    rescale : bool
        For 8-bit outputs: map the image's [min, max] to [0, 1] instead of storing [0, 1].
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InvscatError(f"{path}: unsupported output type {suffix or '(none)'!r}; expected one of "
                           f"{', '.join(IMAGE_SUFFIXES)}.")
    image = np.asarray(image, dtype=np.float32)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)) or image.size == 0:
        raise InvscatError(f"{path}: an image is (M, N) or (M, N, 3), got shape {image.shape}.")
    if not np.isfinite(image).all():
        raise InvscatError(f"{path}: the image contains NaN or infinite values.")
    if suffix in (".png", ".jpg", ".jpeg"):
        low, high = float(image.min()), float(image.max())
        if rescale:
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        elif low < -EIGHT_BIT_TOLERANCE or high > 1 + EIGHT_BIT_TOLERANCE:
            raise InvscatError(f"{path}: the image spans [{low:.3g}, {high:.3g}], outside the [0, 1] an 8-bit "
                               f"{suffix[1:]} stores; write .tif or .npy to keep the values, or pass --rescale to "
                               "map [min, max] to [0, 1].")
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, image)
        elif suffix in (".tif", ".tiff"):
            import tifffile
            colour = image.ndim == 3 and image.shape[-1] == 3
            tifffile.imwrite(tmp, image, photometric="rgb" if colour else "minisblack")
        else:
            from skimage import io as skio
            skio.imsave(tmp, (np.clip(image, 0, 1) * 255).round().astype(np.uint8), check_contrast=False)


COEFFICIENT_FIELDS = ("coefficients", "J", "L", "max_order", "padding", "shape")


def save_coefficients(path, coefficients, *, J: int, L: int, max_order: int, padding: str, shape) -> None:
    """Write scattering coefficients (C, h, w) and the transform's parameters to a .npz file, atomically (the
    format ``invscat scatter`` writes and :func:`load_coefficients` reads)."""
    from invscat import __version__

    path = Path(path)
    if path.suffix != ".npz":
        raise InvscatError(f"{path}: coefficient files are .npz (lower case); give an output name ending in .npz.")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy appends .npz to names it does not recognise
            np.savez(f, coefficients=np.asarray(coefficients, np.float32), J=int(J), L=int(L),
                     max_order=int(max_order), padding=str(padding), shape=np.asarray(shape, np.int64),
                     invscat_version=__version__)


def load_coefficients(path) -> dict:
    """Read a coefficient file written by :func:`save_coefficients` (``invscat scatter``), checked field by field.

    Returns
    -------
    dict
        ``coefficients`` (float32 array (C, h, w)), ``J``, ``L``, ``max_order`` (int), ``padding`` (str) and
        ``shape`` (tuple of int).
    """
    path = Path(path)
    if not path.is_file():
        raise InvscatError(f"{path}: no such file.")
    try:
        with np.load(path, allow_pickle=False) as saved:
            fields = {key: saved[key] for key in saved.files}
    except Exception:
        raise InvscatError(f"{path}: not a readable .npz coefficient file.") from None
    missing = [key for key in COEFFICIENT_FIELDS if key not in fields]
    if missing:
        raise InvscatError(f"{path}: not a coefficient file from `invscat scatter` (it lacks {', '.join(missing)}).")
    out = {}
    for key in ("J", "L", "max_order"):
        value = fields[key]
        if value.shape != () or value.dtype.kind not in "iu":
            raise InvscatError(f"{path}: the field {key} must be one integer, got {value.dtype} of shape {value.shape}.")
        out[key] = int(value)
    if fields["padding"].shape != () or str(fields["padding"]) not in ("reflect", "periodic"):
        raise InvscatError(f"{path}: the field padding must be 'reflect' or 'periodic'.")
    out["padding"] = str(fields["padding"])
    shape = fields["shape"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or (shape < 1).any():
        raise InvscatError(f"{path}: the field shape must hold two positive integers.")
    out["shape"] = tuple(int(s) for s in shape)
    coefficients = fields["coefficients"]
    if coefficients.dtype.kind != "f" or coefficients.ndim != 3:
        raise InvscatError(f"{path}: the field coefficients must be a real float array (C, h, w), got "
                           f"{coefficients.dtype} of shape {coefficients.shape}.")
    if not np.isfinite(coefficients).all():
        raise InvscatError(f"{path}: the coefficients contain NaN or infinite values.")
    out["coefficients"] = coefficients.astype(np.float32)
    return out
