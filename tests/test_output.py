"""The output layer: atomic writes with umask modes, JSON, PNG figures, NetCDF-safe trees, and
figures that leave pyplot alone."""

import base64
import io
import json
import logging
import os
import stat
import warnings
from pathlib import Path

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure
from scipy.stats import gaussian_kde

from workbench.bayes.estimators import EstimateResult
from workbench.cli import build_parser, main
from workbench.linear import PPCA
from workbench.linear.plots import plot_choose_q, plot_latent, plot_reconstructions, plot_spectrum
from workbench.output import (
    atomic_path,
    emit,
    figure_png,
    netcdf_safe,
    save_figure,
    to_json,
    write_bytes,
    write_json,
    write_netcdf,
    write_text,
)
from workbench.plots import plot_estimates
from workbench.report import HtmlReport, estimate_tables, format_table, save_result


@pytest.fixture
def umask():
    """Set the process umask for one test; the old one comes back afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_get_the_mode_the_umask_allows(tmp_path, umask, mask):
    umask(mask)
    paths = [
        write_text(tmp_path / "a.txt", "text"),
        write_bytes(tmp_path / "b.bin", b"\x00\x01"),
        write_json(tmp_path / "sub" / "c.json", {"x": 1}),
    ]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert (tmp_path / "a.txt").read_text() == "text"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_failing_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="payload: expected JSON-serialisable values, got object"):
        write_json(tmp_path / "out.json", {"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_a_failing_write_keeps_the_previous_file(tmp_path):
    path = write_text(tmp_path / "report.html", "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("new, half written")
        raise RuntimeError
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_json_makes_numpy_values_plain(tmp_path):
    payload = {"a": np.float32(0.5), "b": np.arange(3), "c": np.int64(7), "d": [np.bool_(True)]}
    expected = {"a": 0.5, "b": [0, 1, 2], "c": 7, "d": [True]}
    assert json.loads(to_json(payload)) == expected
    assert json.loads(write_json(tmp_path / "p.json", payload).read_text()) == expected


@pytest.mark.parametrize("as_json", [True, False])
def test_emit_prints_json_or_the_table(capsys, as_json):
    class Args:
        json = as_json

    emit(Args, {"value": np.float64(1.25)}, "value  1.25")
    out = capsys.readouterr().out
    assert (json.loads(out) == {"value": 1.25}) if as_json else (out == "value  1.25\n")


def test_figures_become_pngs_of_their_pixels(tmp_path):
    fig = Figure(figsize=(2, 1))
    fig.patch.set_facecolor((1.0, 0.0, 0.0))
    path = save_figure(fig, tmp_path / "red.png", dpi=50)
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (60, 110)  # 2 x 1 inches at 50 dpi, plus a 0.1-inch margin
    np.testing.assert_array_equal(pixels[..., :3], np.broadcast_to([1.0, 0.0, 0.0], (60, 110, 3)))
    np.testing.assert_array_equal(matplotlib.image.imread(io.BytesIO(figure_png(fig, 50))), pixels)


def _nutpie_like_tree():
    """The layout nutpie returns: posterior and sample_stats, an object-typed
    ``divergence_message`` (None, NaN or text per draw), a bool variable, list attributes."""
    rng = np.random.default_rng(0)
    coords = {"chain": [0, 1], "draw": np.arange(5), "k": ["a", "b"]}
    posterior = xr.Dataset(
        {"x": (("chain", "draw", "k"), rng.normal(size=(2, 5, 2))),
         "n": (("chain", "draw"), rng.integers(0, 9, size=(2, 5)))},
        coords=coords, attrs={"sample_dims": ["chain", "draw"], "created_at": "now"},
    )  # fmt: skip
    message = np.array([[None, np.nan, "energy error", None, None], [None] * 5], dtype=object)
    stats = xr.Dataset(
        {"divergence_message": (("chain", "draw"), message),
         "diverging": (("chain", "draw"), message != None),  # noqa: E711
         "step_size": (("chain", "draw"), rng.uniform(size=(2, 5)))},
        coords={"chain": [0, 1], "draw": np.arange(5)},
        attrs={"tuned": True, "settings": {"maxdepth": 10}, "dims": ["chain", "draw"]},
    )  # fmt: skip
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def test_netcdf_safe_round_trips_a_nutpie_tree(tmp_path):
    tree = _nutpie_like_tree()
    path = write_netcdf(tree, tmp_path / "posterior.nc")
    back = xr.open_datatree(path, engine="h5netcdf").load()
    for group in ("posterior", "sample_stats"):
        for name, var in tree[group].data_vars.items():
            if var.dtype != object:
                assert back[group][name].dtype == var.dtype
                np.testing.assert_array_equal(back[group][name].values, var.values)
    np.testing.assert_array_equal(back["posterior"]["k"].values, ["a", "b"])
    np.testing.assert_array_equal(
        back["sample_stats"]["divergence_message"].values,
        [["", "", "energy error", "", ""], [""] * 5],
    )
    assert list(back["posterior"].attrs["sample_dims"]) == ["chain", "draw"]
    assert back["sample_stats"].attrs["tuned"] == "True"
    assert back["sample_stats"].attrs["settings"] == "{'maxdepth': 10}"
    assert tree["sample_stats"]["divergence_message"].dtype == object  # the input is untouched
    assert netcdf_safe(tree)["sample_stats"].attrs["dims"] == ["chain", "draw"]


@pytest.fixture
def pyplot_untouched():
    """Fails the test if it switched the backend or left figures in pyplot's registry."""
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    yield
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == figures


def _lines(ax):
    return {line.get_label().split(" ")[0]: line for line in ax.get_lines()}


def _toy_result():
    """An EstimateResult of a scalar ``mu`` and a vector ``x`` with posterior draws."""
    rng = np.random.default_rng(1)
    draws = {"mu": rng.normal(1.0, 0.5, size=(2, 200)), "x": rng.normal(size=(2, 200, 3))}
    posterior = xr.DataTree.from_dict({"posterior": xr.Dataset(
        {"mu": (("chain", "draw"), draws["mu"]), "x": (("chain", "draw", "i"), draws["x"])}
    )})  # fmt: skip
    point = {"map": {"mu": np.array(0.9), "x": np.array([0.1, -0.2, 0.3])},
             "cm": {"mu": np.array(1.0), "x": np.array([0.0, 0.1, -0.1])}}  # fmt: skip
    hdi = {"mu": (np.array(0.2), np.array(1.8)), "x": (np.full(3, -1.5), np.full(3, 1.5))}
    result = EstimateResult("toy", ["mu", "x"], ("map", "cm"), 0.9, point, hdi=hdi,
                            posterior=posterior)  # fmt: skip
    return result, draws, point


def test_plot_estimates_draws_the_estimates_and_the_density(pyplot_untouched):
    result, draws, point = _toy_result()
    fig = plot_estimates(result)
    assert isinstance(fig, Figure)
    scalar, vector = fig.axes[:2]
    lines = _lines(scalar)
    assert lines["MAP"].get_xdata()[0] == 0.9 and lines["CM"].get_xdata()[0] == 1.0
    grid, density = lines["posterior"].get_data()
    np.testing.assert_allclose(density, gaussian_kde(draws["mu"].ravel())(grid))
    lines = _lines(vector)
    np.testing.assert_array_equal(lines["MAP"].get_ydata(), point["map"]["x"])
    np.testing.assert_array_equal(lines["CM"].get_ydata(), point["cm"]["x"])


def test_linear_plots_show_the_fitted_quantities(pyplot_untouched):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 5)) + 0.3 * rng.normal(size=(300, 5))
    model = PPCA(2).fit(X)
    spectrum = plot_spectrum(model).axes[0]
    np.testing.assert_allclose(spectrum.get_lines()[0].get_ydata(), model.eigenvalues_)
    assert spectrum.get_lines()[1].get_ydata()[0] == model.noise_variance_
    latent = plot_latent(model, X, max_points=100, seed=3).axes[0]
    rows = np.random.default_rng(3).choice(300, 100, replace=False)
    np.testing.assert_allclose(latent.collections[0].get_offsets(), model.transform(X[rows]))
    images = rng.uniform(size=(3, 4))
    recon = plot_reconstructions(images, images[::-1], (2, 2), n_shown=3)
    shown = [ax.get_images()[0].get_array() for ax in recon.axes]
    np.testing.assert_array_equal(shown[1], images[1].reshape(2, 2))
    np.testing.assert_array_equal(shown[4], images[1].reshape(2, 2))  # row 2: the reversed set
    selection = {"q": [1, 2, 3], "held_out_log_likelihood": [-3.0, -2.0, -2.01],
                 "held_out_se": [0.1] * 3, "best_q": 2, "ard_dimension": 2}  # fmt: skip
    curve = plot_choose_q(selection).axes[0].get_lines()[0]
    np.testing.assert_array_equal(curve.get_ydata(), selection["held_out_log_likelihood"])


def test_main_called_in_process_leaves_logging_and_warnings_alone(capsys):
    build_parser()  # first imports (Torch, PyTensor) add filters of their own
    root, pymc_logger = logging.getLogger(), logging.getLogger("pymc")
    saved_level = pymc_logger.level
    pymc_logger.setLevel(logging.INFO)
    try:
        before = (root.level, list(root.handlers), list(warnings.filters))
        assert main(["models", "--json"]) == 0
        assert main(["estimate", "no-such-model"]) == 2
        assert (root.level, list(root.handlers), list(warnings.filters)) == before
        assert pymc_logger.level == logging.INFO
    finally:
        pymc_logger.setLevel(saved_level)
    capsys.readouterr()


def test_saved_results_and_reports_hold_what_they_were_given(tmp_path, pyplot_untouched):
    result, draws, _ = _toy_result()
    files = save_result(result, tmp_path / "out")
    assert json.loads(Path(files["json"]).read_text()) == json.loads(to_json(result.to_dict()))
    assert matplotlib.image.imread(files["figure"]).ndim == 3
    back = xr.open_datatree(files["posterior"], engine="h5netcdf")
    np.testing.assert_array_equal(back["posterior"]["x"].values, draws["x"])
    assert sorted(files) == ["figure", "json", "posterior"]
    report = HtmlReport("toy")
    fig = Figure(figsize=(1, 1))
    report.figure(fig, "a caption")
    page = report.save(tmp_path / "report.html").read_text()
    png = base64.b64decode(page.split("base64,")[1].split('"')[0])
    np.testing.assert_array_equal(
        matplotlib.image.imread(io.BytesIO(png)),
        matplotlib.image.imread(io.BytesIO(figure_png(fig))),
    )
    assert "<figcaption>a caption</figcaption>" in page


def test_estimate_tables_hold_the_result_and_only_the_methods_run():
    result, draws, point = _toy_result()
    result.sd = {n: draws[n].std(axis=(0, 1), ddof=1) for n in draws}
    result.mcse = {n: result.sd[n] / 20 for n in draws}
    (table,) = estimate_tables(result, max_components=2)
    assert table.columns == ["parameter", "MAP", "CM", "sd", "mcse", "90% HDI from", "to"]
    assert [row[0] for row in table.rows] == ["mu", "x[0]", "x[1]"]
    assert table.notes[0] == "... 1 more components of x (see --json or --out)"
    mu, x1 = table.rows[0], table.rows[2]
    assert mu[1:] == [0.9, 1.0, pytest.approx(draws["mu"].std(ddof=1)),
                      pytest.approx(draws["mu"].std(ddof=1) / 20), 0.2, 1.8]  # fmt: skip
    assert x1[1:3] == [point["map"]["x"][1], point["cm"]["x"][1]]
    text = format_table(result, max_components=2)
    assert text.splitlines()[0] == "model: toy" and "ML" not in text.split()
    assert text.splitlines()[3].split()[:3] == ["mu", "0.9", "1"]
