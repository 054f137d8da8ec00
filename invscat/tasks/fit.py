"""Fitting a scattering-domain estimator for a reconstruction task (what ``invscat fit`` runs), and the rules that
only training has (crop sizes, phantoms).

A :class:`~invscat.tasks.base.Task` fixes the forward model and the first reconstruction (TV with the task's
default weight). Training pairs are random crops of training images, degraded by the task's model with seeded noise
and reconstructed by TV; the estimator learns to predict the crops' scattering from that of their TV
reconstructions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from invscat import data
from invscat.estimators.convolutional import ConvolutionalEstimator
from invscat.estimators.ensemble import EnsembleEstimator
from invscat.estimators.restoration import RestorationEstimator
from invscat.estimators.scattering import ScatteringEstimator
from invscat.noise import check_seed
from invscat.io import IMAGE_SUFFIXES, InvscatError, load_image
from invscat.checks import check_count
from invscat.tasks.base import Task

BUILTIN = "builtin"


def training_images(source: str | Path = BUILTIN, size: int = 128, count: int = 192, phantoms: int = 0,
                    seed: int = 0, synthetic: int = 0, scales: tuple[int, ...] = (384,)) -> np.ndarray:
    """``count`` random square crops (random quarter turns and flips) of training images, plus phantoms and
    procedural images.

    Parameters
    ----------
    source : 'builtin' or path
        'builtin': :data:`invscat.data.TRAINING_IMAGES` (disjoint from the test images), resized to each side of
        ``scales``; or a directory of images (.png, .jpg, .tif, .npy; colour is converted to grey, each image
        scaled to [0, 1]).
    size, count, seed
        Crop side, number of crops, seed of the crop positions.
    phantoms : int
        Random ellipse / polygon phantoms added (for CT).
    synthetic : int
        Procedural images added, in turn from :data:`invscat.data.GENERATORS` (ellipses, polygons, dead leaves
        with textured leaves, head-like phantoms, stationary textures), with seeds from 20000 (the test phantoms
        use 1000 and 1001).
    scales : tuple of int
        Sides the builtin images are resized to before cropping (several: crops at several scales).
    """
    if source == BUILTIN:
        pool = [data.load_sample(name, max(side, size)) for side in scales for name in data.TRAINING_IMAGES]
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise InvscatError(f"{folder}: no such directory of training images.")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InvscatError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in the directory.")
        pool = [_grey(load_image(p)) for p in files]
        small = [p.name for p, image in zip(files, pool) if min(image.shape) < size]
        if small:
            raise InvscatError(f"{folder}: {small[0]} is smaller than the {size}x{size} training crops.")
    rng = np.random.default_rng(seed)
    crops = []
    for k in range(count):
        image = pool[k % len(pool)]
        i, j = (rng.integers(0, s - size + 1) for s in image.shape)
        crop = np.rot90(image[i:i + size, j:j + size], rng.integers(4))
        crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    for k in range(phantoms):
        crops.append((data.random_ellipses if k % 2 == 0 else data.random_polygons)(size, seed=100 + k))
    generators = list(data.GENERATORS.values())
    for k in range(synthetic):
        crops.append(generators[k % len(generators)](size, seed=20000 + seed * 100003 + k))
    return np.ascontiguousarray(np.stack(crops), dtype=np.float32)


def _grey(image: np.ndarray) -> np.ndarray:
    image = image.mean(axis=-1) if image.ndim == 3 else image
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def fit_estimator(task: Task, images: str | Path = BUILTIN, count: int = 192, *, size: int | None = None, J: int = 2,
                  radius: int = 1, batch: int = 16, seed: int = 0, kind: str = "ridge", synthetic: int = 0,
                  scales: tuple[int, ...] = (384,), epochs: int = 30, width: int | None = None, depth: int = 5,
                  uncertainty: bool = False, network_share: float = 0.7, dilations: tuple[int, ...] | None = None,
                  larger: tuple[int, ...] = (), initial: str | Path | None = None,
                  learning_rate: float = 1e-3, levels: int = 3, progress: Callable[..., None] | None = None,
                  client=None) -> ScatteringEstimator:
    """Fit a scattering estimator for ``task`` on crops of ``images``: the ridge
    (:class:`~invscat.estimators.ScatteringEstimator`), a :class:`~invscat.estimators.ConvolutionalEstimator`, or
    both on the same pairs, averaged (:class:`~invscat.estimators.EnsembleEstimator`).

    Parameters
    ----------
    task : Task
    images : 'builtin' or path
        See :func:`training_images`. Tasks with ``training_phantoms`` (CT) add that fraction of random phantoms.
    count : int
        Number of training crops.
    size : int, optional
        Side of the crops (default: the task's ``training_size``); the task's operator must accept it (a multiple
        of a super-resolution factor).
    J, radius : int
        Scattering scales and (ridge) neighbourhood radius of the estimator.
    batch : int
        Pairs per batch of first reconstructions (and normal equations).
    seed : int
        Seed of the crops, the noise and the validation split.
    kind : {'ridge', 'convolutional', 'ensemble', 'restoration'}
        The estimator (:class:`~invscat.estimators.RestorationEstimator`: the scattering of a U-Net's restored
        image, trained for ``epochs`` on ``learning_rate``).
    network_share : float
        'ensemble': the convolutional member's weight (the ridge has the rest); 0.7 was best on 30-view CT
        validation images.
    synthetic, scales
        Procedural training images added to the crops, and the sides the builtin images are cropped at
        (:func:`training_images`).
    epochs, width, depth, uncertainty, dilations
        The convolutional estimator (:class:`ConvolutionalEstimator` and its ``fit``); ``epochs``, ``width`` and
        ``levels`` also the restoration estimator's U-Net (default widths: 64 convolutional, 32 restoration).
    larger : tuple of int
        Sides of larger training images, simulated and reconstructed at their own size (the task at that size) and
        cut into ``size`` x ``size`` tiles, so that the estimator also learns the artefacts of larger images (CT's
        streaks at 256x256 are not those at 128x128); each side adds tiles for about a quarter of ``count`` and
        ``synthetic``. Multiples of ``size``.
    initial, learning_rate
        'convolutional' and 'ensemble': the network file to start from (fine-tuning, e.g. a family network for one
        setting) and Adam's initial step.
    progress : callable, optional
        Called as ``progress(done, total, stage)`` after every batch of reconstructions (stage
        'reconstructions') and every training epoch ('epochs').
    client : dask.distributed.Client, optional
        Spread the batches (simulated measurements, first reconstructions, normal-equation sums) over its workers;
        they are combined in batch order, so the estimator is the serial one (to float rounding).
    """
    if kind not in ("ridge", "convolutional", "ensemble", "restoration"):
        raise ValueError(f"unknown estimator kind {kind!r}; expected ridge, convolutional, ensemble or restoration.")
    if kind == "restoration" and initial is not None:
        raise ValueError("a restoration estimator is trained from scratch; --init is for convolutional networks.")
    if not 0 <= network_share <= 1:
        raise ValueError(f"the network's share of an ensemble must be in [0, 1], got {network_share}.")
    count = check_count("number of training crops", count, 2)
    check_seed(seed)
    size = task.training_size if size is None else check_count("training crop size", size, 2 ** (J + 2))
    task.operator((size, size))  # refuses a crop size the forward model cannot take, before any work
    network = None if initial is None or kind == "ridge" else ScatteringEstimator.load(initial)
    if network is not None and not isinstance(network, ConvolutionalEstimator):
        raise ValueError(f"{initial}: not a convolutional estimator, so no network to start from.")
    if network is not None and (network.J, network.L) != (J, 8):
        raise ValueError(f"{initial}: a network for J={network.J}, L={network.L}, not the J={J}, L=8 of this fit.")
    if network is not None:
        width, depth, dilations, uncertainty = network.width, network.depth, network.dilations, network.uncertainty
    initial_network = network
    if any(side % size for side in larger):
        raise ValueError(f"the larger training images' sides must be multiples of the crop size {size}, got {larger}.")
    sets = [(task, training_images(images, size, count, int(count * task.training_phantoms), seed,
                                   synthetic=synthetic, scales=tuple(scales)))]
    for k, side in enumerate(larger):
        tiles = (side // size) ** 2
        crops = -(-count // (4 * tiles))
        sets.append((_at_size(task, side),
                     training_images(images, side, crops, int(crops * task.training_phantoms), seed + 1 + k,
                                     synthetic=-(-synthetic // (4 * tiles)),
                                     scales=tuple(max(scale, side) for scale in scales))))
    metadata = {**task.metadata(), "noise": float(task.noise)}
    settings = dict(J=J, radius=radius, metadata=metadata)
    jobs, truth_tiles, offset = [], [], 0
    for job_task, truth in sets:
        held = np.random.default_rng(seed + offset).random(len(truth)) < 0.2
        held[0] = False
        for start in range(0, len(truth), batch):
            part, noise_seed = truth[start:start + batch], seed + 1000 + offset + start
            jobs.append((batch_sums, job_task, settings, part, held[start:start + batch], size, noise_seed)
                        if kind == "ridge" else (first_reconstructions, job_task, part, size, noise_seed))
        truth_tiles.append(_tiles(truth, size))
        offset += len(truth)
    truth = np.concatenate(truth_tiles)
    if client is None:
        parts = (job[0](*job[1:]) for job in jobs)
    else:
        futures = [client.submit(*job, pure=False) for job in jobs]
        parts = (future.result() for future in futures)  # in batch order: the same result as the serial loop
    results = []
    for done, part in enumerate(parts, 1):
        results.append(part)
        if progress is not None:
            progress(done, len(jobs), "reconstructions")
    if kind == "ridge":
        estimator = ScatteringEstimator(**settings)
        for part in results:
            estimator.add_sums(part)
        return estimator.fit()
    first = np.concatenate(results)
    report = None if progress is None else lambda row: progress(row["epoch"], epochs, "epochs")
    if kind == "restoration":
        return RestorationEstimator(J=J, width=width or 32, levels=levels, metadata=metadata).fit(
            first, truth, epochs=epochs, seed=seed, learning_rate=learning_rate, progress=report)
    network = ConvolutionalEstimator(J=J, width=width or 64, depth=depth, uncertainty=uncertainty, metadata=metadata,
                                     dilations=dilations)
    network.fit(first, truth, epochs=epochs, seed=seed, progress=report, initial=initial_network,
                learning_rate=learning_rate)
    if kind == "convolutional":
        return network
    ridge = ScatteringEstimator(J=J, radius=radius, metadata=metadata).fit(first, truth, seed=seed)
    return EnsembleEstimator([ridge, network], [1 - network_share, network_share], metadata)


def _at_size(task: Task, side: int) -> Task:
    """The task for images of ``side`` x ``side`` (tasks whose model depends on the image size have a size)."""
    fields = {field.name for field in dataclasses.fields(task)} if dataclasses.is_dataclass(task) else set()
    return dataclasses.replace(task, size=side) if "size" in fields and task.size is not None else task


def _tiles(images: np.ndarray, size: int) -> np.ndarray:
    """(B, n size, n size) images cut into (B n^2, size, size) tiles, row by row."""
    n = images.shape[-1] // size
    tiles = images.reshape(len(images), n, size, n, size).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(tiles.reshape(-1, size, size))


def first_reconstructions(task: Task, truth: np.ndarray, size: int, seed: int) -> np.ndarray:
    """One batch of training pairs' first reconstructions: simulated with ``seed``, reconstructed by TV, cut into
    ``size`` x ``size`` tiles."""
    return _tiles(task.first_reconstruction(task.measure(truth, seed)), size)


def batch_sums(task: Task, settings: dict, truth: np.ndarray, held: np.ndarray, size: int, seed: int) -> dict:
    """One batch of training pairs: simulate, reconstruct by TV, cut into ``size`` x ``size`` tiles, and return
    the estimator's normal-equation sums (:meth:`ScatteringEstimator.add_sums` adds them)."""
    first = first_reconstructions(task, truth, size, seed)
    tiles = first.shape[0] // truth.shape[0]
    truth, held = _tiles(truth, size), np.repeat(held, tiles)
    part = ScatteringEstimator(**settings)
    for split, mask in (("train", ~held), ("validation", held)):
        if mask.any():
            part.partial_fit(first[mask], truth[mask], split)
    return part.sums()
