"""Stacks of 2-D slices: what the reconstruction commands read (a 3-D .npy, a multi-page .tif, a .zarr array, a
directory of 2-D images, or an array in memory) and write (the same kinds), a slice at a time, so that each worker
reads and writes only its own slices.

A stack is (slices, rows, columns) in invscat's order; for sinograms (slices, views, detectors). Other tools store
them differently, named by :data:`LAYOUTS`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from invscat.io import (IMAGE_SUFFIXES, InvscatError, atomic_path, immediate_writes, load_image, quiet_logger,
                        save_image)

# Axis order of a stored sinogram stack and of one sinogram, in letters: s slice, v view, d detector.
LAYOUTS: dict[str, tuple[str, str]] = {
    "invscat": ("svd", "vd"),
    "astra": ("svd", "vd"),     # ASTRA's 3-D projection data: (detector rows, views, detector columns)
    "tomopy": ("vsd", "vd"),    # TomoPy's projections: (views, detector rows, detector columns)
    "skimage": ("sdv", "dv"),   # skimage.transform.radon: (detectors, angles)
}
ZARR_SUFFIX = ".zarr"
STACK_FILE_SUFFIXES = (".npy", ".tif", ".tiff")


def canonical(array, layout: str):
    """``array`` (a 2-D sinogram or a 3-D stack of them, numpy or dask) stored in ``layout``, in invscat's order.

    Examples
    --------
    >>> canonical(np.zeros((183, 30)), "skimage").shape
    (30, 183)
    >>> canonical(np.zeros((30, 4, 183)), "tomopy").shape
    (4, 30, 183)
    """
    if layout not in LAYOUTS:
        raise InvscatError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}.")
    stored = LAYOUTS[layout][0 if array.ndim == 3 else 1]
    wanted = "svd" if array.ndim == 3 else "vd"
    return array.transpose([stored.index(axis) for axis in wanted])


@functools.lru_cache(maxsize=8)
def _open_file(path: str, kind: str, stamp: tuple):
    """The stored array of a stack file, opened lazily (memory-mapped where the format allows); ``stamp`` (size,
    mtime) makes a changed file open afresh."""
    if kind == "npy":
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if kind == "zarr":
        import zarr
        return zarr.open_array(path, mode="r")
    import tifffile
    try:
        return tifffile.memmap(path, mode="r")
    except ValueError:  # compressed or tiled pages cannot be mapped: read them once
        return tifffile.imread(path)


def _stamp(path: Path) -> tuple:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@dataclass(frozen=True)
class Stack:
    """A stack of 2-D slices, read one slice at a time.

    Attributes
    ----------
    source : str or ndarray
        The path of a .npy/.tif/.zarr file or of a directory, or an array in memory (numpy or dask).
    kind : str
        'npy', 'tif', 'zarr', 'directory' or 'memory'.
    shape : tuple of int
        (slices, rows, columns) in invscat's order.
    layout : str
        How the stored axes are ordered (:data:`LAYOUTS`).
    names : tuple of str
        For a directory, its files (sorted by name), one per slice.
    """

    source: object
    kind: str
    shape: tuple
    layout: str = "invscat"
    names: tuple = ()
    integer_scale: float | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def slice_shape(self) -> tuple[int, int]:
        return tuple(self.shape[1:])

    @property
    def in_memory(self) -> bool:
        return self.kind == "memory"

    def read(self, k: int) -> np.ndarray:
        """Slice ``k`` as float32 (invscat's order). Integer images from .tif files are scaled to [0, 1] as
        :func:`invscat.io.load_image` scales them."""
        axes = LAYOUTS[self.layout][0]
        if self.kind == "directory":
            plane = load_image(Path(self.source) / self.names[k], allow_rgb=len(self.shape) == 4)
            return plane.T if axes.replace("s", "") != "vd" else plane
        else:
            stored = self.source if self.kind == "memory" else _open_file(str(self.source), self.kind,
                                                                           _stamp(Path(self.source)))
            index = [slice(None)] * 3
            index[axes.index("s")] = k
            plane = np.asarray(stored[tuple(index)])
        if axes.replace("s", "") != "vd":  # the slice's own two axes are stored transposed
            plane = plane.T
        if self.integer_scale is not None:
            return (plane / self.integer_scale).astype(np.float32)
        return np.array(plane, np.float32)  # a copy: memory-mapped files are read-only


def open_stack(path_or_array, layout: str = "invscat", colour: bool = False) -> Stack | None:
    """The stack at ``path_or_array``, or None when it holds one 2-D image (or, with ``colour``, one colour image).

    Parameters
    ----------
    path_or_array : path, ndarray or dask array
        A 3-D .npy, a multi-page .tif, a .zarr array, a directory of 2-D images, or a 3-D array.
    layout : str
        The order of the stored axes (:data:`LAYOUTS`); the default is (slices, rows, columns).
    colour : bool
        Whether an (M, N, 3) file is a colour image (super-resolution, deblurring) rather than a stack of three.

    Examples
    --------
    >>> open_stack(np.zeros((4, 30, 183), np.float32)).shape
    (4, 30, 183)
    >>> open_stack(np.zeros((30, 4, 183), np.float32), "tomopy").read(0).shape
    (30, 183)
    """
    if layout not in LAYOUTS:
        raise InvscatError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}.")
    if not isinstance(path_or_array, (str, os.PathLike)):
        array = path_or_array
        if array.ndim != 3:
            raise InvscatError(f"a stack is a 3-D array, got shape {tuple(array.shape)}.")
        return Stack(array, "memory", tuple(canonical(np.empty(array.shape, bool), layout).shape), layout)
    path = Path(path_or_array)
    if path.is_dir() and path.suffix.lower() != ZARR_SUFFIX:
        return _open_directory(path, layout, colour)
    if path.suffix.lower() == ZARR_SUFFIX:
        if not path.exists():
            raise InvscatError(f"{path}: no such zarr array.")
        try:
            stored = _open_file(str(path), "zarr", _stamp(path))
        except Exception:
            raise InvscatError(f"{path}: not a readable zarr array (a zarr group needs the array's own path).") from None
        return _file_stack(path, "zarr", stored.shape, stored.dtype, layout, None)
    if not path.is_file() or path.suffix.lower() not in STACK_FILE_SUFFIXES or path.stat().st_size == 0:
        return None  # a single image, or something load_image will explain
    kind = "npy" if path.suffix.lower() == ".npy" else "tif"
    try:
        if kind == "npy":
            stored = np.load(path, mmap_mode="r", allow_pickle=False)
            shape, dtype, is_colour = stored.shape, stored.dtype, stored.ndim == 3 and stored.shape[-1] == 3
        else:
            import tifffile
            with quiet_logger("tifffile"), tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                shape, dtype, is_colour = series.shape, series.dtype, "S" in series.axes
    except Exception:
        return None  # load_image reports unreadable files in one sentence
    if len(shape) != 3 or (colour and is_colour) or dtype.kind not in "biuf":
        return None
    scale = float(np.iinfo(dtype).max) if kind == "tif" and dtype.kind in "iu" else None
    return _file_stack(path, kind, shape, dtype, layout, scale)


def _file_stack(path: Path, kind: str, shape, dtype, layout: str, scale) -> Stack:
    if len(shape) != 3:
        raise InvscatError(f"{path}: a stack is a 3-D array, got shape {tuple(shape)}.")
    if np.dtype(dtype).kind not in "biuf":
        raise InvscatError(f"{path}: expected a numeric array, got dtype {dtype}.")
    if 0 in shape:
        raise InvscatError(f"{path}: the stack holds no slices (shape {tuple(shape)}).")
    shape = canonical(np.empty(shape, bool), layout).shape
    return Stack(str(path), kind, tuple(int(s) for s in shape), layout, integer_scale=scale)


def _open_directory(path: Path, layout: str, colour: bool = False) -> Stack:
    """A directory of 2-D images (with ``colour``, of colour images too: then every slice is (M, N, 3), as the
    first)."""
    names = tuple(sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                         and not p.name.startswith(".")))
    if not names:
        raise InvscatError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in the directory.")
    first = load_image(path / names[0], allow_rgb=colour)
    if LAYOUTS[layout][1] == "dv":
        first = first.T
    return Stack(str(path), "directory", (len(names), *first.shape), layout, names)


# -- where the slices go -------------------------------------------------------------------------------------


def output_kind(path) -> str:
    """'zarr', 'npy', 'tif' or 'directory', from the output's name (no image suffix: a directory)."""
    suffix = Path(path).suffix.lower()
    if suffix == ZARR_SUFFIX:
        return "zarr"
    if suffix in STACK_FILE_SUFFIXES:
        return "npy" if suffix == ".npy" else "tif"
    if suffix in IMAGE_SUFFIXES:
        raise InvscatError(f"{path}: a stack's output is a .zarr array, a .npy or .tif stack or a directory; a "
                           f"{suffix} file holds one image.")
    return "directory"


@dataclass(frozen=True)
class SliceStore:
    """Where a worker writes slice ``k``: a chunk of a zarr array (one slice per chunk) or a file in a directory;
    each write is atomic, so a slice is either complete or absent."""

    path: str
    kind: str  # 'zarr' or 'directory'
    names: tuple
    rescale: bool = False

    def write(self, k: int, image: np.ndarray) -> None:
        if self.kind == "zarr":
            import zarr
            zarr.open_array(self.path, mode="r+")[k] = image  # zarr's local store writes each chunk atomically
        else:
            with immediate_writes():
                save_image(Path(self.path) / self.names[k], image, rescale=self.rescale)

    def completed(self, count: int) -> set[int]:
        """The slices already written."""
        if self.kind == "zarr":
            import zarr
            stored = zarr.open_array(self.path, mode="r")
            corner = stored[(slice(None),) + (0,) * (stored.ndim - 1)]  # unwritten chunks read as the NaN fill
            return set(np.flatnonzero(~np.isnan(corner)).tolist())
        return {k for k in range(count) if (Path(self.path) / self.names[k]).is_file()}


class StackOutput:
    """The output of a stack run, prepared before any work: ``store`` is what workers write to; :meth:`finish`
    completes it. A .npy or .tif stack is assembled at the end from per-slice files kept in a hidden folder beside
    it (``.NAME.slices``), which ``--resume`` reuses after a failed run."""

    def __init__(self, path, count: int, slice_shape, *, names=(), resume: bool = False, rescale: bool = False):
        self.path, self.count, self.slice_shape = Path(path), int(count), tuple(slice_shape)
        self.kind = output_kind(path)
        if not self.path.parent.is_dir():
            raise InvscatError(f"{self.path}: the folder {self.path.parent} does not exist.")
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise InvscatError(f"{self.path}: the folder {self.path.parent} is not writable.")
        self.created = not self.path.exists() and not (self.kind in ("npy", "tif") and self.checkpoint.exists())
        if self.kind == "zarr":
            self.store = SliceStore(str(self.path), "zarr", ())
            self._prepare_zarr(resume)
        else:
            folder = self.path if self.kind == "directory" else self.checkpoint
            if self.kind == "directory":
                names = tuple(names) or tuple(f"slice_{k:05d}.tif" for k in range(count))
            else:
                names = tuple(f"{k:05d}.npy" for k in range(count))
                if not resume and folder.exists():
                    shutil.rmtree(folder)
            if folder.exists() and not folder.is_dir():
                raise InvscatError(f"{folder}: exists and is not a directory.")
            folder.mkdir(exist_ok=True)
            self.store = SliceStore(str(folder), "directory", names, rescale)
        self.resume = resume

    @property
    def checkpoint(self) -> Path:
        """The hidden folder of finished slices of a .npy/.tif output."""
        return self.path.with_name(f".{self.path.name}.slices")

    def _prepare_zarr(self, resume: bool) -> None:
        import zarr
        shape = (self.count, *self.slice_shape)
        if resume and self.path.exists():
            try:
                existing = zarr.open_array(str(self.path), mode="r")
            except Exception:
                raise InvscatError(f"{self.path}: not a zarr array to resume; remove it or drop --resume.") from None
            if existing.shape != shape:
                raise InvscatError(f"{self.path}: holds shape {existing.shape}, but this run makes {shape}; remove "
                                   "it or drop --resume.")
            return
        if self.path.exists() and not (self.path / "zarr.json").exists() and not (self.path / ".zarray").exists():
            raise InvscatError(f"{self.path}: exists and is not a zarr array; choose another output.")
        zarr.open_array(str(self.path), mode="w", shape=shape, chunks=(1, *self.slice_shape), dtype="float32",
                        fill_value=np.nan)

    def completed(self) -> set[int]:
        """Slices already complete (only with ``resume``)."""
        return self.store.completed(self.count) if self.resume else set()

    def discard(self) -> None:
        """Remove what this run created (when no slice was written, nothing is worth resuming)."""
        if self.kind in ("npy", "tif"):
            shutil.rmtree(self.checkpoint, ignore_errors=True)
        elif self.created:
            shutil.rmtree(self.path, ignore_errors=True)

    def finish(self) -> None:
        """After every slice is written: assemble a .npy/.tif stack (atomically) and drop its checkpoint folder;
        remove the temporaries of writes a killed worker left in a zarr array."""
        if self.kind == "zarr":
            for leftover in self.path.rglob("*.partial"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            return
        if self.kind == "directory":
            return
        folder = Path(self.store.path)
        slices = (np.load(folder / name) for name in self.store.names)
        with immediate_writes(), atomic_path(self.path) as tmp:  # complete: no reason to wait
            if self.kind == "npy":
                stack = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                                  shape=(self.count, *self.slice_shape))
                for k, image in enumerate(slices):
                    stack[k] = image
                stack.flush()
                del stack
            else:
                import tifffile
                tifffile.imwrite(tmp, slices, shape=(self.count, *self.slice_shape), dtype=np.float32,
                                 photometric="rgb" if len(self.slice_shape) == 3 else "minisblack")
        shutil.rmtree(folder)
