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


def detailed_region(image: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` window of ``image`` with the most gradient energy (edges and
    texture): where a zoomed inset shows the most.

    >>> image = np.zeros((64, 64)); image[40:50, 10:20] = 1
    >>> top, left = detailed_region(image, 16)
    >>> top <= 40 and top + 16 >= 50 and left <= 10 and left + 16 >= 20
    True
    """
    from scipy.ndimage import uniform_filter

    grey = image.mean(axis=-1) if image.ndim == 3 else image
    energy = np.hypot(*np.gradient(grey.astype(np.float64)))
    M, N = grey.shape
    local = uniform_filter(energy, size=side, mode="constant")
    half = side // 2
    inner = local[half:M - side + half + 1, half:N - side + half + 1]
    i, j = np.unravel_index(np.argmax(inner), inner.shape)
    return int(i), int(j)


def save_comparison_figure(path, panels, title: str | None = None) -> None:
    """Save images side by side: ``panels`` is a list of (title, image) pairs, image panels first.

    - A panel titled 'reference...' sets the grey scale of the image panels of its shape and their PSNR / SSIM,
      written under their titles;
    - a panel titled 'measurement...' or 'sinogram...' keeps its own range (and gets no inset unless it is an
      image of another size, e.g. the low-resolution input, whose inset shows the same region);
    - a panel titled 'error...' uses a diverging map on a robust scale (+- the 99th percentile of |error|);
    - every image panel gets a zoomed inset of the most detailed region (:func:`detailed_region`) and a frame
      marking it.
    """
    from matplotlib.patches import Rectangle

    from invscat.metrics import psnr, ssim

    plt = _pyplot()
    reference = next((image for name, image in panels if name.startswith("reference")), None)
    main = reference if reference is not None else next(image for name, image in panels
                                                        if not name.startswith(("measurement", "sinogram")))
    M, N = main.shape[:2]
    side = max(8, min(M, N) // 5)
    top, left = detailed_region(main, side)
    limits = {} if reference is None or reference.ndim == 3 else {"vmin": float(reference.min()),
                                                                   "vmax": float(reference.max())}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.9), layout="constrained", squeeze=False)
    for ax, (name, image) in zip(axes[0], panels):
        own_range = name.startswith(("measurement", "sinogram"))
        label = name
        if name.startswith("error"):
            grey = image.mean(axis=-1) if image.ndim == 3 else image
            bound = float(np.percentile(np.abs(grey), 99)) or 1.0
            shown = ax.imshow(grey, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
            fig.colorbar(shown, ax=ax, shrink=0.7, label="error (ends: 99th percentile of |error|)")
        else:
            shown_image = np.clip(image, 0, 1) if image.ndim == 3 else image
            scale = {} if own_range or image.ndim == 3 or image.shape != main.shape else limits
            ax.imshow(shown_image, cmap="gray", interpolation="nearest", aspect="auto" if name.startswith("sinogram")
                      else "equal", **scale)
            if reference is not None and not own_range and not name.startswith("reference") \
                    and image.shape == reference.shape:
                label += f"\n{psnr(image, reference):.2f} dB, SSIM {ssim(image, reference):.3f}"
            if not name.startswith("sinogram"):
                _inset(ax, shown_image, top, left, side, image.shape[0] / M, scale, Rectangle)
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _inset(ax, image, top, left, side, ratio, scale, Rectangle) -> None:
    """A zoomed copy of the region (top, left, side) (in the main image's pixels, times ``ratio`` for an image of
    another size) in the lower right corner, and a frame around the region."""
    t, l, s = int(round(top * ratio)), int(round(left * ratio)), max(2, int(round(side * ratio)))
    ax.add_patch(Rectangle((l - 0.5, t - 0.5), s, s, fill=False, edgecolor="yellow", linewidth=1))
    inset = ax.inset_axes([0.62, 0.0, 0.38, 0.38])
    inset.imshow(image[t:t + s, l:l + s], cmap="gray", interpolation="nearest", **scale)
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_edgecolor("yellow")
