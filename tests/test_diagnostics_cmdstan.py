"""CmdStan CSV output through `diagnose`, and Stan's definitions checked independently.

The reference below is a NumPy transcription of the R package ``posterior`` (Vehtari, Gelman,
Simpson, Carpenter and Bürkner 2021: ``split_chains``, ``z_scale``, ``ess_rfun`` with Geyer's
initial monotone sequence, ``ess_quantile``), written from the paper and the package, not from
ArviZ. The fixture is two CmdStan chains of the BUGS "blocker" model (tests/data/cmdstan).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import rankdata

from workbench.cli import main
from workbench.diagnostics import TAIL_PROB, diagnose
from workbench.diagnostics.cmdstan import read_cmdstan_csv

DATA = Path(__file__).parent / "data" / "cmdstan"
CHAINS = [DATA / "blocker.1.csv", DATA / "blocker.2.csv"]


# ------------------------------------------------------------------ Stan's definitions in NumPy
def split_chains(x):
    """(chains, draws) -> (2 chains, draws // 2): each chain cut in halves (middle draw out)."""
    n = x.shape[1]
    return np.concatenate([x[:, : n // 2], x[:, n - n // 2 :]])


def autocovariance(y):
    """Biased autocovariance (divided by n), lags 0..n-1 (Geyer 1992)."""
    n = y.size
    centred = y - y.mean()
    return np.array([centred[: n - t] @ centred[t:] / n for t in range(n)])


def ess_rfun(x):
    """posterior::ess_rfun: ESS of (chains, draws) from the multi-chain autocorrelations."""
    m, n = x.shape
    acov = np.stack([autocovariance(c) for c in x])
    mean_var = acov[:, 0].mean() * n / (n - 1)
    var_plus = mean_var * (n - 1) / n + (x.mean(axis=1).var(ddof=1) if m > 1 else 0.0)
    rho = np.zeros(n)
    rho[0] = 1.0
    rho_even, rho_odd = 1.0, 1 - (mean_var - acov[:, 1].mean()) / var_plus
    rho[1] = rho_odd
    t = 0
    while t < n - 5 and rho_even + rho_odd > 0:
        t += 2
        rho_even = 1 - (mean_var - acov[:, t].mean()) / var_plus
        rho_odd = 1 - (mean_var - acov[:, t + 1].mean()) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t], rho[t + 1] = rho_even, rho_odd
    max_t = t
    if rho_even > 0:
        rho[max_t] = rho_even
    t = 0
    while t <= max_t - 4:  # Geyer's initial monotone sequence
        t += 2
        if rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]:
            rho[t] = rho[t + 1] = (rho[t - 2] + rho[t - 1]) / 2
    tau = -1 + 2 * rho[:max_t].sum() + rho[max_t]
    return m * n / max(tau, 1 / np.log10(m * n))


def ess_bulk(x):
    """ESS of the rank-normalised split chains: z = Phi^-1((rank - 3/8) / (S + 1/4))."""
    split = split_chains(x)
    ranks = rankdata(split, method="average").reshape(split.shape)
    return ess_rfun(ndtri((ranks - 0.375) / (split.size + 0.25)))


def ess_tail(x):
    """The smaller ESS of the indicators x <= q05 and x <= q95 (quantiles of all draws)."""
    return min(ess_rfun(split_chains((x <= np.quantile(x, p)).astype(float))) for p in (0.05, 0.95))


# ------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def report():
    return diagnose(CHAINS)


def test_tail_and_bulk_ess_are_stans(report):
    assert TAIL_PROB == (0.05, 0.95)
    for name in ("d", "sigmasq_delta", "mu"):
        draws = report.tree["posterior"][name].values  # (chains, draws[, k])
        draws = draws.reshape(2, 1000, -1)
        got_tail = np.ravel(report.variables[name].ess_tail)
        got_bulk = np.ravel(report.variables[name].ess_bulk)
        for k in range(draws.shape[2]):
            assert got_tail[k] == pytest.approx(ess_tail(draws[..., k]), rel=1e-9), (name, k)
            assert got_bulk[k] == pytest.approx(ess_bulk(draws[..., k]), rel=1e-9), (name, k)
    assert float(report.variables["d"].ess_tail) == pytest.approx(349, abs=1)


def test_columns_and_sampler_statistics(report):
    posterior = report.tree["posterior"]
    assert set(posterior.data_vars) == {"d", "sigmasq_delta", "mu", "delta"}
    assert posterior["mu"].shape == (2, 1000, 2)
    columns, draws = read_cmdstan_csv(CHAINS[1])
    np.testing.assert_array_equal(posterior["mu"].values[1, :, 1], draws[:, columns.index("mu.2")])
    stats = report.tree["sample_stats"]
    np.testing.assert_array_equal(stats["lp"].values[0], read_cmdstan_csv(CHAINS[0])[1][:, 0])
    assert {"acceptance_rate", "step_size", "tree_depth"} <= set(stats.data_vars)
    assert report.divergences is None and report.bfmi is None  # this CmdStan wrote neither


def _write_chain(path, values, *, warmup, save_warmup, chain):
    """A CmdStan 2.3x-style file: matrix columns, sampler columns, comments between draws."""
    rng = np.random.default_rng(chain)
    head = [
        "# stan_version_major = 2",
        "# method = sample (Default)",
        "#   sample",
        "#     num_samples = 200",
        f"#     num_warmup = {warmup}",
        f"#     save_warmup = {save_warmup}",
        "#     thin = 2",
        "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,"
        "theta.1.1,theta.2.1,theta.1.2,theta.2.2,sigma",
    ]
    rows = []
    n_warm = -(-warmup // 2) if save_warmup else 0
    for i in range(n_warm + values.shape[0]):
        if i == n_warm:
            rows.append("# Adaptation terminated")
        sample = values[i - n_warm] if i >= n_warm else np.full(values.shape[1], 1e3)
        divergent = int(i >= n_warm and i - n_warm == 3 and chain == 1)
        energy = rng.normal()
        rows.append(",".join(map(str, [-1.0, 0.9, 0.3, 3, 7, divergent, energy, *sample])))
    path.write_text("\n".join(head + rows + ["#  Elapsed Time: 0.1 seconds"]) + "\n")


def test_warmup_dropped_matrix_columns_and_divergences(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2, 100, 5))
    for c in range(2):
        _write_chain(tmp_path / f"out_{c + 1}.csv", values[c], warmup=101, save_warmup=1, chain=c)
    report = diagnose([tmp_path / "out_1.csv", tmp_path / "out_2.csv"], var_names=["theta"])
    theta = report.tree["posterior"]["theta"].values
    assert theta.shape == (2, 100, 2, 2)  # 51 warm-up rows (101 / thin 2) dropped
    np.testing.assert_array_equal(theta[..., 1, 0], values[..., 1])  # theta.2.1: column 2
    np.testing.assert_array_equal(theta[..., 0, 1], values[..., 2])
    assert report.divergences == 1 and report.bfmi.shape == (2,)
    assert "divergences" in {p.kind for p in report.problems} and not report.converged


def test_cli_paths_glob_and_bad_files(tmp_path, capsys):
    assert main(["diagnose", *map(str, CHAINS), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert main(["diagnose", str(DATA / "blocker.*.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == listed
    assert listed["variables"]["d"]["ess_tail"] == pytest.approx(349, abs=1)
    assert listed["sampling"]["chains"] == 2
    short = tmp_path / "short.csv"
    short.write_text("".join(CHAINS[0].read_text().splitlines(True)[:60]))
    (tmp_path / "junk.csv").write_text("a,b\n1,2,3\n")
    (tmp_path / "header_only.csv").write_text("# num_warmup = 10\nlp__,theta\n")
    _write_chain(tmp_path / "warmup_only.csv", np.zeros((0, 5)), warmup=4, save_warmup=1, chain=0)
    for args in (
        [str(CHAINS[0])],  # one chain
        [str(CHAINS[0]), str(short)],  # chains of different lengths
        [str(CHAINS[0]), str(tmp_path / "junk.csv")],
        [str(tmp_path / "none_*.csv")],
        [str(CHAINS[0]), str(DATA / "README.md")],
        [str(tmp_path / "header_only.csv")] * 2,  # no draws at all
        [str(tmp_path / "warmup_only.csv")] * 2,  # warm-up saved, nothing after it
    ):
        assert main(["diagnose", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("workbench: error:") and err.count("\n") == 1, err
    assert main(["diagnose", str(CHAINS[0]), "--allow-single-chain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converged"] is False
