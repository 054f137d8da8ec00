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
