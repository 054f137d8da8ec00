"""The ``invscat`` command line: thin wrappers over the Python API."""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from invscat.io import InvscatError, atomic_path, load_image

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Imaging inverse problems with the wavelet scattering transform.")


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
        try:
            return func(*args, **kwargs)
        except (InvscatError, ValueError, TypeError) as error:
            _fail(str(error))
        except MemoryError:
            _fail("not enough memory for this problem size.")

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

    from invscat import __version__
    from invscat.device import resolve_device
    from invscat.scattering import Scattering2D

    if output.suffix.lower() != ".npz":
        raise InvscatError(f"{output}: coefficient files are .npz; give an output name ending in .npz.")
    x = load_image(image, allow_rgb=False)
    transform = Scattering2D(J, x.shape, L=L, max_order=order, padding=padding.value)
    transform.to(resolve_device(device.value))
    with torch.no_grad():
        coefficients = transform(torch.from_numpy(x).to(transform.psi_0_0.device)).cpu().numpy()
    with atomic_path(output) as tmp:
        np.savez(tmp, coefficients=coefficients, J=J, L=L, max_order=order, padding=padding.value,
                 shape=np.array(x.shape), invscat_version=__version__)
    if figure is not None:
        from invscat.figures import save_scattering_figure
        save_scattering_figure(figure, x, coefficients, J, L)
    typer.echo(f"wrote {output}: {coefficients.shape[0]} channels of {coefficients.shape[1]}x"
               f"{coefficients.shape[2]} (J={J}, L={L}, order {order}, {padding.value} padding)")


def main():  # pragma: no cover - entry point
    app(prog_name="invscat")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
