"""The Radon transform (parallel and fan beam) through astra-toolbox, with ASTRA's matched backprojection."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from invscat.checks import check_count
from invscat.operators.base import LinearOperator

GEOMETRIES = ("parallel", "fan")
CPU_PROJECTORS = {"parallel": ("linear", "line", "strip"), "fan": ("line_fanflat", "strip_fanflat")}


def _astra():
    import astra
    return astra


def cuda_available() -> bool:
    """Whether ASTRA was built with CUDA and sees a GPU."""
    try:
        return bool(_astra().use_cuda())
    except Exception:
        return False


def default_detectors(shape) -> int:
    """ceil(sqrt(2) max(M, N)) + 1: enough unit-width detectors to cover the image's diagonal."""
    return int(np.ceil(np.sqrt(2) * max(shape))) + 1


def skimage_convention(side: int, detectors: int) -> dict:
    """The geometry of a sinogram made by ``skimage.transform.radon`` of a ``side`` x ``side`` image on
    ``detectors`` cells (``circle=False``: detectors = ceil(sqrt(2) side); ``circle=True``: detectors = side), as
    :class:`Radon` keyword arguments.

    scikit-image pads the image so that its pixel ``side // 2`` (in both axes) lands on the rotation axis, so the
    image's centre, index ``(side - 1) / 2``, is half a pixel off it for even sides; detector cell ``k`` lies at
    ``k - detectors // 2`` from the axis.

    Examples
    --------
    >>> skimage_convention(256, 363)
    {'axis_offset': 0.0, 'image_offset': (-0.5, 0.5)}
    """
    offset = (side - 1) / 2 - side // 2  # image centre - axis, in index units (pixel side // 2 sits on the axis)
    return {"axis_offset": detectors // 2 - (detectors - 1) / 2, "image_offset": (offset, -offset)}


def skimage_side(detectors: int, circle: bool = False) -> int:
    """The image side behind a ``skimage.transform.radon`` sinogram of ``detectors`` cells (its rule,
    ceil(sqrt(2) side) cells, inverted exactly; ``circle=True``: the side is the detector count).

    >>> [skimage_side(int(np.ceil(np.sqrt(2) * n))) for n in (127, 128, 255, 256)]
    [127, 128, 255, 256]
    """
    return int(detectors) if circle else int(np.floor(int(detectors) / np.sqrt(2)))


def covered_side(detectors: int) -> int:
    """The largest square image side whose :func:`default_detectors` fits in ``detectors``: the inverse of that
    rule, used to guess the image size of a measured sinogram."""
    side = max(1, int((int(detectors) - 1) / np.sqrt(2)))
    while side > 1 and default_detectors((side, side)) > detectors:
        side -= 1
    while default_detectors((side + 1, side + 1)) <= detectors:
        side += 1
    return side


class Radon(LinearOperator):
    """Line integrals of an image along the rays of a parallel- or fan-beam scanner (ASTRA).

    Parameters
    ----------
    shape : tuple of int
        Image shape (M, N); the image covers [-N/2, N/2] x [-M/2, M/2] in pixel units.
    angles : int or array_like
        Projection angles in radians, or a number of views spread evenly over [0, pi) (parallel) or
        [0, 2 pi) (fan).
    detectors : int, optional
        Number of detector cells (default ``ceil(sqrt(2) max(M, N)) + 1``).
    geometry : {'parallel', 'fan'}
        Beam geometry. Fan beam uses a flat detector.
    source_distance, detector_distance : float, optional
        Fan beam: distances from the rotation centre to the source (default 2 max(M, N)) and to the detector
        (default max(M, N)), in pixels.
    detector_spacing : float, optional
        Width of a detector cell in pixels; default 1 (parallel) or the fan magnification
        (source + detector distance) / source distance, so that the default detector covers the image.
    projector : str, optional
        ASTRA projector: 'linear' (parallel default), 'line', 'strip', 'line_fanflat' (fan default),
        'strip_fanflat', or 'cuda' (the default when ASTRA has CUDA).
    axis_offset : float, optional
        Where the rotation axis falls on the detector, in cells from the detector's centre (TomoPy's rotation
        centre is ``(detectors - 1) / 2 + axis_offset`` as a column index). Default 0.
    image_offset : (float, float), optional
        Position (dx, dy) of the image's centre relative to the rotation axis, in pixels, x along the columns and
        y up the rows. Default (0, 0); :func:`skimage_convention` gives scikit-image's.

    Notes
    -----
    Computed in float32 by ASTRA on the CPU (or its GPU code with ``projector='cuda'``); the adjoint is ASTRA's
    backprojection with the same projector, exact to float32 rounding. Batches are projected one image at a
    time. Differentiable: autograd's backward pass of ``A(x)`` is ``A.adjoint``.
    """

    torch_native = False

    def __init__(self, shape, angles, detectors: int | None = None, geometry: str = "parallel",
                 source_distance: float | None = None, detector_distance: float | None = None,
                 detector_spacing: float | None = None, projector: str | None = None, axis_offset: float = 0.0,
                 image_offset=(0.0, 0.0)):
        M, N = (int(s) for s in shape)
        if M < 1 or N < 1:
            raise ValueError(f"the image shape must be positive, got {(M, N)}.")
        if geometry not in GEOMETRIES:
            raise ValueError(f"unknown geometry {geometry!r}; expected one of {', '.join(GEOMETRIES)}.")
        if np.ndim(angles) == 0:
            views = check_count("number of views", angles.item() if isinstance(angles, np.ndarray) else angles)
            arc = np.pi if geometry == "parallel" else 2 * np.pi
            angles = np.linspace(0, arc, views, endpoint=False)
        angles = np.asarray(angles, dtype=np.float64).ravel()
        if angles.size == 0:
            raise ValueError("at least one projection angle is needed.")
        if not np.isfinite(angles).all():
            raise ValueError("the projection angles must be finite numbers.")
        detectors = default_detectors((M, N)) if detectors is None else int(detectors)
        if detectors < 1:
            raise ValueError(f"the number of detectors must be at least 1, got {detectors}.")
        size = max(M, N)
        if geometry == "fan":
            source_distance = 2.0 * size if source_distance is None else float(source_distance)
            detector_distance = 1.0 * size if detector_distance is None else float(detector_distance)
            if not (np.isfinite(source_distance) and np.isfinite(detector_distance)):
                raise ValueError("the fan-beam source and detector distances must be finite.")
            if source_distance <= np.hypot(M, N) / 2 or detector_distance < 0:
                raise ValueError(f"the fan-beam source must lie outside the image (distance > {np.hypot(M, N) / 2:.1f} "
                                 f"pixels) and the detector distance must be >= 0.")
            magnification = (source_distance + detector_distance) / source_distance
            spacing = magnification if detector_spacing is None else float(detector_spacing)
        else:
            spacing = 1.0 if detector_spacing is None else float(detector_spacing)
        if not np.isfinite(spacing) or spacing <= 0:
            raise ValueError(f"the detector spacing must be a positive number, got {spacing}.")
        use_cuda = cuda_available()
        projector = projector or ("cuda" if use_cuda else CPU_PROJECTORS[geometry][0])
        if projector == "cuda" and not use_cuda:
            raise ValueError("the 'cuda' projector was requested but ASTRA has no CUDA device on this machine.")
        if projector != "cuda" and projector not in CPU_PROJECTORS[geometry]:
            raise ValueError(f"projector {projector!r} does not fit {geometry} beam; expected one of "
                             f"{', '.join(CPU_PROJECTORS[geometry] + ('cuda',))}.")

        axis_offset = float(axis_offset)
        image_offset = tuple(float(v) for v in np.broadcast_to(np.asarray(image_offset, np.float64), (2,)))
        if not (np.isfinite(axis_offset) and np.isfinite(image_offset).all()):
            raise ValueError("the rotation-axis and image offsets must be finite numbers.")
        self.axis_offset, self.image_offset = axis_offset, image_offset
        self.geometry, self.angles, self.detectors, self.projector = geometry, angles, detectors, projector
        self.detector_spacing, self.source_distance, self.detector_distance = spacing, source_distance, detector_distance
        self.domain_shape, self.range_shape = (M, N), (angles.size, detectors)
        self._astra_objects = None
        self._parts = {}

    # -- ASTRA plumbing: linked buffers and algorithm objects made once, reused for every call --------------

    def geometries(self):
        """ASTRA's (volume geometry, projection geometry) dictionaries for this operator."""
        astra = _astra()
        M, N = self.domain_shape
        dx, dy = self.image_offset
        volume = astra.create_vol_geom(M, N, -N / 2 + dx, N / 2 + dx, -M / 2 + dy, M / 2 + dy)
        if self.geometry == "parallel":
            projection = astra.create_proj_geom("parallel", self.detector_spacing, self.detectors, self.angles)
        else:
            projection = astra.create_proj_geom("fanflat", self.detector_spacing, self.detectors, self.angles,
                                                self.source_distance, self.detector_distance)
        if self.axis_offset:
            # a detector moved by -offset cells puts the axis at +offset from its centre
            projection = astra.geom_postalignment(astra.geom_2vec(projection), -self.axis_offset)
        return volume, projection

    def link(self):
        """ASTRA objects for this geometry: zeroed float32 image and sinogram buffers linked to ASTRA data, and
        the projector (None for 'cuda', whose algorithms need none).

        Returns
        -------
        image, sinogram : ndarray
        ids : dict
            ``image``, ``sinogram`` (data ids) and ``projector``; free them with :meth:`release`.
        """
        astra = _astra()
        volume, projection = self.geometries()
        image = np.zeros(self.domain_shape, np.float32)
        sinogram = np.zeros(self.range_shape, np.float32)
        ids = dict(image=astra.data2d.link("-vol", volume, image),
                   sinogram=astra.data2d.link("-sino", projection, sinogram),
                   projector=None if self.projector == "cuda" else astra.create_projector(self.projector, projection, volume))
        return image, sinogram, ids

    def algorithm(self, name: str, ids: dict, **config):
        """Create ASTRA algorithm ``name`` (``_CUDA`` appended for the cuda projector) on the linked data ``ids``."""
        astra = _astra()
        settings = astra.astra_dict(name + ("_CUDA" if self.projector == "cuda" else ""))
        settings.update(ProjectionDataId=ids["sinogram"], **config)
        if ids["projector"] is not None:
            settings["ProjectorId"] = ids["projector"]
        return astra.algorithm.create(settings)

    @staticmethod
    def release(ids: dict, *algorithms):
        """Free the ASTRA objects made by :meth:`link` and :meth:`algorithm`."""
        astra = _astra()
        if algorithms:
            astra.algorithm.delete(list(algorithms))
        astra.data2d.delete([ids["image"], ids["sinogram"]])
        if ids["projector"] is not None:
            astra.projector.delete(ids["projector"])

    def run_algorithm(self, name: str, sinograms: np.ndarray, iters: int = 1, options: dict | None = None
                      ) -> np.ndarray:
        """Run ASTRA's reconstruction algorithm ``name`` ('FBP', 'SIRT', 'CGLS', ...) on each sinogram of a batch
        (B, views, detectors), from a zero image, for ``iters`` iterations: images (B, M, N), float32."""
        astra = _astra()
        image, sinogram, ids = self.link()
        algorithm = self.algorithm(name, ids, ReconstructionDataId=ids["image"], option=dict(options or {}))
        out = np.empty((sinograms.shape[0], *self.domain_shape), np.float32)
        try:
            for i, item in enumerate(sinograms):
                np.copyto(sinogram, item)
                image[...] = 0
                astra.algorithm.run(algorithm, iters)
                out[i] = image
        finally:
            self.release(ids, algorithm)
        return out

    def _objects(self):
        if self._astra_objects is None:
            image, sinogram, ids = self.link()
            forward = self.algorithm("FP", ids, VolumeDataId=ids["image"])
            backward = self.algorithm("BP", ids, ReconstructionDataId=ids["image"])
            self._astra_objects = dict(image=image, sinogram=sinogram, ids=ids, forward=forward, backward=backward)
        return self._astra_objects

    def __del__(self):
        objects = getattr(self, "_astra_objects", None)
        if objects is None:
            return
        try:
            self.release(objects["ids"], objects["forward"], objects["backward"])
        except Exception:  # interpreter shutdown
            pass

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_astra_objects"], state["_parts"] = None, {}
        return state

    def parts(self, count: int) -> list[tuple[np.ndarray, "Radon"]]:
        """The operator split into ``count`` operators on consecutive groups of views: (view indices, operator)."""
        count = max(1, min(int(count), self.range_shape[0]))
        if count not in self._parts:
            groups = np.array_split(np.arange(self.range_shape[0]), count)
            self._parts[count] = [(views, Radon(self.domain_shape, self.angles[views], self.detectors, self.geometry,
                                                self.source_distance, self.detector_distance, self.detector_spacing,
                                                self.projector, self.axis_offset, self.image_offset))
                                  for views in groups]
        return self._parts[count]

    def _run(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        """ASTRA's CPU projectors are single-threaded but release the GIL: with torch's threads > 1, groups of
        views run at once in a thread pool (the forward pass stacks them, the adjoint adds them)."""
        threads = 1 if self.projector == "cuda" else min(torch.get_num_threads(), self.range_shape[0])
        if threads == 1:
            return self._run_serial(x, adjoint)
        parts = self.parts(threads)
        values = x.detach().to("cpu", torch.float32)
        pool = _thread_pool(threads)
        if adjoint:
            images = list(pool.map(lambda part: part[1]._run_serial(values[:, part[0]], True), parts))
            out = torch.stack(images).sum(0)
        else:
            out = torch.cat(list(pool.map(lambda part: part[1]._run_serial(values, False), parts)), dim=-2)
        return out.to(device=x.device, dtype=x.dtype)

    def _run_serial(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        astra = _astra()
        objects = self._objects()
        source, target = ("sinogram", "image") if adjoint else ("image", "sinogram")
        algorithm = objects["backward" if adjoint else "forward"]
        values = x.detach().to("cpu", torch.float32).numpy()
        out = np.empty((values.shape[0], *objects[target].shape), np.float32)
        for i, item in enumerate(values):
            np.copyto(objects[source], item)
            astra.algorithm.run(algorithm)
            out[i] = objects[target]
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    def _forward(self, x):
        return self._run(x, adjoint=False)

    def _adjoint(self, y):
        return self._run(y, adjoint=True)


@functools.lru_cache(maxsize=4)
def _thread_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="invscat-astra")


def sparse_view(shape, views: int, **kwargs) -> Radon:
    """Parallel-beam (or ``geometry='fan'``) Radon transform with ``views`` angles evenly spread over 180 degrees
    (360 for fan beam)."""
    return Radon(shape, int(views), **kwargs)


def limited_angle(shape, views: int, arc_degrees: float, start_degrees: float = 0.0, **kwargs) -> Radon:
    """Radon transform with ``views`` angles evenly spread over an arc of ``arc_degrees`` (the missing wedge
    is the rest of 180 degrees)."""
    if not np.isfinite(arc_degrees) or arc_degrees <= 0:
        raise ValueError(f"the angular arc must be a positive number of degrees, got {arc_degrees}.")
    if int(views) < 1:
        raise ValueError(f"the number of views must be at least 1, got {views}.")
    angles = np.deg2rad(start_degrees + np.arange(int(views)) * arc_degrees / int(views))
    return Radon(shape, angles, **kwargs)
