"""MAP, ML, CM and CM-ML of the catalogue models against closed forms and independent numerics.

Nothing here is checked against PyMC itself: the exact values come from conjugacy, hand-written
numpy log-densities with scipy optimisation / quadrature, or linear algebra. A CM (or CM-ML)
check passes when |estimate - exact| <= 4 MCSE; MAP and ML are deterministic optimisations and
are checked to ~1e-5 relative.
"""

import numpy as np
import pytest
from conftest import assert_within_mcse, cm_ml_value, flat_mcse
from scipy import integrate, optimize, stats
from scipy.special import gammaln

import models

RTOL = 1e-5
HDI_PROB = 0.9


def assert_converged_enough(result):
    """The MCSE-based checks need chains that mix: R-hat and bulk ESS within the thresholds."""
    diag = result.diagnostics
    assert diag["r_hat_max"] < 1.01, diag
    assert diag["ess_bulk_min"] >= 400, diag


def exact_beta_hdi(a, b, prob):
    """Shortest interval of mass ``prob`` of Beta(a, b) (a, b > 1): equal density at both ends."""
    dist = stats.beta(a, b)

    def density_gap(t):
        return dist.pdf(dist.ppf(t)) - dist.pdf(dist.ppf(t + prob))

    t = optimize.brentq(density_gap, 1e-12, 1 - prob - 1e-12, xtol=1e-14)
    return dist.ppf(t), dist.ppf(t + prob)


# --------------------------------------------------------------------------------------------
# Beta-Binomial
# --------------------------------------------------------------------------------------------

BETA_BINOMIAL = [
    {"heads": 3, "trials": 10, "a": 2.0, "b": 2.0},
    {"heads": 14, "trials": 20, "a": 1.5, "b": 4.0},
]


@pytest.fixture(
    scope="module", params=BETA_BINOMIAL, ids=lambda s: "k{heads}-n{trials}".format(**s)
)
def beta_binomial(request, estimates):
    return request.param, estimates("beta-binomial", **request.param)


def test_exact_beta_hdi_helper():
    lo, hi = exact_beta_hdi(5.0, 9.0, 0.9)
    dist = stats.beta(5.0, 9.0)
    assert dist.cdf(hi) - dist.cdf(lo) == pytest.approx(0.9, abs=1e-10)
    assert dist.pdf(lo) == pytest.approx(dist.pdf(hi), rel=1e-8)


def test_beta_binomial_map_ml(beta_binomial):
    s, result = beta_binomial
    k, n, a, b = s["heads"], s["trials"], s["a"], s["b"]
    assert float(result.point["map"]["p"]) == pytest.approx((a + k - 1) / (a + b + n - 2), rel=RTOL)
    assert float(result.point["ml"]["p"]) == pytest.approx(k / n, rel=RTOL)


def test_beta_binomial_cm_sd_hdi(beta_binomial):
    s, result = beta_binomial
    k, n, a, b = s["heads"], s["trials"], s["a"], s["b"]
    post = stats.beta(a + k, b + n - k)
    assert_converged_enough(result)
    assert result.warnings == []
    assert_within_mcse(result.point["cm"]["p"], post.mean(), result.mcse["p"])
    assert float(result.sd["p"]) == pytest.approx(post.std(), rel=0.10)
    lo, hi = exact_beta_hdi(a + k, b + n - k, HDI_PROB)
    assert result.hdi_prob == HDI_PROB
    assert float(result.hdi["p"][0]) == pytest.approx(lo, abs=0.02)
    assert float(result.hdi["p"][1]) == pytest.approx(hi, abs=0.02)


def test_beta_binomial_cm_ml(beta_binomial):
    s, result = beta_binomial
    k, n = s["heads"], s["trials"]
    # flat prior on p in (0, 1): the normalised likelihood is Beta(k + 1, n - k + 1)
    assert_within_mcse(cm_ml_value(result, "p"), (k + 1) / (n + 2), flat_mcse(result, "p"))


def test_beta_binomial_logit_map_is_not_invariant(estimates):
    k, n, a, b = 3, 10, 2.0, 2.0
    result = estimates(
        "beta-binomial", methods=("map", "ml"), heads=k, trials=n, a=a, b=b, parametrisation="logit"
    )
    # ML is invariant under reparametrisation ...
    assert float(result.point["ml"]["p"]) == pytest.approx(k / n, rel=RTOL)
    # ... the MAP is not: the density of z = logit(p) is prop. to p^(a+k) (1-p)^(b+n-k) (Jacobian
    # p (1 - p) included), whose mode maps back to p = (a + k) / (a + b + n).
    map_p = float(result.point["map"]["p"])
    assert map_p == pytest.approx((a + k) / (a + b + n), rel=RTOL)
    assert map_p != pytest.approx((a + k - 1) / (a + b + n - 2), rel=1e-3)
    assert float(result.point["map"]["z"]) == pytest.approx(np.log((a + k) / (b + n - k)), rel=RTOL)


# --------------------------------------------------------------------------------------------
# Poisson-Gamma and Exponential-Gamma (rate parametrisation)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def poisson_gamma(estimates):
    return estimates("poisson-gamma")


@pytest.fixture(scope="module")
def exponential(estimates):
    return estimates("exponential")


def test_poisson_gamma(poisson_gamma):
    result = poisson_gamma
    alpha, beta = 2.0, 1.0  # catalogue defaults
    y = models.default_data("poisson-gamma")
    n, s = y.size, y.sum()
    assert float(result.point["map"]["lam"]) == pytest.approx(
        (alpha + s - 1) / (beta + n), rel=RTOL
    )
    assert float(result.point["ml"]["lam"]) == pytest.approx(s / n, rel=RTOL)
    assert_converged_enough(result)
    assert result.warnings == []
    assert_within_mcse(result.point["cm"]["lam"], (alpha + s) / (beta + n), result.mcse["lam"])
    assert float(result.sd["lam"]) == pytest.approx(np.sqrt(alpha + s) / (beta + n), rel=0.10)
    # flat prior on lam > 0: the normalised likelihood is Gamma(S + 1, rate n)
    assert_within_mcse(cm_ml_value(result, "lam"), (s + 1) / n, flat_mcse(result, "lam"))


def test_exponential(exponential):
    result = exponential
    alpha, beta = 2.0, 1.0
    y = models.default_data("exponential")
    n, s = y.size, y.sum()
    assert float(result.point["map"]["lam"]) == pytest.approx(
        (alpha + n - 1) / (beta + s), rel=RTOL
    )
    assert float(result.point["ml"]["lam"]) == pytest.approx(n / s, rel=RTOL)
    assert_converged_enough(result)
    assert result.warnings == []
    assert_within_mcse(result.point["cm"]["lam"], (alpha + n) / (beta + s), result.mcse["lam"])
    assert float(result.sd["lam"]) == pytest.approx(np.sqrt(alpha + n) / (beta + s), rel=0.10)
    # flat prior on lam > 0: the normalised likelihood is Gamma(n + 1, rate S)
    assert_within_mcse(cm_ml_value(result, "lam"), (n + 1) / s, flat_mcse(result, "lam"))


# --------------------------------------------------------------------------------------------
# Normal with unknown mean and sd
# --------------------------------------------------------------------------------------------

MU0, MU_SD, SIGMA_SD = 0.0, 10.0, 5.0  # catalogue defaults


def normal_log_posterior(mu, sigma, y):
    """Hand-written log posterior density in (mu, sigma), up to a constant, no Jacobian."""
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    n, ybar = y.size, y.mean()
    ss = np.sum((y - ybar) ** 2) + n * (ybar - mu) ** 2
    return (
        -0.5 * ((mu - MU0) / MU_SD) ** 2
        - 0.5 * (sigma / SIGMA_SD) ** 2
        - n * np.log(sigma)
        - ss / (2 * sigma**2)
    )


def flat_sigma_mean(y):
    """Mean of sigma under the flat-prior posterior of (mu, sigma > 0).

    Integrating mu out of sigma^-n exp(-(S + n (mu - ybar)^2) / (2 sigma^2)) leaves
    sigma^-(n-1) exp(-S / (2 sigma^2)); with int_0^inf sigma^-m exp(-S / (2 sigma^2)) dsigma
    = (1/2) (S/2)^((1-m)/2) Gamma((m-1)/2), the mean is sqrt(S/2) Gamma((n-3)/2) / Gamma((n-2)/2)
    (finite for n > 3).
    """
    n, s = y.size, np.sum((y - y.mean()) ** 2)
    return np.sqrt(s / 2) * np.exp(gammaln((n - 3) / 2) - gammaln((n - 2) / 2))


@pytest.fixture(scope="module")
def normal(estimates):
    return models.default_data("normal"), estimates("normal")


def test_flat_sigma_mean_formula_by_quadrature():
    y = models.default_data("normal")
    s, n = np.sum((y - y.mean()) ** 2), y.size

    def marginal(sigma, power):
        return sigma**power * sigma ** -(n - 1) * np.exp(-s / (2 * sigma**2))

    num = integrate.quad(marginal, 0, np.inf, args=(1,), epsabs=0, epsrel=1e-12)[0]
    den = integrate.quad(marginal, 0, np.inf, args=(0,), epsabs=0, epsrel=1e-12)[0]
    assert num / den == pytest.approx(flat_sigma_mean(y), rel=1e-8)


def test_normal_ml(normal):
    y, result = normal
    assert float(result.point["ml"]["mu"]) == pytest.approx(y.mean(), rel=RTOL)
    sigma_ml = np.sqrt(np.mean((y - y.mean()) ** 2))
    assert float(result.point["ml"]["sigma"]) == pytest.approx(sigma_ml, rel=RTOL)


def test_normal_map(normal):
    y, result = normal

    def loss(theta):
        return -normal_log_posterior(theta[0], theta[1], y)

    start = [y.mean(), y.std()]
    opt = optimize.minimize(
        loss,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20000},
    )
    assert opt.success, opt.message
    assert float(result.point["map"]["mu"]) == pytest.approx(opt.x[0], rel=RTOL)
    assert float(result.point["map"]["sigma"]) == pytest.approx(opt.x[1], rel=RTOL)


def test_normal_cm(normal):
    y, result = normal
    mu = np.linspace(y.mean() - 40, y.mean() + 40, 2401)
    sigma = np.linspace(1e-3, 40, 4000)
    logp = normal_log_posterior(mu[:, None], sigma[None, :], y)
    weight = np.exp(logp - logp.max())
    assert weight[[0, -1], :].max() < 1e-12 and weight[:, -1].max() < 1e-12  # grid covers the mass
    z = integrate.trapezoid(integrate.trapezoid(weight, sigma, axis=1), mu)
    cm_mu = integrate.trapezoid(integrate.trapezoid(weight * mu[:, None], sigma, axis=1), mu) / z
    cm_sigma = integrate.trapezoid(integrate.trapezoid(weight * sigma, sigma, axis=1), mu) / z
    assert_converged_enough(result)
    assert_within_mcse(result.point["cm"]["mu"], cm_mu, result.mcse["mu"])
    assert_within_mcse(result.point["cm"]["sigma"], cm_sigma, result.mcse["sigma"])


def test_normal_cm_ml(normal):
    y, result = normal
    # flat prior on mu and sigma > 0: mu is ybar + t_(n-2) * sqrt(S / (n (n-2))), mean ybar
    assert_within_mcse(cm_ml_value(result, "mu"), y.mean(), flat_mcse(result, "mu"))
    assert_within_mcse(cm_ml_value(result, "sigma"), flat_sigma_mean(y), flat_mcse(result, "sigma"))


# --------------------------------------------------------------------------------------------
# Laplace denoising: soft thresholding
# --------------------------------------------------------------------------------------------

LAPLACE_B, LAPLACE_SIGMA = 0.5, 0.5  # catalogue defaults


@pytest.fixture(scope="module")
def laplace(estimates):
    return models.default_data("laplace-denoise"), estimates("laplace-denoise")


def laplace_posterior_mean(y_i, b=LAPLACE_B, sigma=LAPLACE_SIGMA):
    """E[x | y] for x ~ Laplace(0, b), y ~ N(x, sigma), by 1-D quadrature split at the kink."""
    mode = np.sign(y_i) * max(abs(y_i) - sigma**2 / b, 0.0)

    def log_density(x):
        return -abs(x) / b - (y_i - x) ** 2 / (2 * sigma**2)

    peak = log_density(mode)
    lo, hi = mode - 15 * sigma, mode + 15 * sigma
    pieces = [(lo, 0.0), (0.0, hi)] if lo < 0 < hi else [(lo, hi)]
    z = m = 0.0
    for a, c in pieces:
        z += integrate.quad(lambda x: np.exp(log_density(x) - peak), a, c, epsabs=0, epsrel=1e-11)[
            0
        ]
        m += integrate.quad(
            lambda x: x * np.exp(log_density(x) - peak), a, c, epsabs=1e-14, epsrel=1e-11
        )[0]
    return m / z


def test_laplace_map_is_soft_threshold(laplace):
    y, result = laplace
    soft = np.sign(y) * np.maximum(np.abs(y) - LAPLACE_SIGMA**2 / LAPLACE_B, 0.0)
    np.testing.assert_allclose(result.point["map"]["x"], soft, rtol=0, atol=1e-4)


def test_laplace_ml_is_data(laplace):
    y, result = laplace
    np.testing.assert_allclose(result.point["ml"]["x"], y, rtol=RTOL, atol=1e-8)


def test_laplace_cm_by_quadrature(laplace):
    y, result = laplace
    exact = np.array([laplace_posterior_mean(v) for v in y])
    assert_converged_enough(result)
    assert_within_mcse(result.point["cm"]["x"], exact, result.mcse["x"], max_outside=1)
    # the posterior mean shrinks towards 0 but is never exactly 0
    assert np.all(np.abs(exact) > 0) and np.all(np.abs(exact) < np.abs(y))


def test_laplace_cm_ml_is_data(laplace):
    y, result = laplace
    # flat prior on each x_i: the normalised likelihood is N(y_i, sigma^2)
    assert_within_mcse(cm_ml_value(result, "x"), y, flat_mcse(result, "x"), max_outside=1)


# --------------------------------------------------------------------------------------------
# Deconvolution with a Gaussian prior: Tikhonov
# --------------------------------------------------------------------------------------------

DECONV = {"scale": 1.0, "noise": 0.05, "width": 2.0}  # catalogue defaults


@pytest.fixture(scope="module")
def deconvolution(estimates):
    # 2 chains: the 40-d correlated posterior is the slowest run of the suite; 2000 draws suffice
    result = estimates(
        "deconvolution", methods=("map", "ml", "cm"), sampling={"chains": 2}, prior="gaussian"
    )
    return models.default_data("deconvolution"), result


def tikhonov(y):
    blur = models.blur_matrix(y.size, DECONV["width"])
    precision = blur.T @ blur / DECONV["noise"] ** 2 + np.eye(y.size) / DECONV["scale"] ** 2
    return np.linalg.solve(precision, blur.T @ y / DECONV["noise"] ** 2)


def test_deconvolution_map_is_tikhonov(deconvolution):
    y, result = deconvolution
    np.testing.assert_allclose(result.point["map"]["x"], tikhonov(y), rtol=RTOL, atol=1e-5)


def test_deconvolution_cm_is_tikhonov(deconvolution):
    y, result = deconvolution
    assert_converged_enough(result)
    assert_within_mcse(result.point["cm"]["x"], tikhonov(y), result.mcse["x"], max_outside=2)


def test_blur_is_numerically_singular():
    blur = models.blur_matrix(40, DECONV["width"])
    curvature = np.linalg.eigvalsh(blur.T @ blur)
    assert curvature.min() / curvature.max() < 1e-12


@pytest.fixture(scope="module")
def deconvolution_cm_ml(estimates):
    # the cm_ml must be refused before any sampling; small settings bound the cost if it is not
    return estimates(
        "deconvolution",
        methods=("ml", "cm_ml"),
        sampling={"draws": 200, "tune": 200, "chains": 2},
        prior="gaussian",
    )


def test_deconvolution_cm_ml_not_reported(deconvolution_cm_ml):
    result = deconvolution_cm_ml
    assert cm_ml_value(result, "x") is None
    assert any(w.startswith("CM-ML") and "not reported" in w for w in result.warnings)


def test_deconvolution_cm_ml_refused_because_likelihood_is_flat(deconvolution_cm_ml):
    result = deconvolution_cm_ml
    assert result.flat_posterior is None  # refused before sampling
    assert any("likelihood is flat" in w for w in result.warnings), result.warnings
    assert not any("ran to the edge" in w for w in result.warnings), result.warnings


# --------------------------------------------------------------------------------------------
# Linear regression with flat priors: least squares
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression(estimates):
    table = models.default_data("linear-regression")
    result = estimates("linear-regression", methods=("map", "ml", "cm"), prior="flat")
    return table, result


def least_squares(table):
    design = np.column_stack([np.ones(len(table)), table[:, :-1]])
    coef, *_ = np.linalg.lstsq(design, table[:, -1], rcond=None)
    rss = np.sum((table[:, -1] - design @ coef) ** 2)
    return coef[0], coef[1:], rss, design.shape[1]


def test_regression_map_ml_are_least_squares(regression):
    table, result = regression
    intercept, beta, rss, _ = least_squares(table)
    n = len(table)
    for method in ("map", "ml"):
        point = result.point[method]
        assert float(point["intercept"]) == pytest.approx(intercept, rel=RTOL)
        np.testing.assert_allclose(point["beta"], beta, rtol=RTOL)
        # flat prior on sigma, no Jacobian: the MAP of sigma is the ML sqrt(RSS / n)
        assert float(point["sigma"]) == pytest.approx(np.sqrt(rss / n), rel=RTOL)


def test_regression_cm(regression):
    table, result = regression
    intercept, beta, rss, p = least_squares(table)
    n = len(table)
    assert_converged_enough(result)
    assert_within_mcse(result.point["cm"]["beta"], beta, result.mcse["beta"])
    assert_within_mcse(result.point["cm"]["intercept"], intercept, result.mcse["intercept"])
    # flat prior on (coefficients, sigma > 0): sigma's marginal is sigma^-(n-p) exp(-RSS/(2 s^2)),
    # the same integral as for the normal model with n - p + 1 in place of n
    sigma_mean = np.sqrt(rss / 2) * np.exp(gammaln((n - p - 2) / 2) - gammaln((n - p - 1) / 2))
    assert_within_mcse(result.point["cm"]["sigma"], sigma_mean, result.mcse["sigma"])


def test_regression_cm_ml_is_least_squares(estimates):
    table = models.default_data("linear-regression")
    result = estimates("linear-regression", methods=("cm_ml",), prior="flat")
    intercept, beta, _, _ = least_squares(table)
    assert_within_mcse(cm_ml_value(result, "beta"), beta, flat_mcse(result, "beta"))
