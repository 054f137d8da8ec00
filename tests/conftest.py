import numpy as np
import pytest
import torch

from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def kymatio_reference():
    return np.load(REFERENCE / "kymatio_scattering2d_J4_L8.npz")


def kymatio_scattering(J, shape, L=8, max_order=2):
    """Kymatio's torch Scattering2D, imported past its 3D frontend (which fails on SciPy >= 1.17)."""
    frontend = pytest.importorskip("kymatio.scattering2d.frontend.torch_frontend")
    return frontend.ScatteringTorch2D(J=J, shape=shape, L=L, max_order=max_order)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def blurred_pairs(count=40, size=32, seed=0):
    """(first, truth) training pairs for scattering estimators: dead-leaves images and their Gaussian blur."""
    from scipy.ndimage import gaussian_filter

    from invscat import data

    rng = np.random.default_rng(seed)
    truth = np.stack([data.dead_leaves(size, seed=int(s)) for s in rng.integers(0, 10 ** 6, count)])
    return np.stack([gaussian_filter(x, 1.5) for x in truth]).astype(np.float32), truth
