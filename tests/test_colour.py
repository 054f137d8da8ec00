"""Colour images: vectorial TV, luminance + chroma (YCbCr), channel by channel; the default measured on training
images (benchmarks/colour.py)."""

import json

import numpy as np
import pytest
import torch

from invscat import data
from invscat.regularizers import TotalVariation
from invscat.tasks import Deblurring, SuperResolution
from invscat.tasks.base import YCBCR
from test_cli import run


def photo(side=64):
    grey = data.load_sample(data.TRAINING_IMAGES[0], side)
    return np.stack([grey, np.roll(grey, 3, axis=1), grey ** 2], axis=-1).astype(np.float32)


def test_vectorial_tv_couples_the_channels():
    x = torch.rand(1, 16, 16)
    single = TotalVariation().value(x[0])
    assert torch.isclose(TotalVariation(vectorial=True).value(x.expand(3, 16, 16)), 3 ** 0.5 * single)
    p = torch.randn(3, 2, 16, 16)
    projected = TotalVariation(vectorial=True).project_dual(p, 0.5)
    assert torch.sqrt((projected ** 2).sum(dim=(0, 1))).max() <= 0.5 + 1e-6


def test_ycbcr_reconstructs_luminance_by_the_method_and_chroma_cheaply():
    task = SuperResolution(2)
    truth = photo()
    _, y = task.simulate(np.moveaxis(truth, -1, 0), seed=0)
    image = task.reconstruct(np.moveaxis(y, 0, -1), "tv", iters=30, channel_axis=-1, colour="ycbcr").image
    luminance = np.tensordot(YCBCR[0], np.moveaxis(image, -1, 0), axes=1)
    expected = task.reconstruct(np.tensordot(YCBCR[0], y, axes=1), "tv", iters=30).image
    np.testing.assert_allclose(luminance, expected, atol=1e-5)


@pytest.mark.parametrize("task", [SuperResolution(2), Deblurring(2.0)])
def test_every_colour_mode_runs_and_the_default_is_vectorial_for_tv(task):
    truth = photo()
    _, y = task.simulate(np.moveaxis(truth, -1, 0), seed=0)
    y = np.moveaxis(y, 0, -1)
    images = {mode: task.reconstruct(y, "tv", iters=30, channel_axis=-1, colour=mode).image
              for mode in ("auto", "vectorial", "ycbcr", "channels")}
    assert all(image.shape == truth.shape for image in images.values())
    np.testing.assert_array_equal(images["auto"], images["vectorial"])
    assert not np.allclose(images["vectorial"], images["channels"])
    with pytest.raises(ValueError, match="vectorial"):
        task.reconstruct(y, "l1", channel_axis=-1, colour="vectorial")


def test_the_cli_records_the_colour_mode(tmp_path):
    np.save(tmp_path / "x.npy", photo())
    result = run("superres", tmp_path / "x.npy", "--simulate", "--factor", 2, "--colour", "ycbcr", "--iters", 20,
                 "-o", tmp_path / "out.npy", "--metrics-json", tmp_path / "m.json", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m.json").read_text())["colour"] == "ycbcr"
    refused = run("superres", tmp_path / "x.npy", "--simulate", "--factor", 2, "--colour", "vectorial", "--method",
                  "l1", "-o", tmp_path / "out.npy")
    assert refused.exit_code == 2 and "vectorial" in refused.stderr
