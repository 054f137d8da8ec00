"""Test images: phantoms, seeded random shapes and the bundled / offline scikit-image pictures, as float32 in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import color, draw, transform

from invscat.checks import check_count

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
# scikit-image images that ship with the package (no download)
SKIMAGE_IMAGES = ("camera", "astronaut", "brick", "grass", "gravel", "coffee", "chelsea", "coins", "moon", "page",
                  "text", "rocket", "clock", "horse", "cell", "retina", "shepp_logan_phantom")


def _normalise(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float64)
    span = image.max() - image.min()
    return ((image - image.min()) / span if span > 0 else np.zeros_like(image)).astype(np.float32)


def _square(image: np.ndarray, size: int) -> np.ndarray:
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return transform.resize(image[top:top + side, left:left + side], (size, size), anti_aliasing=True)


def shepp_logan(size: int = 256) -> np.ndarray:
    """The modified Shepp–Logan phantom at ``size x size``."""
    return load_sample("shepp_logan_phantom", size)


def random_ellipses(size: int = 128, count: int = 10, seed: int = 0) -> np.ndarray:
    """A phantom of ``count`` overlapping ellipses of random position, shape, angle and intensity."""
    size = check_count("image size", size)
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size))
    for _ in range(count):
        r, c = rng.uniform(0.25, 0.75, 2) * size
        a, b = rng.uniform(0.04, 0.25, 2) * size
        rr, cc = draw.ellipse(r, c, a, b, (size, size), rotation=rng.uniform(0, np.pi))
        image[rr, cc] += rng.uniform(-0.5, 1.0)
    return _normalise(np.clip(image, 0, None))


def random_polygons(size: int = 128, count: int = 6, seed: int = 0) -> np.ndarray:
    """A phantom of ``count`` random convex-ish polygons (3 to 7 vertices) of random intensity."""
    size = check_count("image size", size)
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size))
    for _ in range(count):
        centre = rng.uniform(0.2, 0.8, 2) * size
        vertices = rng.integers(3, 8)
        angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        radii = rng.uniform(0.05, 0.25, vertices) * size
        rr, cc = draw.polygon(centre[0] + radii * np.sin(angles), centre[1] + radii * np.cos(angles), (size, size))
        image[rr, cc] = rng.uniform(0.2, 1.0)
    return _normalise(image)


def _disc_texture(rng, size: int) -> np.ndarray:
    """A random texture for a dead leaf: flat, an oriented sinusoid, or smoothed noise (zero mean, unit range)."""
    kind = rng.integers(3)
    if kind == 0:
        return np.zeros((size, size))
    if kind == 1:
        rows, cols = np.mgrid[:size, :size]
        angle, period = rng.uniform(0, np.pi), rng.uniform(2.5, 12.0)
        return 0.5 * np.sin(2 * np.pi * (rows * np.cos(angle) + cols * np.sin(angle)) / period + rng.uniform(0, 6.3))
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.standard_normal((size, size)), rng.uniform(0.5, 2.5))
    return 0.5 * noise / (np.abs(noise).max() + 1e-12)


def dead_leaves(size: int = 128, seed: int = 0, textured: bool = True) -> np.ndarray:
    """A dead-leaves image: occluding discs with radii of density r^-3 (scale invariant, as natural images' edges;
    Lee, Mumford & Huang 2001), each flat or, with ``textured``, carrying a sinusoid or smoothed-noise texture."""
    size = check_count("image size", size)
    rng = np.random.default_rng(seed)
    image, covered = np.zeros((size, size)), np.zeros((size, size), bool)
    r_min, r_max = max(size / 64, 1.5), size / 3
    textures = [_disc_texture(rng, size) for _ in range(4)] if textured else [np.zeros((size, size))]
    for _ in range(4000):
        if covered.all():
            break
        u = rng.random()  # inverse CDF of p(r) ~ r^-3 on [r_min, r_max]
        radius = (r_min ** -2 - u * (r_min ** -2 - r_max ** -2)) ** -0.5
        rr, cc = draw.disk(rng.uniform(0, size, 2), radius, shape=(size, size))
        keep = ~covered[rr, cc]
        rr, cc = rr[keep], cc[keep]
        texture = textures[rng.integers(len(textures))] * rng.uniform(0, 0.6)
        image[rr, cc] = rng.uniform(0, 1) + texture[rr, cc]
        covered[rr, cc] = True
    return _normalise(image)


def random_head(size: int = 128, seed: int = 0) -> np.ndarray:
    """A head-like phantom: a bright elliptical skull ring around soft tissue, with random interior ellipses, thin
    rings and small bright or dark details (Shepp–Logan-like, randomised)."""
    size = check_count("image size", size)
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size))
    centre = size / 2 + rng.uniform(-0.05, 0.05, 2) * size
    a, b = rng.uniform(0.36, 0.47, 2) * size
    tilt = rng.uniform(-0.3, 0.3)
    thickness = rng.uniform(0.02, 0.06) * size
    for scale, value in ((1.0, 1.0), (1 - thickness / min(a, b), -1.0 + rng.uniform(0.1, 0.35))):
        rr, cc = draw.ellipse(*centre, a * scale, b * scale, (size, size), rotation=tilt)
        image[rr, cc] += value
    for _ in range(rng.integers(4, 12)):
        offset = rng.uniform(-0.55, 0.55, 2) * np.array([a, b])
        axes = rng.uniform(0.02, 0.3, 2) * min(a, b)
        rr, cc = draw.ellipse(*(centre + offset), *axes, (size, size), rotation=rng.uniform(0, np.pi))
        image[rr, cc] += rng.uniform(-0.15, 0.25)
        if rng.random() < 0.3:  # a thin ring inside the ellipse
            rr, cc = draw.ellipse(*(centre + offset), *(axes * 0.8), (size, size), rotation=rng.uniform(0, np.pi))
            image[rr, cc] -= rng.uniform(-0.1, 0.1)
    return _normalise(np.clip(image, 0, None))


def random_texture(size: int = 128, seed: int = 0) -> np.ndarray:
    """A stationary Gaussian texture: white noise filtered by a random oriented band-pass spectrum."""
    size = check_count("image size", size)
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    radius, angle = np.hypot(fy, fx), np.arctan2(fy, fx)
    centre, width = rng.uniform(0.03, 0.3), rng.uniform(0.02, 0.12)
    orientation, spread = rng.uniform(0, np.pi), rng.uniform(0.2, 3.0)
    spectrum = np.exp(-((radius - centre) / width) ** 2 / 2) * np.exp(np.cos(2 * (angle - orientation)) * spread)
    spectrum += 0.3 * np.exp(-(radius / 0.02) ** 2)
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) * np.sqrt(spectrum)).real
    return _normalise(field)


GENERATORS = {"ellipses": random_ellipses, "polygons": random_polygons, "dead_leaves": dead_leaves,
              "head": random_head, "texture": random_texture}


def load_sample(name: str, size: int | None = 256) -> np.ndarray:
    """A bundled (``data/*.png``) or offline scikit-image image as grayscale float32 in [0, 1].

    Parameters
    ----------
    name : str
        A file stem in ``data/`` (camera, shepp_logan, brick, grass, gravel) or a name in ``SKIMAGE_IMAGES``.
    size : int or None
        Resize a centred square crop to ``size x size``; None keeps the original.
    """
    if size is not None:
        size = check_count("image size", size)
    bundled = DATA_DIR / f"{name}.png"
    if bundled.exists():
        from skimage import io
        image = io.imread(bundled)
    elif name in SKIMAGE_IMAGES:
        from skimage import data
        image = getattr(data, name)()
    else:
        raise ValueError(f"unknown sample image {name!r}; expected a file in {DATA_DIR} or one of "
                         f"{', '.join(SKIMAGE_IMAGES)}.")
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
    if size is not None:
        image = _square(image, size)
    return _normalise(image)


# Disjoint image sets: defaults and learned estimators are fitted on TRAINING_IMAGES only; benchmarks and
# stated quality figures use TEST_IMAGES.
TRAINING_IMAGES = ("astronaut", "coffee", "chelsea", "coins", "moon", "page", "rocket", "retina", "clock", "text")
TEST_IMAGES = ("camera", "shepp_logan", "brick", "grass", "gravel")


def training_set(shape, count: int | None = None, phantoms: int = 0, seed: int = 0) -> np.ndarray:
    """Training images at ``shape``: the first ``count`` of ``TRAINING_IMAGES`` (all by default), plus
    ``phantoms`` seeded random ellipse / polygon phantoms (for tomography), as float32 (K, M, N) in [0, 1]."""
    M, N = (int(s) for s in shape)
    side = max(M, N)
    crop = lambda image: image[(side - M) // 2:(side - M) // 2 + M, (side - N) // 2:(side - N) // 2 + N]
    names = TRAINING_IMAGES[:count] if count is not None else TRAINING_IMAGES
    images = [crop(load_sample(name, side)) for name in names]
    for k in range(phantoms):
        make = random_ellipses if k % 2 == 0 else random_polygons
        images.append(crop(make(side, seed=seed + k)))
    return np.stack(images).astype(np.float32)
