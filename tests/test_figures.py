"""--figure: measurement (or sinogram), the classical baseline, the result, the reference and the error, with PSNR /
SSIM in the titles and a zoomed inset of the most detailed region."""

import numpy as np
import pytest
from skimage.io import imread

from invscat import data
from invscat.figures import detailed_region, save_comparison_figure
from test_cli import run


@pytest.mark.parametrize("command,extra,panels", [("superres", ["--factor", "2"], 5), ("tomo", ["--views", "20"], 5),
                                                  ("deblur", [], 4)])
def test_simulated_runs_draw_every_panel(tmp_path, command, extra, panels):
    np.save(tmp_path / "x.npy", data.load_sample(data.TRAINING_IMAGES[0], 64))
    result = run(command, tmp_path / "x.npy", "--simulate", *extra, "--iters", 20, "-o", tmp_path / "out.npy",
                 "--figure", tmp_path / "figure.png", "--quiet")
    assert result.exit_code == 0, result.output
    assert imread(tmp_path / "figure.png").shape[1] == int(3.3 * panels * 100)  # 3.3 inches a panel at 100 dpi


def test_error_scale_is_robust_and_measurements_keep_their_range(tmp_path, monkeypatch):
    import matplotlib.axes

    shown = []
    original = matplotlib.axes.Axes.imshow
    monkeypatch.setattr(matplotlib.axes.Axes, "imshow",
                        lambda self, image, **kw: shown.append((np.asarray(image), kw)) or original(self, image, **kw))
    reference = data.shepp_logan(64)
    error = np.zeros((64, 64)); error[0, 0] = 100.0; error[10:20, 10:20] = 0.1  # one wild pixel
    sinogram = 50 * np.ones((20, 92))
    save_comparison_figure(tmp_path / "f.png", [("sinogram (20x92)", sinogram), ("tv", reference),
                                                ("reference", reference), ("error", error)])
    sinogram_kw = next(kw for image, kw in shown if image.shape == (20, 92))
    assert "vmax" not in sinogram_kw  # its own range, not the reference's
    error_kw = next(kw for image, kw in shown if image.shape == (64, 64) and kw.get("cmap") == "RdBu_r")
    assert error_kw["vmax"] < 1  # the 99th percentile, not the wild pixel


def test_the_inset_finds_the_detail():
    image = np.zeros((100, 100)); image[60:70, 20:30] = np.random.default_rng(0).random((10, 10))
    top, left = detailed_region(image, 20)
    assert top <= 60 and top + 20 >= 70 and left <= 20 and left + 20 >= 30
