"""The ``invscat`` command line: thin wrappers over the Python API."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from invscat.io import InvscatError, atomic_path, load_image

ESTIMATOR_KINDS = ("restoration", "ensemble", "convolutional", "ridge")  # invscat.estimators.pretrained.KINDS (not imported: startup)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Imaging inverse problems with the wavelet scattering transform.")


@app.callback()
def _global_options(threads: Optional[int] = typer.Option(
        None, "--threads", min=1, help="torch's CPU threads (default: torch's choice, one per core); one thread "
        "per process is fastest when several processes share the cores.")):
    """Imaging inverse problems with the wavelet scattering transform."""
    if threads is not None:
        import torch
        torch.set_num_threads(threads)


class Padding(str, Enum):
    periodic = "periodic"
    reflect = "reflect"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _fail(message: str) -> None:
    typer.echo(f"invscat: error: {message}", err=True)
    raise typer.Exit(code=2)


def command(func):
    """Register a CLI command whose user errors end in one sentence on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from invscat.io import all_or_nothing

        from invscat.noise import check_seed

        try:
            if "seed" in kwargs:
                check_seed(kwargs["seed"])
            with all_or_nothing():  # a run writes all its outputs or none
                return func(*args, **kwargs)
        except (InvscatError, ValueError, TypeError) as error:
            _fail(str(error))
        except MemoryError as error:
            _fail(str(error) or "not enough memory for this problem size.")
        except RuntimeError as error:
            if "alloc" not in str(error).lower():
                raise
            _fail("not enough memory for this problem size; use a smaller image, factor or batch.")
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            _fail(f"{where}{error.strerror or error}.")

    return app.command()(wrapper)


@command
def info():
    """Print versions, torch devices and whether ASTRA has CUDA."""
    import platform

    import torch

    import invscat
    typer.echo(f"invscat {invscat.__version__}")
    typer.echo(f"python  {platform.python_version()}")
    typer.echo(f"numpy   {np.__version__}")
    typer.echo(f"torch   {torch.__version__} (threads: {torch.get_num_threads()})")
    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    typer.echo(f"devices cpu{''.join(', cuda:%d %s' % (i, n) for i, n in enumerate(cuda))}")
    try:
        import astra
        typer.echo(f"astra   {astra.__version__} (CUDA: {'yes' if astra.use_cuda() else 'no'})")
    except ImportError:
        typer.echo("astra   not installed")


@command
def scatter(
    image: Path = typer.Argument(..., help="Image file (.png, .jpg, .tif, .npy)."),
    output: Path = typer.Option(..., "-o", "--output", help="Coefficient file to write (.npz)."),
    J: int = typer.Option(4, "--J", help="Number of scales."),
    L: int = typer.Option(8, "--L", help="Number of angles."),
    order: int = typer.Option(2, "--order", help="Highest scattering order (1 or 2)."),
    padding: Padding = typer.Option(Padding.periodic, help="Boundary handling."),
    figure: Optional[Path] = typer.Option(None, help="Also save a PNG of the first-order coefficients."),
    device: Device = typer.Option(Device.auto, help="Where to compute."),
):
    """Compute the scattering coefficients of an image and save them with their parameters."""
    import torch

    from invscat.device import resolve_device
    from invscat.io import check_outputs, save_coefficients
    from invscat.scattering import Scattering2D

    if output.suffix != ".npz":
        raise InvscatError(f"{output}: coefficient files are .npz (lower case); give an output name ending in .npz.")
    if figure is not None and figure.suffix.lower() != ".png":
        raise InvscatError(f"{figure}: expected a file name ending in .png.")
    check_outputs([output, figure], [image])
    x = load_image(image, allow_rgb=False)
    transform = Scattering2D(J, x.shape, L=L, max_order=order, padding=padding.value)
    transform.to(resolve_device(device.value))
    with torch.no_grad():
        coefficients = transform(torch.from_numpy(x).to(transform.psi_0_0.device)).cpu().numpy()
    save_coefficients(output, coefficients, J=J, L=L, max_order=order, padding=padding.value, shape=x.shape)
    if figure is not None:
        from invscat.figures import save_scattering_figure
        save_scattering_figure(figure, x, coefficients, J, L)
    typer.echo(f"wrote {output}: {coefficients.shape[0]} channels of {coefficients.shape[1]}x"
               f"{coefficients.shape[2]} (J={J}, L={L}, order {order}, {padding.value} padding)")


class Layout(str, Enum):
    invscat = "invscat"
    astra = "astra"
    tomopy = "tomopy"
    skimage = "skimage"


class Geometry(str, Enum):
    parallel = "parallel"
    fan = "fan"


def _check_outputs(outputs, metrics_json: Optional[Path], figure: Optional[Path], inputs=()) -> None:
    """Fail before any work if an output cannot be written, would overwrite an input or another output."""
    from invscat.io import IMAGE_SUFFIXES, check_outputs

    outputs = [outputs] if isinstance(outputs, Path) else list(outputs)
    for output in outputs:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise InvscatError(f"{output}: unsupported output type {output.suffix or '(none)'!r}; expected one of "
                               f"{', '.join(IMAGE_SUFFIXES)}.")
    for path, suffix in ((metrics_json, ".json"), (figure, ".png")):
        if path is not None and path.suffix.lower() != suffix:
            raise InvscatError(f"{path}: expected a file name ending in {suffix}.")
    check_outputs([*outputs, metrics_json, figure], inputs)


def _json(metrics: dict) -> str:
    """Strict JSON: a value that is not a finite number is written as null, with the reason under 'notes'."""
    notes = {}
    for key, value in metrics.items():
        if isinstance(value, float) and not np.isfinite(value):
            notes[key] = ("infinite: the result equals the reference exactly" if key == "psnr" and value > 0
                          else f"not a finite number ({value})")
            metrics = {**metrics, key: None}
    if notes:
        metrics = {**metrics, "notes": notes}
    return json.dumps(metrics, indent=2, allow_nan=False) + "\n"


def _check_noise(noise: float) -> None:
    if not (np.isfinite(noise) and noise >= 0):
        raise InvscatError(f"the noise level must be a number >= 0, got {noise}.")


def _write_outputs(output: Path, image: np.ndarray, metrics: dict, metrics_json: Optional[Path],
                   figure: Optional[Path], panels: list, quiet: bool, rescale: bool = False) -> None:
    """Write the image, metrics and figure (each atomically), then print a one-line summary."""
    from invscat.io import save_image

    figure_title = f"{metrics['task']} — {metrics['method']}"
    if figure is not None:
        from invscat.figures import save_comparison_figure
        save_comparison_figure(figure, panels, figure_title)
    if metrics_json is not None:
        with atomic_path(metrics_json) as tmp:
            tmp.write_text(_json(metrics))
    save_image(output, image, rescale=rescale)
    if not quiet:
        quality = f", PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}" if metrics.get("psnr") is not None else ""
        typer.echo(f"wrote {output} ({metrics['method']}, {metrics['iterations']} iterations, "
                   f"{metrics['time_s']:.1f} s{quality})")


def _quality(image: np.ndarray, reference: Optional[np.ndarray]) -> dict:
    from invscat.metrics import psnr, ssim

    if reference is None:
        return {"psnr": None, "ssim": None}
    return {"psnr": psnr(image, reference), "ssim": ssim(image, reference)}


def _load_reference(path: Optional[Path], shape, allow_rgb: bool):
    if path is None:
        return None
    reference = load_image(path, allow_rgb=allow_rgb)
    if reference.shape != tuple(shape):
        raise InvscatError(f"{path}: the reference has shape {reference.shape} but the reconstruction has shape "
                           f"{tuple(shape)}.")
    return reference


# Options shared by the reconstruction commands (one definition, one help text).
REFERENCE_OPTION = typer.Option(None, help="Ground-truth image for the metrics.")
METRICS_OPTION = typer.Option(None, "--metrics-json", help="Write metrics (JSON).")
FIGURE_OPTION = typer.Option(None, help="Write a side-by-side PNG.")
SOLVER_DEVICE_OPTION = typer.Option(Device.auto, help="Where the iterative solvers run.")
ITERS_OPTION = typer.Option(None, help="Solver iterations (default per method).")
LAM_OPTION = typer.Option(None, help="Regularisation weight, relative to ||A||^2 (default per method).")
SEED_OPTION = typer.Option(0, help="Seed of the simulated noise.")
QUIET_OPTION = typer.Option(False, "--quiet", help="No progress bar or summary.")
RESCALE_OPTION = typer.Option(False, "--rescale", help="For .png/.jpg output: map the result's [min, max] to "
                              "[0, 1] (8-bit files store [0, 1]; a result far outside it is refused otherwise).")
class Colour(str, Enum):
    auto = "auto"
    vectorial = "vectorial"
    ycbcr = "ycbcr"
    channels = "channels"


COLOUR_OPTION = typer.Option(Colour.auto, help="Colour images: vectorial (TV coupling the channels), ycbcr (luminance "
                             "by the method, chroma by the cheap baseline: a third of the work), channels (each on its "
                             "own); auto: vectorial for tv, channels otherwise (measured: benchmarks/colour.py).")
KERNEL_OPTION = typer.Option("gaussian", help="Blur before decimation: gaussian (of --sigma), box (area "
                             "averaging), bicubic (antialiased bicubic downscaling, as MATLAB's imresize), or a .npy "
                             "file of a 2-D kernel.")
SIGMA_OPTION = typer.Option(None, help="Standard deviation of the Gaussian kernel, in high-resolution pixels "
                            "(default factor/2).")
WORKERS_OPTION = typer.Option(None, "--workers", help="For a stack: worker processes of a local Dask cluster "
                              "(default: one per core).")
SCHEDULER_OPTION = typer.Option(None, "--scheduler", help="For a stack: address of a running Dask scheduler "
                                "(tcp://host:8786) to use instead of a local cluster.")
RESUME_OPTION = typer.Option(False, "--resume", help="For a stack: skip the slices already complete in the output.")
ESTIMATOR_OPTION = typer.Option(None, help="Scattering estimator for --method scattering: a file from `invscat "
                                "fit`, or 'restoration' / 'ensemble' / 'convolutional' / 'ridge' for the shipped one "
                                "of that kind; "
                                "default: the best shipped for the task.")


def _reconstruct(task, input: Path, output: Path, method: str, *, simulate: bool, colour: bool, seed: int,
                 reference: Optional[Path], metrics_json: Optional[Path], figure: Optional[Path], device: "Device",
                 estimator: Optional[Path], iters: Optional[int], lam: Optional[float], quiet: bool,
                 rescale: bool = False, stack=None, stack_options: Optional[dict] = None, layout: str = "invscat",
                 colour_mode: str = "auto", **recorded) -> None:
    """What every reconstruction command does: read, (simulate), reconstruct with ``task``, score, write; a stack
    goes slice by slice through the same steps (:func:`_reconstruct_stack`)."""
    from invscat.device import resolve_device
    from invscat.stacks import canonical

    if method not in task.methods:
        raise InvscatError(f"unknown method {method!r}; expected one of {', '.join(task.methods)}.")
    if estimator is not None:
        if method != "scattering":
            raise InvscatError("--estimator is only used by --method scattering.")
        if str(estimator) in ESTIMATOR_KINDS and not estimator.exists():
            estimator = str(estimator)  # the shipped estimator of this kind
        elif not estimator.is_file():
            raise InvscatError(f"{estimator}: no such estimator file.")
    if simulate and reference is not None:
        raise InvscatError("--reference is for measured input; with --simulate the input itself is the reference.")
    if stack is not None:
        return _reconstruct_stack(task, stack, input, output, method, simulate=simulate, seed=seed,
                                  reference=reference, metrics_json=metrics_json, figure=figure, device=device,
                                  options=dict(lam=lam, iters=iters, estimator=estimator, colour=colour_mode),
                                  quiet=quiet,
                                  rescale=rescale, recorded=recorded, **(stack_options or {}))
    estimator_file = estimator if isinstance(estimator, Path) else None
    _check_outputs(output, metrics_json, figure, [input, reference, estimator_file])
    torch_device = resolve_device(device.value)
    data = load_image(input, allow_rgb=colour)
    if not simulate:
        data = canonical(data, layout)
    channel_axis = -1 if data.ndim == 3 else None
    if not simulate:
        shape = task.image_shape(data.shape[:2])
        truth = _load_reference(reference, shape + data.shape[2:], allow_rgb=colour)
    run = task.run(data, method, simulate=simulate, seed=seed, lam=lam, iters=iters, estimator=estimator,
                   device=torch_device, progress=not quiet, channel_axis=channel_axis,
                   colour=colour_mode)
    measurement, result, image = run.measurement, run.result, run.result.image
    if simulate:
        truth = run.truth
        if truth.shape[:2] != data.shape[:2] and not quiet:
            typer.echo(f"note: cropped the ground truth to {truth.shape[0]}x{truth.shape[1]} for the forward model")
    if channel_axis is not None:
        recorded = {**recorded, "colour": colour_mode}
    metrics = {"task": task.name, "method": method, **recorded, "lam": result.lam, "noise": task.noise,
               "simulated": simulate, **_quality(image, truth), "time_s": result.time_s,
               "iterations": result.iterations, "input": str(input)}
    panels = []
    if figure is not None:
        kind = "sinogram" if task.name == "tomo" else "measurement"
        panels.append((f"{kind} ({measurement.shape[0]}x{measurement.shape[1]})", measurement))
        if task.baseline is not None and task.baseline != method:  # the classical answer, for comparison
            panels.append((task.baseline, task.reconstruct(measurement, task.baseline, channel_axis=channel_axis,
                                                           colour="channels").image))
        panels.append((method, image))
        if truth is not None:
            panels += [("reference", truth), ("error", image - truth)]
    _write_outputs(output, image, {**metrics, "rescaled": rescale}, metrics_json, figure, panels, quiet, rescale)


def _reconstruct_stack(task, stack, input: Path, output: Path, method: str, *, simulate: bool, seed: int,
                       reference, metrics_json, figure, device, options: dict, quiet: bool, rescale: bool,
                       recorded: dict, workers: Optional[int], scheduler: Optional[str], resume: bool) -> None:
    """A stack, slice by slice on Dask: each slice as the 2-D command would make it, the output written slice by
    slice (atomically), a bad slice failing alone."""
    import time

    from invscat.device import resolve_device
    from invscat.io import check_outputs
    from invscat.stacks import SliceJob, StackOutput, dask_client, run_stack
    from invscat.stacks.formats import output_kind
    from invscat.stacks.run import output_slice_shape, print_progress

    if reference is not None or figure is not None:
        raise InvscatError("--reference and --figure are for a 2-D input; a stack made with --simulate is scored "
                           "slice by slice in --metrics-json.")
    if metrics_json is not None and metrics_json.suffix.lower() != ".json":
        raise InvscatError(f"{metrics_json}: expected a file name ending in .json.")
    if output.resolve() == input.resolve():
        raise InvscatError(f"{output}: this output is the input {input}; choose another name.")
    estimator_file = options["estimator"] if isinstance(options["estimator"], Path) else None
    check_outputs([metrics_json], [input, estimator_file])
    output_kind(output)  # refuses an image name before a cluster starts
    shape = output_slice_shape(task, stack.slice_shape, simulate)
    names = stack.names if stack.kind == "directory" else ()
    options = {**options, "device": resolve_device(device.value)}
    start = time.perf_counter()
    with dask_client(workers, scheduler) as (client, threads):
        target = StackOutput(output, len(stack), shape, names=names, resume=resume, rescale=rescale)
        job = SliceJob(task, method, tuple(sorted(options.items())), simulate, seed, threads)
        progress = None if quiet else print_progress()
        try:
            report = run_stack(job, stack, target, client, progress=progress)
        finally:
            if progress is not None:
                progress.close()
        where = scheduler or f"a local cluster of {len(client.nthreads())} workers"
    totals = {**report.totals(), "wall_s": time.perf_counter() - start}
    if report.failed:
        if not totals["reconstructed"] + totals["skipped"]:
            target.discard()  # nothing to resume from
        first = report.failed[0]
        indices = ", ".join(str(row["index"]) for row in report.failed)
        kept = f" in {target.checkpoint}" if target.kind in ("npy", "tif") else f" in {output}"
        raise InvscatError(f"slice{'s' if len(report.failed) > 1 else ''} {indices} of {input} failed (slice "
                           f"{first['index']}: {first['error']}); the {totals['reconstructed'] + totals['skipped']} "
                           f"completed are kept{kept}: fix the input and run again with --resume.")
    if metrics_json is not None:
        metrics = {"task": task.name, "method": method, **recorded, "lam": options["lam"], "noise": task.noise,
                   "simulated": simulate, "input": str(input), "output": str(output), "where": where,
                   "totals": totals, "slices": report.rows}
        with atomic_path(metrics_json) as tmp:
            tmp.write_text(_json(metrics))
    if not quiet:
        rate = totals["slices_per_s"]
        quality = f", mean PSNR {totals['mean_psnr']:.2f} dB" if totals["mean_psnr"] is not None else ""
        skipped = f" ({totals['skipped']} already complete)" if totals["skipped"] else ""
        typer.echo(f"wrote {output}: {totals['slices']} slices{skipped} ({method}) on {where}, "
                   f"{totals['wall_s']:.1f} s" + (f", {rate:.2f} slices/s" if rate else "") + quality)


@command
def superres(
    input: Path = typer.Argument(..., help="Low-resolution image (or, with --simulate, the ground truth)."),
    output: Path = typer.Option(..., "-o", "--output", help="Result image (.png, .jpg, .tif, .npy)."),
    factor: int = typer.Option(4, help="Upsampling factor (2, 3, 4, 8, ...)."),
    kernel: str = KERNEL_OPTION,
    sigma: Optional[float] = SIGMA_OPTION,
    method: str = typer.Option("tv", help="bicubic, linear, tikhonov, tv, l1 or scattering."),
    estimator: Optional[Path] = ESTIMATOR_OPTION,
    simulate: bool = typer.Option(False, "--simulate", help="INPUT is the ground truth: blur (--kernel), decimate, "
                                  "add noise, then reconstruct and score against it."),
    noise: float = typer.Option(0.01, help="Noise level relative to the range: added with --simulate, assumed "
                                "by the linear estimator."),
    reference: Optional[Path] = REFERENCE_OPTION,
    metrics_json: Optional[Path] = METRICS_OPTION,
    figure: Optional[Path] = FIGURE_OPTION,
    device: Device = SOLVER_DEVICE_OPTION,
    iters: Optional[int] = ITERS_OPTION,
    lam: Optional[float] = LAM_OPTION,
    seed: int = SEED_OPTION,
    quiet: bool = QUIET_OPTION,
    colour: Colour = COLOUR_OPTION,
    rescale: bool = RESCALE_OPTION,
    workers: Optional[int] = WORKERS_OPTION,
    scheduler: Optional[str] = SCHEDULER_OPTION,
    resume: bool = RESUME_OPTION,
):
    """Super-resolve an image: bicubic, the best linear estimator, Tikhonov, TV, wavelet l1 or TV plus the
    scattering prior."""
    from invscat.tasks import SuperResolution

    from invscat.stacks import open_stack

    _check_noise(noise)
    task = SuperResolution(factor, noise, kernel=_blur_kernel(kernel), sigma=sigma)
    _reconstruct(task, input, output, method, simulate=simulate, colour=True, seed=seed,
                 reference=reference, metrics_json=metrics_json, figure=figure, device=device, estimator=estimator,
                 iters=iters, lam=lam, quiet=quiet, rescale=rescale, stack=open_stack(input, colour=True),
                 stack_options=dict(workers=workers, scheduler=scheduler, resume=resume), colour_mode=colour.value,
                 factor=factor, **task.model())


def _blur_kernel(value: str):
    """--kernel: a kernel's name, or a .npy file holding a 2-D kernel."""
    from invscat.operators.downsample import KERNELS

    if value in KERNELS:
        return value
    path = Path(value)
    if path.suffix.lower() != ".npy":
        raise InvscatError(f"unknown blur kernel {value!r}; expected one of {', '.join(KERNELS)} or a .npy file.")
    kernel = load_image(path, allow_rgb=False)
    if not (kernel.sum() > 0 and (kernel >= 0).all()):
        raise InvscatError(f"{path}: a blur kernel needs non-negative values with a positive sum.")
    return kernel


@command
def deblur(
    input: Path = typer.Argument(..., help="Blurred image (or, with --simulate, the ground truth)."),
    output: Path = typer.Option(..., "-o", "--output", help="Result image (.png, .jpg, .tif, .npy)."),
    sigma: float = typer.Option(2.0, help="Standard deviation of the Gaussian blur, in pixels."),
    method: str = typer.Option("tv", help="tikhonov, tv, l1 or scattering (with --estimator from `invscat fit "
                               "deblur`)."),
    estimator: Optional[Path] = ESTIMATOR_OPTION,
    simulate: bool = typer.Option(False, "--simulate", help="INPUT is the ground truth: blur, add noise, then "
                                  "reconstruct and score against it."),
    noise: float = typer.Option(0.01, help="Noise level relative to the range, added with --simulate."),
    reference: Optional[Path] = REFERENCE_OPTION,
    metrics_json: Optional[Path] = METRICS_OPTION,
    figure: Optional[Path] = FIGURE_OPTION,
    device: Device = SOLVER_DEVICE_OPTION,
    iters: Optional[int] = ITERS_OPTION,
    lam: Optional[float] = LAM_OPTION,
    seed: int = SEED_OPTION,
    quiet: bool = QUIET_OPTION,
    colour: Colour = COLOUR_OPTION,
    rescale: bool = RESCALE_OPTION,
    workers: Optional[int] = WORKERS_OPTION,
    scheduler: Optional[str] = SCHEDULER_OPTION,
    resume: bool = RESUME_OPTION,
):
    """Deblur an image (Gaussian blur): Tikhonov, TV, wavelet l1 or TV plus the scattering prior."""
    from invscat.tasks import Deblurring

    from invscat.stacks import open_stack

    _check_noise(noise)
    _reconstruct(Deblurring(sigma, noise), input, output, method, simulate=simulate, colour=True, seed=seed,
                 reference=reference, metrics_json=metrics_json, figure=figure, device=device, estimator=estimator,
                 iters=iters, lam=lam, quiet=quiet, rescale=rescale, stack=open_stack(input, colour=True),
                 stack_options=dict(workers=workers, scheduler=scheduler, resume=resume), colour_mode=colour.value,
                 sigma=sigma)


@command
def tomo(
    input: Path = typer.Argument(..., help="Sinogram, views x detectors (.npy, .tif) (or, with --simulate, the "
                                 "ground-truth image)."),
    output: Path = typer.Option(..., "-o", "--output", help="Result image (.png, .jpg, .tif, .npy)."),
    views: Optional[int] = typer.Option(None, help="Number of views (default 30 with --simulate; else the "
                                        "sinogram's rows)."),
    arc: Optional[float] = typer.Option(None, help="Angular range in degrees (default 180 parallel, 360 fan)."),
    geometry: Geometry = typer.Option(Geometry.parallel, help="Beam geometry."),
    layout: Layout = typer.Option(Layout.invscat, help="Axis order of a measured sinogram: invscat and astra "
                                  "(views, detectors; stacks (slices, views, detectors)), tomopy (stacks (views, "
                                  "slices, detectors)), skimage (detectors, views))."),
    detectors: Optional[int] = typer.Option(None, help="Detector cells (default: cover the image diagonal)."),
    size: Optional[int] = typer.Option(None, help="Image side for a measured sinogram (default: the largest the "
                                       "detector covers)."),
    angles: Optional[Path] = typer.Option(None, help="Text file of the projection angles, one a line, in degrees "
                                          "(any set, not only evenly spread; the number of views comes from it)."),
    radians: bool = typer.Option(False, "--radians", help="The --angles file is in radians."),
    circle: bool = typer.Option(False, "--circle", help="The object lies inside the circle inscribed in the image: "
                                "the detector spans the image side, not its diagonal (scikit-image's circle=True)."),
    centre_offset: float = typer.Option(0.0, "--centre-offset", help="Where the rotation axis falls on the "
                                        "detector, in cells from its centre (TomoPy's centre minus (detectors - 1)/2)."),
    detector_spacing: Optional[float] = typer.Option(None, "--detector-spacing", help="Width of a detector cell in "
                                                     "image pixels (default 1; fan beam: the magnification)."),
    method: str = typer.Option("tv", help="fbp, sirt, cgls, linear, tikhonov, tv, l1 or scattering."),
    estimator: Optional[Path] = ESTIMATOR_OPTION,
    simulate: bool = typer.Option(False, "--simulate", help="INPUT is the ground truth: project, add noise, "
                                  "reconstruct and score against it."),
    noise: float = typer.Option(0.01, help="Noise level relative to the sinogram's range (see superres)."),
    reference: Optional[Path] = REFERENCE_OPTION,
    metrics_json: Optional[Path] = METRICS_OPTION,
    figure: Optional[Path] = FIGURE_OPTION,
    device: Device = SOLVER_DEVICE_OPTION,
    iters: Optional[int] = ITERS_OPTION,
    lam: Optional[float] = LAM_OPTION,
    seed: int = SEED_OPTION,
    quiet: bool = QUIET_OPTION,
    rescale: bool = RESCALE_OPTION,
    workers: Optional[int] = WORKERS_OPTION,
    scheduler: Optional[str] = SCHEDULER_OPTION,
    resume: bool = RESUME_OPTION,
):
    """Reconstruct a CT image (sparse-view, limited-angle; parallel or fan beam): FBP, SIRT, CGLS, a learned
    FBP filter, Tikhonov, TV, wavelet l1 or TV plus the scattering prior."""
    from invscat.stacks import canonical, open_stack
    from invscat.tasks import Tomography
    from invscat.tasks.tomo import looks_transposed

    _check_noise(noise)
    angle_set = _read_angles(angles, radians) if angles is not None else None
    geometry_options = dict(geometry=geometry.value, angles=angle_set, axis_offset=centre_offset,
                            detector_spacing=detector_spacing, circle=circle,
                            convention="skimage" if layout is Layout.skimage else "invscat")
    stack = open_stack(input, "invscat" if simulate else layout.value)
    if simulate:
        if size is not None:
            raise InvscatError("--size is for a measured sinogram; with --simulate the image gives the size.")
        count = len(angle_set) if angle_set is not None else 30 if views is None else views
        if views is not None and views != count:
            raise InvscatError(f"{angles}: the file has {count} angles, not --views {views}.")
        task = Tomography(count, arc, detectors=detectors, noise=noise, **geometry_options)
    else:
        first = stack.read(0) if stack else canonical(load_image(input, allow_rgb=False), layout.value)
        if geometry is Geometry.parallel and looks_transposed(first):
            raise InvscatError(f"{input}: the sinogram looks transposed (each row should be one view, whose sum is "
                               f"nearly the same for every view); give --layout for its axis order (skimage's radon "
                               f"makes detectors x views: --layout skimage).")
        sinogram_views, sinogram_detectors = first.shape
        for given, what in ((views, "--views"), (len(angle_set) if angle_set is not None else None, str(angles))):
            if given is not None and given != sinogram_views:
                raise InvscatError(f"{input}: the sinogram has {sinogram_views} views (rows), but {what} gives "
                                   f"{given}.")
        task = Tomography(sinogram_views, arc, detectors=detectors or sinogram_detectors, size=size, noise=noise,
                          **geometry_options)
        if size is None and not quiet:
            side = task.guess_side(sinogram_detectors)
            rule = ("the image side, --circle" if circle else "scikit-image's rule, ceil(sqrt(2) side)"
                    if layout is Layout.skimage else "invscat's rule, ceil(sqrt(2) side) + 1")
            typer.echo(f"note: reconstructing {side}x{side} images, the largest that {sinogram_detectors} detectors "
                       f"cover ({rule}); --size sets another")
    _reconstruct(task, input, output, method, simulate=simulate, colour=False, seed=seed, reference=reference,
                 metrics_json=metrics_json, figure=figure, device=device, estimator=estimator, iters=iters, lam=lam,
                 quiet=quiet, rescale=rescale, stack=stack, layout=layout.value,
                 stack_options=dict(workers=workers, scheduler=scheduler, resume=resume), views=task.views,
                 arc=task.arc, geometry=geometry.value, detectors=detectors, sinogram_layout=layout.value,
                 circle=circle, centre_offset=centre_offset, detector_spacing=detector_spacing,
                 angles_file=str(angles) if angles else None)


def _read_angles(path: Path, radians: bool) -> tuple:
    """The projection angles (radians) of a text file of one angle a line (degrees unless ``radians``)."""
    if not path.is_file():
        raise InvscatError(f"{path}: no such angles file.")
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError:
        raise InvscatError(f"{path}: expected one number a line (the projection angles).") from None
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise InvscatError(f"{path}: expected one finite number a line (the projection angles), got "
                           f"{values.size} values of shape {values.shape}.")
    return tuple(values if radians else np.deg2rad(values))


class TaskKind(str, Enum):
    superres = "superres"
    tomo = "tomo"
    deblur = "deblur"


class EstimatorKind(str, Enum):
    ridge = "ridge"
    convolutional = "convolutional"
    ensemble = "ensemble"
    restoration = "restoration"


@command
def fit(
    task: TaskKind = typer.Argument(..., help="superres, tomo or deblur."),
    output: Path = typer.Option(..., "-o", "--output", help="Estimator file to write (.pt)."),
    factor: int = typer.Option(4, help="superres: upsampling factor."),
    views: int = typer.Option(30, help="tomo: number of views."),
    arc: Optional[float] = typer.Option(None, help="tomo: angular range in degrees (default 180 parallel, 360 fan)."),
    geometry: Geometry = typer.Option(Geometry.parallel, help="tomo: beam geometry."),
    detectors: Optional[int] = typer.Option(None, help="tomo: detector cells (default: cover the image diagonal)."),
    kernel: str = typer.Option("gaussian", help="superres: the blur before decimation (as `invscat superres "
                               "--kernel`)."),
    sigma: Optional[float] = typer.Option(None, help="Standard deviation of the Gaussian blur in pixels (superres: "
                                          "default factor/2; deblur: default 2)."),
    size: int = typer.Option(128, help="Side of the training crops (tomo: the image size it is for)."),
    noise: float = typer.Option(0.01, help="Noise level of the simulated measurements, relative to their range."),
    images: str = typer.Option("builtin", help="'builtin' (the bundled training images) or a directory of images."),
    count: int = typer.Option(192, help="Number of training crops (tomo adds count/4 random phantoms)."),
    J: int = typer.Option(2, "--J", help="Scattering scales of the estimator."),
    radius: int = typer.Option(1, help="ridge: neighbourhood radius, in scattering positions."),
    kind: EstimatorKind = typer.Option(EstimatorKind.ridge, "--kind", help="ridge (the papers' linear estimator, "
                                       "in seconds), convolutional (a residual CNN trained for --epochs), "
                                       "ensemble (both, their predictions averaged) or restoration (the scattering "
                                       "of a U-Net's restored image, trained for --epochs)."),
    network_share: float = typer.Option(0.7, help="ensemble: the network's weight (the ridge has the rest)."),
    synthetic: int = typer.Option(0, help="Procedural images added to the crops (ellipses, polygons, textured "
                                  "dead leaves, head-like phantoms, stationary textures)."),
    epochs: int = typer.Option(30, help="convolutional: training epochs."),
    family: bool = typer.Option(False, help="tomo: record the estimator as serving the whole family (any number of "
                                "views, arc and size of the geometry) rather than the setting it was fitted on."),
    uncertainty: bool = typer.Option(False, help="convolutional: also predict each coefficient's error variance, "
                                     "whose inverse weights the prior."),
    scales: list[int] = typer.Option([384], "--scales", help="Sides the builtin images are resized to before "
                                     "cropping (repeat for crops at several scales)."),
    larger: list[int] = typer.Option([], "--larger", help="Also simulate training images of this side (a multiple "
                                     "of --size) and cut them into tiles: the estimator learns larger images' "
                                     "artefacts (repeatable)."),
    dilations: list[int] = typer.Option([], "--dilations", help="convolutional: the dilation of each of the "
                                        "network's convolutions (one per layer, repeated; e.g. 1 2 4 8 4 2 1 with "
                                        "--depth 7)."),
    depth: int = typer.Option(5, help="convolutional: number of convolutions."),
    width: Optional[int] = typer.Option(None, help="convolutional, restoration: the network's channels (its first "
                                        "level's for restoration; default 64 and 32)."),
    levels: int = typer.Option(3, help="restoration: the U-Net's resolutions (4 sees longer streaks)."),
    init: Optional[Path] = typer.Option(None, "--init", help="convolutional, ensemble: start from this network file "
                                        "(fine-tune, e.g. the family network for one setting)."),
    learning_rate: float = typer.Option(1e-3, help="convolutional: Adam's initial step (smaller to fine-tune)."),
    lam: Optional[float] = typer.Option(None, help="The scattering prior's weight (relative to ||A||^2) stored with "
                                        "the estimator, which --method scattering then uses (default: the task's)."),
    tv_weight: Optional[float] = typer.Option(None, help="TV's weight in the scattering method's joint objective "
                                              "stored with the estimator (default: TV's own)."),
    seed: int = typer.Option(0, help="Seed of the crops, the noise and the validation split."),
    quiet: bool = QUIET_OPTION,
    workers: Optional[int] = typer.Option(None, "--workers", help="Spread the training reconstructions over a "
                                          "local Dask cluster of this many worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Spread them over the workers of a running "
                                            "Dask scheduler (tcp://host:8786)."),
):
    """Fit a scattering-domain estimator: from the scattering of TV reconstructions of simulated measurements
    to the scattering of the images, ridge weight chosen on a validation split."""
    import time

    from invscat.tasks import Deblurring, SuperResolution, Tomography
    from invscat.tasks.fit import fit_estimator

    from invscat.io import check_outputs

    if output.suffix != ".pt":
        raise InvscatError(f"{output}: the estimator file must end in .pt.")
    check_outputs([output])
    if (count < 2 or size < 2 ** (J + 2) or J < 1 or radius < 0 or synthetic < 0 or epochs < 1
            or not 0 <= network_share <= 1):
        raise InvscatError(f"impossible parameters: need --count >= 2, --J >= 1, --radius >= 0, --synthetic >= 0, "
                           f"--epochs >= 1, --network-share in [0, 1] and --size >= {2 ** (J + 2)} for J={J}.")
    _check_noise(noise)
    if kernel != "gaussian" and task is not TaskKind.superres:
        raise InvscatError("--kernel is the super-resolution model's blur; deblur's is a Gaussian of --sigma.")
    builders = {"superres": lambda: SuperResolution(factor, noise, kernel=_blur_kernel(kernel), sigma=sigma),
                "tomo": lambda: Tomography(views, arc, geometry.value, detectors, size, noise),
                "deblur": lambda: Deblurring(2.0 if sigma is None else sigma, noise)}
    spec = builders[task.value]()
    if family and spec.family_metadata() is None:
        raise InvscatError(f"--family is for tasks with a family of settings (tomo); {task.value} has none.")
    start = time.perf_counter()
    if any(side < size for side in scales):
        raise InvscatError(f"impossible parameters: every --scales side must be at least the --size {size}.")
    if any(side <= size or side % size for side in larger):
        raise InvscatError(f"impossible parameters: every --larger side must be a multiple of the --size {size} "
                           f"above it.")
    if any(value is not None and not (value > 0 and math.isfinite(value)) for value in (lam, tv_weight)):
        raise InvscatError(f"impossible parameters: --lam and --tv-weight must be positive, got {lam} and "
                           f"{tv_weight}.")
    if not (0 < learning_rate < 1):
        raise InvscatError(f"impossible parameters: --learning-rate must be in (0, 1), got {learning_rate}.")
    if init is not None:
        from invscat.estimators import ScatteringEstimator

        ScatteringEstimator.load(init)  # a missing or malformed file is refused before any work
    if depth < 2 or (dilations and (len(dilations) != depth or min(dilations) < 1)):
        raise InvscatError(f"impossible parameters: --depth must be >= 2 and --dilations, if given, {depth} "
                           f"integers >= 1 (one per convolution).")
    if (width is not None and width < 1) or not 1 <= levels <= 6:
        raise InvscatError(f"impossible parameters: --width must be >= 1 and --levels in 1..6, got {width} and "
                           f"{levels}.")
    options = dict(size=size, J=J, radius=radius, seed=seed, kind=kind.value, synthetic=synthetic, epochs=epochs,
                   uncertainty=uncertainty, scales=tuple(scales), network_share=network_share, depth=depth,
                   dilations=tuple(dilations) or None, larger=tuple(larger), initial=init,
                   learning_rate=learning_rate, width=width, levels=levels)
    with contextlib.ExitStack() as stack:
        if workers is not None or scheduler is not None:
            from invscat.stacks import dask_client

            options["client"] = stack.enter_context(dask_client(workers, scheduler))[0]
        if quiet or not sys.stderr.isatty():
            estimator = fit_estimator(spec, images, count, **options)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                job = bar.add_task("fitting (TV reconstructions)", total=count)

                def report(done, total, stage):
                    bar.update(job, completed=done, total=total, description=f"fitting ({stage})")

                estimator = fit_estimator(spec, images, count, **options, progress=report)
    if family:
        fitted = ", ".join(f"{key} {value}" for key, value in spec.metadata().items() if key != "task")
        estimator.metadata = {**spec.family_metadata(), "family": True, "noise": float(noise),
                              "trained_on": fitted}
    estimator.lam = lam if lam is not None else estimator.lam
    estimator.tv_weight = tv_weight if tv_weight is not None else estimator.tv_weight
    estimator.save(output)
    if not quiet:
        members = estimator.members if kind is EstimatorKind.ensemble else [estimator]
        reports = []
        for member in members:
            errors = member.validation_error
            what, error = ((f"ridge {member.ridge:g}", errors[member.ridge]) if "network" not in errors
                           else (kind.value if kind is EstimatorKind.restoration else "convolutional",
                                 errors["network"]))
            measure = "pixels" if kind is EstimatorKind.restoration else "scattering"
            reports.append(f"{what}; validation error of the {measure} {errors['identity']:.4f} (TV) -> "
                           f"{error:.4f} (estimated)")
        typer.echo(f"wrote {output}: {' and '.join(reports)}; {time.perf_counter() - start:.1f} s")


class Method(str, Enum):
    lbfgs = "lbfgs"
    adam = "adam"


@command
def invert(
    input: Path = typer.Argument(..., help="Image (its coefficients are computed) or a .npz from `invscat scatter`."),
    output: Path = typer.Option(..., "-o", "--output", help="Reconstructed image (.png, .jpg, .tif, .npy)."),
    J: Optional[int] = typer.Option(None, "--J", help="Number of scales (default 4; a .npz brings its own)."),
    L: Optional[int] = typer.Option(None, "--L", help="Number of angles (default 8)."),
    order: Optional[int] = typer.Option(None, "--order", help="Highest order, 1 or 2 (default 2)."),
    padding: Optional[Padding] = typer.Option(None, help="Boundary handling (default periodic)."),
    iters: int = typer.Option(500, help="Iterations."),
    restarts: int = typer.Option(1, help="White-noise starts descended together; the best is kept."),
    method: Method = typer.Option(Method.adam, help="Optimiser."),
    metrics_json: Optional[Path] = typer.Option(None, "--metrics-json", help="Write metrics (JSON)."),
    figure: Optional[Path] = typer.Option(None, help="Write a side-by-side PNG."),
    device: Device = typer.Option(Device.auto, help="Where to compute."),
    seed: int = typer.Option(0, help="Seed of the starting noise."),
    quiet: bool = QUIET_OPTION,
    rescale: bool = RESCALE_OPTION,
):
    """Reconstruct an image from its scattering coefficients by gradient descent from white noise."""
    import torch

    from invscat.device import resolve_device
    from invscat.io import load_coefficients
    from invscat.metrics import aligned_psnr, align
    from invscat.synthesis import invert as run_inversion
    from invscat.scattering import Scattering2D

    if iters < 1:
        raise InvscatError(f"the number of iterations must be >= 1, got {iters}.")
    if restarts < 1:
        raise InvscatError(f"the number of restarts must be >= 1, got {restarts}.")
    _check_outputs(output, metrics_json, figure, [input])
    torch_device = resolve_device(device.value)
    if input.suffix.lower() == ".npz":
        saved = load_coefficients(input)
        given = {"J": J, "L": L, "order": order, "padding": padding.value if padding else None}
        stored = {"J": saved["J"], "L": saved["L"], "order": saved["max_order"], "padding": saved["padding"]}
        for name, value in given.items():
            if value is not None and value != stored[name]:
                raise InvscatError(f"{input}: the coefficients were computed with {name}={stored[name]}, not {value}.")
        transform = Scattering2D(stored["J"], saved["shape"], L=stored["L"],
                                 max_order=stored["order"], padding=stored["padding"]).to(torch_device)
        target, image = torch.from_numpy(saved["coefficients"]), None
    else:
        image = load_image(input, allow_rgb=False)
        transform = Scattering2D(4 if J is None else J, image.shape, L=8 if L is None else L,
                                 max_order=2 if order is None else order,
                                 padding=(padding or Padding.periodic).value).to(torch_device)
        with torch.no_grad():
            target = transform(torch.from_numpy(image).to(torch_device))
    result = run_inversion(target, transform, method=method.value, iters=iters, restarts=restarts, seed=seed,
                           progress=not quiet)
    restored = result.image.cpu().numpy()
    metrics = {"task": "invert", "method": method.value, "restarts": restarts, "J": transform.J, "L": transform.L,
               "order": transform.max_order, "padding": transform.padding,
               "relative_coefficient_error": result.residual[-1] if result.residual else None,
               "psnr": aligned_psnr(restored, image) if image is not None else None, "ssim": None,
               "time_s": result.time_s, "iterations": result.iterations, "input": str(input)}
    panels = [("reconstruction", restored)]
    if image is not None:
        panels = [("reference", image), ("reconstruction (aligned)", align(restored, image))]
    _write_outputs(output, restored, {**metrics, "rescaled": rescale}, metrics_json, figure, panels, quiet=True,
                   rescale=rescale)
    if not quiet:
        aligned = f", PSNR after alignment {metrics['psnr']:.2f} dB" if image is not None else ""
        typer.echo(f"wrote {output}: relative coefficient error {metrics['relative_coefficient_error']:.2e} after "
                   f"{result.iterations} iterations ({result.time_s:.1f} s){aligned}")


@command
def synth(
    texture: Path = typer.Argument(..., help="Example texture image."),
    output: Path = typer.Option(..., "-o", "--output", help="Output image; with --count K, NAME_0 ... NAME_{K-1}."),
    size: Optional[int] = typer.Option(None, help="Side of the square output (default: the texture's shape)."),
    J: int = typer.Option(4, "--J", help="Number of scales."),
    L: int = typer.Option(8, "--L", help="Number of angles."),
    padding: Padding = typer.Option(Padding.periodic, help="Boundary handling."),
    iters: int = typer.Option(500, help="Iterations."),
    count: int = typer.Option(1, help="Number of samples."),
    method: Method = typer.Option(Method.adam, help="Optimiser."),
    metrics_json: Optional[Path] = typer.Option(None, "--metrics-json", help="Write metrics (JSON)."),
    figure: Optional[Path] = typer.Option(None, help="Write a side-by-side PNG."),
    device: Device = typer.Option(Device.auto, help="Where to compute."),
    seed: int = typer.Option(0, help="Seed of the starting noise."),
    quiet: bool = QUIET_OPTION,
    rescale: bool = RESCALE_OPTION,
):
    """Synthesise textures matching the averaged scattering moments (orders 0-2) of an example."""
    from invscat.device import resolve_device
    from invscat.synthesis import synthesize
    from invscat.io import save_image

    if iters < 1 or count < 1:
        raise InvscatError(f"the iterations and the count must be >= 1, got {iters} and {count}.")
    if J < 1:
        raise InvscatError(f"J must be an integer >= 1, got {J}.")
    if size is not None and (size < 2 ** J or (padding is Padding.periodic and size % 2 ** J)):
        raise InvscatError(f"the size must be at least 2**J = {2 ** J}" +
                           (" and a multiple of it for periodic padding" if padding is Padding.periodic else "") +
                           f", got {size}.")
    names = [output] if count == 1 else [output.with_name(f"{output.stem}_{k}{output.suffix}") for k in range(count)]
    _check_outputs(names, metrics_json, figure, [texture])
    torch_device = resolve_device(device.value)
    example = load_image(texture, allow_rgb=False)
    if padding is Padding.periodic:
        M, N = (s - s % 2 ** J for s in example.shape)
        if min(M, N) < 2 ** J:
            raise InvscatError(f"{texture}: the texture is too small for J={J}; it needs at least {2 ** J}x{2 ** J} "
                               f"pixels.")
        example = example[:M, :N]
    result = synthesize(example, size, J=J, L=L, padding=padding.value, count=count, method=method.value,
                        iters=iters, seed=seed, device=torch_device, progress=not quiet)
    samples = result.image.cpu().numpy()
    metrics = {"task": "synth", "method": method.value, "J": J, "L": L, "padding": padding.value, "count": count,
               "rescaled": rescale,
               "relative_moment_error": result.residual[-1] if result.residual else None,
               "time_s": result.time_s, "iterations": result.iterations, "input": str(texture),
               "outputs": [str(n) for n in names]}
    if figure is not None:
        from invscat.figures import save_comparison_figure
        save_comparison_figure(figure, [("texture", example)] + [(f"sample {k}", s) for k, s in enumerate(samples)],
                               "scattering texture synthesis")
    if metrics_json is not None:
        with atomic_path(metrics_json) as tmp:
            tmp.write_text(_json(metrics))
    for name, sample in zip(names, samples):
        save_image(name, sample, rescale=rescale)
    if not quiet:
        typer.echo(f"wrote {', '.join(map(str, names))}: relative moment error {metrics['relative_moment_error']:.2e} "
                   f"after {result.iterations} iterations ({result.time_s:.1f} s)")


def _terminate(signum, frame):
    raise KeyboardInterrupt  # as Ctrl-C: temporaries are removed, nothing half-written is left


def main():  # pragma: no cover - entry point
    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="invscat")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
