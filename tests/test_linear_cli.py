"""``workbench ppca`` / ``workbench fa``: JSON keys, figures, held-out scores, bad input; the
choose-q helper and the demo section."""

import json

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from workbench.cli import main
from workbench.data import linear_factor_data, load_dataset
from workbench.linear import PPCA
from workbench.linear.selection import choose_q


def _run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_ppca_json_on_digits_matches_the_estimator(capsys, tmp_path):
    out = _run_json(
        capsys, ["ppca", "--data", "digits", "--q", "5", "--json", "--out", str(tmp_path)]
    )
    for key in ("method", "n_samples", "n_features", "n_components", "log_likelihood",
                "noise_variance", "explained_variance", "test_log_likelihood"):  # fmt: skip
        assert key in out
    train = load_dataset("digits", split="train")
    test = load_dataset("digits", split="test")
    model = PPCA(5).fit(train.X)
    assert (out["n_samples"], out["n_features"], out["n_components"]) == (1437, 64, 5)
    assert out["log_likelihood"] == pytest.approx(model.score(train.X), rel=1e-9)
    assert out["test_log_likelihood"] == pytest.approx(model.score(test.X), rel=1e-9)
    assert out["noise_variance"] == pytest.approx(model.noise_variance_)
    np.testing.assert_allclose(out["explained_variance"], model.eigenvalues_[:5], rtol=1e-9)
    for name in ("spectrum", "latent", "reconstructions", "result"):
        assert (tmp_path / f"ppca_{name}.{'json' if name == 'result' else 'png'}").is_file()
    saved = json.loads((tmp_path / "ppca_result.json").read_text())
    assert saved["log_likelihood"] == out["log_likelihood"]


def test_fa_and_ard_on_a_user_file(capsys, tmp_path):
    data = linear_factor_data(1500, 8, 2, noise="diagonal", seed=0)
    path = tmp_path / "x.npy"
    np.save(path, np.c_[data.X, np.full(1500, 3.0)])  # a constant column: dropped for FA
    fa = _run_json(capsys, ["fa", "--data", str(path), "--q", "2", "--json", "--seed", "0",
                            "--rotation", "varimax"])  # fmt: skip
    assert fa["constant_columns_dropped"] == 1 and fa["n_features"] == 8
    np.testing.assert_allclose(fa["noise_variance"], data.noise_variance, rtol=0.2)
    assert fa["test_log_likelihood"] is None
    iso = tmp_path / "iso.csv"
    np.savetxt(iso, linear_factor_data(1500, 8, 2, seed=0).X, delimiter=",")
    ard = _run_json(capsys, ["ppca", "--data", str(iso), "--q", "7", "--method", "ard",
                             "--json", "--seed", "0"])  # fmt: skip
    assert ard["effective_dimension"] == 2 and ard["n_samples"] == 1500


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["ppca", "--data", "digits", "--q", "64"],
            "--q: expected 1 <= n_components < n_features = 64",
        ),
        (["ppca", "--data", "digits", "--q", "0"], "--q: expected 1 <= n_components"),
        (
            ["ppca", "--data", "nosuch", "--q", "2"],
            "--data: unknown data set 'nosuch'",
        ),
        (
            ["fa", "--data", "digits", "--q", "2", "--max-rows", "1"],
            "--max-rows: expected at least 2",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_nan_in_a_user_file(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n4,nan,6\n7,8,9\n")
    assert main(["ppca", "--data", str(path), "--q", "1"]) == 2
    assert "NaN/inf" in capsys.readouterr().err


def held_out_ppca(train, test, q):
    """Mean held-out log-density of the ML PPCA fitted on ``train`` (Tipping and Bishop:
    eigen-decomposition of the biased sample covariance), by scipy's multivariate normal."""
    eig, vec = np.linalg.eigh(np.cov(train, rowvar=False, bias=True))
    eig, vec = eig[::-1], vec[:, ::-1]
    s2 = eig[q:].mean()
    cov = (vec[:, :q] * (eig[:q] - s2)) @ vec[:, :q].T + s2 * np.eye(train.shape[1])
    return multivariate_normal(train.mean(0), cov).logpdf(test).mean()


def test_choose_q_agrees_with_the_truth():
    data = linear_factor_data(4000, 10, 3, seed=2)
    train, test = data.X[:2500], data.X[2500:]
    result = choose_q(train, test, range(1, 8), ard_max=9, seed=0)
    assert result["best_q"] == 3 and result["ard_dimension"] == 3
    exact = [held_out_ppca(train, test, q) for q in range(1, 8)]
    np.testing.assert_allclose(result["held_out_log_likelihood"], exact, rtol=1e-10)


@pytest.mark.slow
def test_ppca_nuts_writes_the_posterior(capsys, tmp_path):
    import xarray as xr

    path = tmp_path / "x.npy"
    np.save(path, linear_factor_data(150, 4, 2, seed=11).X)
    out = _run_json(capsys, ["ppca", "--data", str(path), "--q", "2", "--method", "nuts",
                             "--draws", "300", "--tune", "300", "--seed", "1", "--json",
                             "--out", str(tmp_path / "out")])  # fmt: skip
    assert out["rhat_max"] < 1.01
    tree = xr.open_datatree(out["files"]["posterior"], engine="h5netcdf")
    assert tree["posterior"]["W"].shape == (4, 300, 4, 2)


def test_figures_hold_the_closed_form_numbers():
    """Each figure's data against numbers computed here: eigenvalues of the biased sample
    covariance, the noise variance as the mean of the discarded ones, E[h | x] by the formula
    W^T C^-1 (x - b), the held-out curve, and the images as given."""
    from workbench.linear.plots import (
        plot_choose_q,
        plot_latent,
        plot_reconstructions,
        plot_spectrum,
    )

    data = linear_factor_data(600, 6, 2, seed=4)
    train, test = data.X[:400], data.X[400:]
    model = PPCA(2).fit(train)
    eig = np.sort(np.linalg.eigvalsh(np.cov(train, rowvar=False, bias=True)))[::-1]
    ax = plot_spectrum(model).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), eig, rtol=1e-10)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [eig[2:].mean()] * 2, rtol=1e-10)

    W, C = model.components_.T, model.get_covariance()
    H = (test - train.mean(0)) @ np.linalg.solve(C, W)
    scatter = plot_latent(model, test).axes[0].collections[0]
    np.testing.assert_allclose(scatter.get_offsets(), H, rtol=1e-8, atol=1e-12)

    selection = choose_q(train, test, range(1, 5), ard_max=5, seed=0)
    line = plot_choose_q(selection).axes[0].lines[0]
    exact = [held_out_ppca(train, test, q) for q in range(1, 5)]
    np.testing.assert_array_equal(np.asarray(line.get_xdata(), dtype=float), [1, 2, 3, 4])
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), exact, rtol=1e-10)

    images = np.random.default_rng(0).random((3, 4))
    axes = plot_reconstructions(images, images[::-1], (2, 2)).axes
    shown = [ax.images[0].get_array() for ax in axes]  # row-major: originals, then recons.
    np.testing.assert_array_equal(shown[0], images[0].reshape(2, 2))
    np.testing.assert_array_equal(shown[3], images[2].reshape(2, 2))
