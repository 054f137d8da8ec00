"""Figures written by the command-line tools (matplotlib, headless)."""

from __future__ import annotations

import numpy as np

from invscat.io import atomic_path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_scattering_figure(path, image: np.ndarray, coefficients: np.ndarray, J: int, L: int) -> None:
    """Save the image beside its first-order scattering maps (one row per scale, one column per angle).

    ``coefficients`` has shape (C, m, n) in Kymatio's channel order.
    """
    plt = _pyplot()
    fig = plt.figure(figsize=(2 + 1.2 * L, max(3.0, 1.2 * J)), layout="constrained")
    grid = fig.add_gridspec(J, L + 2)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(image, cmap="gray")
    ax.set_title("input")
    ax.axis("off")
    order1 = coefficients[1:1 + J * L]
    for j in range(J):
        for t in range(L):
            ax = fig.add_subplot(grid[j, 2 + t])
            ax.imshow(order1[j * L + t], cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            if t == 0:
                ax.set_ylabel(f"j={j}")
            if j == 0:  # Kymatio's angle of index t
                ax.set_title(f"θ={int(L - L / 2 - 1) - t}π/{L}", fontsize=8)
    fig.suptitle("first-order scattering coefficients")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def save_comparison_figure(path, panels, title: str | None = None) -> None:
    """Save images side by side, each with its title: ``panels`` is a list of (title, image) pairs.

    Images are shown on a shared gray scale from the first panel whose title starts with 'reference' (else
    each on its own); a panel whose title starts with 'error' uses a diverging map centred on zero.
    """
    plt = _pyplot()
    display = lambda image: np.clip(image, 0, 1) if image.ndim == 3 else image
    scale = next((image for name, image in panels if name.startswith("reference")), None)
    limits = {} if scale is None or scale.ndim == 3 else {"vmin": float(scale.min()), "vmax": float(scale.max())}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), layout="constrained", squeeze=False)
    for ax, (name, image) in zip(axes[0], panels):
        if name.startswith("error"):
            gray = image.mean(axis=-1) if image.ndim == 3 else image
            bound = float(np.abs(gray).max()) or 1.0
            shown = ax.imshow(gray, cmap="RdBu_r", vmin=-bound, vmax=bound)
            fig.colorbar(shown, ax=ax, shrink=0.7)
        else:
            ax.imshow(display(image), cmap="gray", **({} if image.ndim == 3 else limits), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
