"""Reconstructing a stack slice by slice on Dask: each slice goes through :meth:`Task.run` exactly as the 2-D command
would take it, on whichever worker is free; a slice that fails (bad data) fails alone."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from invscat.io import InvscatError
from invscat.stacks.formats import Stack, StackOutput, canonical, open_stack
from invscat.tasks.base import Task

PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class SliceJob:
    """What every slice of a run shares: the task, the method and its options, simulation and seed, and the
    torch threads per worker (None: leave the worker's setting)."""

    task: Task
    method: str = "tv"
    options: tuple = ()  # (name, value) pairs passed to Task.run: lam, iters, estimator, device
    simulate: bool = False
    seed: int = 0
    threads: int | None = None

    def solve(self, data: np.ndarray):
        """Slice ``data`` through :meth:`Task.run`: the :class:`~invscat.tasks.base.Run`."""
        if self.threads is not None:
            import torch
            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        channel_axis = -1 if data.ndim == 3 else None  # a colour slice
        return self.task.run(data, self.method, simulate=self.simulate, seed=self.seed, channel_axis=channel_axis,
                             **dict(self.options))


def solve_slice(job: SliceJob, stack: Stack, store, k: int, data: np.ndarray | None = None) -> dict:
    """Read slice ``k`` (or take ``data``), reconstruct it, write it to ``store``: its metrics row, or a row with
    ``error`` when the slice itself is bad (the others go on)."""
    from invscat.metrics import psnr, ssim

    start = time.perf_counter()
    try:
        data = stack.read(k) if data is None else np.asarray(data, np.float32)
        if data.shape != stack.slice_shape:
            raise InvscatError(f"has shape {data.shape}, but the stack's slices are {stack.slice_shape}")
        run = job.solve(data)
        store.write(k, run.result.image)
    except ValueError as error:  # InvscatError included: a bad slice, said in one sentence
        return {"index": k, "error": str(error).rstrip(".")}
    image, truth = run.result.image, run.truth
    return {"index": k, "time_s": time.perf_counter() - start, "iterations": run.result.iterations,
            "psnr": None if truth is None else psnr(image, truth), "ssim": None if truth is None else ssim(image, truth)}


@dataclass
class StackReport:
    """What a stack run did: a row per slice run (index, time_s, iterations, psnr, ssim; or index and error), the
    slices skipped as complete, and the totals."""

    rows: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    time_s: float = 0.0

    @property
    def failed(self) -> list:
        return [row for row in self.rows if "error" in row]

    def totals(self) -> dict:
        done = [row for row in self.rows if "error" not in row]
        scores = [row["psnr"] for row in done if row.get("psnr") is not None]
        return {"slices": len(self.rows) + len(self.skipped), "reconstructed": len(done),
                "skipped": len(self.skipped), "failed": len(self.failed), "time_s": self.time_s,
                "slices_per_s": len(done) / self.time_s if self.time_s > 0 else None,
                "mean_psnr": float(np.mean(scores)) if scores else None}


def run_stack(job: SliceJob, stack: Stack, output: StackOutput, client=None, *,
              progress: Callable[[int, int], None] | None = None) -> StackReport:
    """Reconstruct every slice of ``stack`` not yet complete in ``output``, on ``client``'s workers (None: one by
    one in this process), and complete the output when none failed.

    Slices are submitted a few per worker thread at a time (memory stays bounded); a slice whose worker dies is
    rerun by the scheduler on another; a bad slice comes back as a row with ``error``.
    """
    report = StackReport(skipped=sorted(output.completed()))
    todo = [k for k in range(len(stack)) if k not in set(report.skipped)]
    start = time.perf_counter()
    if client is None:
        for done, k in enumerate(todo, 1):
            report.rows.append(solve_slice(job, stack, output.store, k))
            if progress is not None:
                progress(done, len(todo))
    else:
        report.rows = _on_cluster(job, stack, output.store, todo, client, progress)
    report.time_s = time.perf_counter() - start
    report.rows.sort(key=lambda row: row["index"])
    if not report.failed:
        output.finish()
    return report


def _on_cluster(job, stack, store, todo, client, progress) -> list:
    from dask.distributed import as_completed
    from distributed.scheduler import KilledWorker

    window = 2 * max(1, sum(client.nthreads().values()))
    pending = iter(todo)
    index = {}
    # workers read files themselves; slices of an array in memory are sent one by one, not the whole array
    described = dataclasses.replace(stack, source=None) if stack.in_memory else stack

    def submit(k):
        data = stack.read(k) if stack.in_memory else None
        future = client.submit(solve_slice, job, described, store, k, data, pure=False)
        index[future.key] = k
        return future

    queue = as_completed([submit(k) for k in itertools.islice(pending, window)])
    rows = []
    for future in queue:
        try:
            rows.append(future.result())
        except KilledWorker:
            rows.append({"index": index[future.key], "error": "its worker died repeatedly (out of memory?)"})
        if progress is not None:
            progress(len(rows), len(todo))
        following = next(pending, None)
        if following is not None:
            queue.add(submit(following))
    return rows


def map_slices(task: Task, stack, method: str = "tv", *, output=None, client=None, resume: bool = False,
               layout: str = "invscat", simulate: bool = False, seed: int = 0, threads: int | None = None,
               **options):
    """Reconstruct every slice of a stack with ``task`` as :meth:`Task.run` reconstructs one image.

    Parameters
    ----------
    task : Task
        The forward-model family (e.g. ``Tomography(views=30)``).
    stack : ndarray, dask array or path
        Slices (slices, rows, columns) (sinograms: (slices, views, detectors)), or a .zarr/.npy/.tif/directory path.
    method : str
        One of ``task.methods``.
    output : path, optional
        Write the slices there (.zarr one slice per chunk, .npy/.tif, or a directory) and return a
        :class:`StackReport`. Without it, return a lazy dask array of the reconstructions.
    client : dask.distributed.Client, optional
        Where the slices run: its cluster's workers. Without it, ``output`` runs slice by slice in this process and
        the dask array computes on Dask's current scheduler.
    resume : bool
        Skip slices already complete in ``output``.
    layout : str
        The order of the stack's stored axes (:data:`invscat.stacks.LAYOUTS`).
    simulate, seed : bool, int
        The stack is ground truth: simulate each slice's measurement with ``seed`` (as ``Task.run``).
    threads : int, optional
        torch threads per slice.
    **options
        ``lam``, ``iters``, ``estimator``, ``device``: as :meth:`Task.reconstruct`.

    Returns
    -------
    dask.array.Array or StackReport

    Examples
    --------
    >>> from invscat import data
    >>> from invscat.tasks import Tomography
    >>> task = Tomography(views=20)
    >>> sinograms = np.stack([task.simulate(data.shepp_logan(32), seed)[1] for seed in range(3)])
    >>> volume = map_slices(task, sinograms, "fbp")
    >>> volume.shape, volume.chunksize
    ((3, 32, 32), (1, 32, 32))
    >>> np.allclose(volume[1].compute(), task.run(sinograms[1], "fbp").result.image)
    True
    """
    source = open_stack(stack, layout) if not isinstance(stack, Stack) else stack
    if source is None:
        raise InvscatError(f"{stack}: holds one 2-D image, not a stack.")
    job = SliceJob(task, method, tuple(sorted(options.items())), simulate, seed, threads)
    shape = output_slice_shape(task, source.slice_shape, simulate)
    if output is not None:
        names = source.names if source.kind == "directory" else ()
        return run_stack(job, source, StackOutput(output, len(source), shape, names=names, resume=resume), client)
    import dask
    import dask.array as da

    if source.in_memory:
        slices = canonical(da.asarray(source.source), source.layout).rechunk((1, *source.slice_shape))
    else:
        slices = da.stack([da.from_delayed(dask.delayed(source.read)(k), source.slice_shape, np.float32)
                           for k in range(len(source))])
    volume = slices.map_blocks(_solve_block, job, chunks=(1, *shape), dtype=np.float32)
    return client.persist(volume) if client is not None else volume


def _solve_block(block: np.ndarray, job: SliceJob) -> np.ndarray:
    return job.solve(block[0]).result.image[None]


def output_slice_shape(task: Task, slice_shape, simulate: bool) -> tuple[int, int]:
    """The shape of a reconstructed slice: the cropped ground truth's when simulating, else the image shape the
    task's model gives the measurement."""
    colour = tuple(slice_shape[2:])  # (3,) for colour slices (M, N, 3)
    if simulate:
        return tuple(task.prepare_truth(np.zeros(slice_shape[:2], np.float32)).shape) + colour
    return tuple(task.image_shape(slice_shape[:2])) + colour


def print_progress(total_label: str = "slices"):
    """A ``progress(done, total)`` that draws a rich bar on a terminal and prints a line every few seconds
    elsewhere (logs of nohup or a batch scheduler); call ``.close()`` at the end."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn(total_label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=Console(stderr=True), transient=True)
        job = bar.add_task(total_label, total=None)
        bar.start()

        def update(done, total):
            bar.update(job, completed=done, total=total)

        update.close = bar.stop
        return update
    started = last = time.perf_counter()

    def update(done, total):
        nonlocal last
        now = time.perf_counter()
        if now - last >= PROGRESS_SECONDS or done == total:
            last = now
            print(f"{total_label}: {done}/{total}, {now - started:.0f} s", file=sys.stderr, flush=True)

    update.close = lambda: None
    return update
