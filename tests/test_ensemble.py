"""The ensemble of scattering estimators: the weighted mean of its members' predictions, persistence, the
shipped lookup order and `invscat fit --kind ensemble`."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import blurred_pairs
from invscat.cli import app
from invscat.estimators import ConvolutionalEstimator, EnsembleEstimator, ScatteringEstimator
from invscat.tasks import Tomography


@pytest.fixture(scope="module")
def members():
    first, truth = blurred_pairs(count=8)
    ridge = ScatteringEstimator(J=2, L=4, radius=1, metadata={"task": "tomo", "views": 30}).fit(first, truth)
    network = ConvolutionalEstimator(J=2, L=4, width=8, depth=2).fit(first, truth, epochs=2)
    return first, ridge, network


def test_the_prediction_is_the_weighted_mean_of_the_members(members):
    first, ridge, network = members
    ensemble = EnsembleEstimator([ridge, network], weights=[1, 3])
    assert ensemble.weights == [0.25, 0.75] and ensemble.metadata == ridge.metadata
    torch.testing.assert_close(ensemble.predict(first[:2]),
                               0.25 * ridge.predict(first[:2]) + 0.75 * network.predict(first[:2]))
    torch.testing.assert_close(ensemble.channel_scale, ridge.channel_scale)
    with pytest.raises(ValueError, match="fit its members"):
        ensemble.fit(first, first)


def test_save_load_round_trip_and_malformed_files(members, tmp_path):
    first, ridge, network = members
    ensemble = EnsembleEstimator([ridge, network], [0.3, 0.7], metadata={"task": "tomo", "views": 30})
    ensemble.lam = 2e-4
    ensemble.save(tmp_path / "ensemble.pt")
    loaded = ScatteringEstimator.load(tmp_path / "ensemble.pt", task="tomo", views=30)
    assert isinstance(loaded, EnsembleEstimator) and loaded.lam == 2e-4 and loaded.weights == [0.3, 0.7]
    assert [type(m) for m in loaded.members] == [ScatteringEstimator, ConvolutionalEstimator]
    torch.testing.assert_close(loaded.predict(first[:2]), ensemble.predict(first[:2]))
    state = torch.load(tmp_path / "ensemble.pt", weights_only=True)
    for change, words in ((lambda s: s.update(weights=[0.3]), "one weight >= 0 per member"),
                          (lambda s: s["members"][1].update(input_scale=-s["members"][1]["input_scale"]),
                           "malformed convolutional estimator file"),
                          (lambda s: s.update(members="ridge"), "a list of members"),
                          (lambda s: s.update(lam=-1.0), "'lam' must be a number >= 0")):
        broken = torch.load(tmp_path / "ensemble.pt", weights_only=True)
        change(broken)
        torch.save(broken, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=words):
            ScatteringEstimator.load(tmp_path / "bad.pt")
    assert state["format"] == "invscat.EnsembleEstimator"


@pytest.mark.parametrize("members, weights, error, words", [
    ([], None, ValueError, "at least one"),
    (["ridge"], None, TypeError, "scattering estimators"),
    ([ScatteringEstimator(J=2, L=4)], None, ValueError, "must be fitted"),
])
def test_bad_ensembles_are_refused(members, weights, error, words):
    with pytest.raises(error, match=words):
        EnsembleEstimator(members, weights)


def test_members_must_agree_and_weights_be_valid(members):
    first, ridge, network = members
    other = ScatteringEstimator(J=1, L=4, radius=0).fit(first, first)
    with pytest.raises(ValueError, match="share J, L and max_order"):
        EnsembleEstimator([ridge, other])
    with pytest.raises(ValueError, match="not all zero"):
        EnsembleEstimator([ridge, network], [0, 0])
    with pytest.raises(ValueError, match="one weight >= 0"):
        EnsembleEstimator([ridge, network], [1, np.nan])


def test_fit_an_ensemble_from_the_command_line(tmp_path):
    output = tmp_path / "ensemble.pt"
    result = CliRunner().invoke(app, ["fit", "tomo", "--size", "32", "--views", "10", "--count", "6", "--kind",
                                      "ensemble", "--network-share", "0.6", "--epochs", "1", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "ridge" in result.output and "convolutional" in result.output
    estimator = Tomography(views=10, size=32).load_estimator(output)
    assert isinstance(estimator, EnsembleEstimator) and estimator.weights == pytest.approx([0.4, 0.6])
    result = CliRunner().invoke(app, ["fit", "tomo", "--kind", "ensemble", "--network-share", "2", "-o",
                                      str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "--network-share in [0, 1]" in result.output


def test_asking_for_a_kind_that_does_not_ship_says_how_to_fit_it():
    from invscat.estimators import pretrained
    from invscat.tasks import SuperResolution

    with pytest.raises(ValueError, match="no ensemble scattering estimator ships .* --factor 4 --kind ensemble -o"):
        pretrained.load(SuperResolution(4), "ensemble")
