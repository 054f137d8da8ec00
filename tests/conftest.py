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
