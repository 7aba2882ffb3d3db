"""The model catalogue: PyMC model builders usable by name from the CLI and the tutorials.

>>> from models import build
>>> model = build("beta-binomial", heads=3, trials=10)
"""

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models import builders
from models.builders import blur_matrix
from workbench.errors import InputError

__all__ = [
    "CATALOGUE",
    "DATA_SEED",
    "ModelSpec",
    "build",
    "catalogue_name",
    "default_data",
    "get_spec",
    "parse_settings",
]


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry.

    ``settings`` maps each hyper-parameter to its default (whose type is enforced);
    ``data`` describes the observations the builder takes (``None``: settings only);
    ``make_data(rng)`` makes the built-in data; ``var_names`` are the parameters reported.
    """

    name: str
    builder: Callable
    summary: str
    settings: dict
    data: str | None = None
    make_data: Callable | None = None
    var_names: tuple | None = None
    choices: dict = field(default_factory=dict)

    def build(self, data=None, **settings):
        settings = {**self.settings, **settings}
        if self.data is None:
            if data is not None:
                raise InputError("data", detail=f"model {self.name!r} takes settings only, no data")
            return self.builder(**settings)
        if data is None:
            data = default_data(self.name)
        return self.builder(data, **settings)


def _sparse_spikes(rng, n=30, n_spikes=5, height=3.0, noise=0.5):
    signal = np.zeros(n)
    signal[rng.choice(n, n_spikes, replace=False)] = height * rng.choice([-1.0, 1.0], n_spikes)
    return signal + noise * rng.normal(size=n)


def _blurred_steps(rng, n=40, width=2.0, noise=0.05):
    signal = np.zeros(n)
    signal[8:16], signal[22:26], signal[30:34] = 1.0, -0.7, 0.5
    return blur_matrix(n, width) @ signal + noise * rng.normal(size=n)


def _coded_signal(rng, n=8, n_atoms=12, noise=0.2):
    """Two atoms of the default dictionary (weights 1.5 and -1) plus noise."""
    atoms = builders.dct_dictionary(n_atoms, n)[[2, 7]]
    return np.array([1.5, -1.0]) @ atoms + noise * rng.normal(size=n)


def _regression_table(rng, n=50, beta=(1.5, -0.8), intercept=0.5, sigma=1.0):
    features = rng.normal(size=(n, len(beta)))
    y = intercept + features @ np.asarray(beta) + sigma * rng.normal(size=n)
    return np.column_stack([features, y])


# Rubin (1981): coaching effects in eight schools, estimate and standard error
EIGHT_SCHOOLS = np.array(
    [[28, 15], [8, 10], [-3, 16], [7, 11], [-1, 9], [1, 11], [18, 10], [12, 18]], dtype=float
)

CATALOGUE = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "beta-binomial",
            builders.beta_binomial,
            "coin bias p ~ Beta(a, b) after `heads` of `trials` tosses",
            {"heads": 3, "trials": 10, "a": 2.0, "b": 2.0, "parametrisation": "p"},
            choices={"parametrisation": ("p", "logit")},
        ),
        ModelSpec(
            "normal",
            builders.normal,
            "unknown mean and sd of normal data (mu ~ Normal, sigma ~ HalfNormal)",
            {"mu0": 0.0, "mu_sd": 10.0, "sigma_sd": 5.0},
            data="y: 1-D vector of real observations",
            make_data=lambda rng: 1.0 + 2.0 * rng.normal(size=6),
        ),
        ModelSpec(
            "poisson-gamma",
            builders.poisson_gamma,
            "Poisson counts with a conjugate Gamma(alpha, beta) rate",
            {"alpha": 2.0, "beta": 1.0},
            data="y: 1-D vector of non-negative integer counts",
            make_data=lambda rng: rng.poisson(3.5, size=8),
        ),
        ModelSpec(
            "exponential",
            builders.exponential,
            "exponential waiting times with a Gamma(alpha, beta) rate",
            {"alpha": 2.0, "beta": 1.0},
            data="y: 1-D vector of positive waiting times",
            make_data=lambda rng: rng.exponential(1 / 1.5, size=6),
        ),
        ModelSpec(
            "laplace-denoise",
            builders.laplace_denoise,
            "y = x + noise with a sparse Laplace prior on x: the MAP soft-thresholds",
            {"b": 0.5, "sigma": 0.5},
            data="y: 1-D noisy signal",
            make_data=_sparse_spikes,
            var_names=("x",),
        ),
        ModelSpec(
            "deconvolution",
            builders.deconvolution,
            "deblurring y = A x + noise with a Gaussian, Laplace or total-variation prior",
            {"prior": "gaussian", "scale": 1.0, "noise": 0.05, "width": 2.0},
            data="y: 1-D blurred, noisy signal",
            make_data=_blurred_steps,
            var_names=("x",),
            choices={"prior": ("gaussian", "laplace", "tv")},
        ),
        ModelSpec(
            "sparse-coding",
            builders.sparse_coding,
            "y = h D + noise on a fixed cosine dictionary, Laplace prior on the code h: the MAP "
            "is the lasso code",
            {"n_atoms": 12, "b": 0.5, "sigma": 0.2},
            data="y: 1-D signal (n_features samples)",
            make_data=_coded_signal,
            var_names=("h",),
        ),
        ModelSpec(
            "linear-regression",
            builders.linear_regression,
            "y = intercept + X beta + noise, flat or weakly informative priors",
            {"prior": "weak", "scale": 10.0},
            data="table (n, k+1): k feature columns, then y",
            make_data=_regression_table,
            choices={"prior": ("flat", "weak")},
        ),
        ModelSpec(
            "eight-schools",
            builders.eight_schools,
            "hierarchical normal (Rubin's eight schools): centred has no MAP and a funnel",
            {"parametrisation": "centred", "mu_sd": 5.0, "tau_scale": 5.0},
            data="table (J, 2): estimate y_j, then its standard error sigma_j",
            make_data=lambda rng: EIGHT_SCHOOLS.copy(),
            var_names=("mu", "tau", "theta"),
            choices={"parametrisation": ("centred", "non-centred")},
        ),
        ModelSpec(
            "funnel",
            builders.funnel,
            "Neal's funnel, v ~ N(0, 3), x_i ~ N(0, exp(v/2)): no Gaussian fits it",
            {"dim": 9, "scale": 3.0},
        ),
    ]
}

DATA_SEED = 20261122  # the built-in data sets are always drawn with this seed
_NAMES = weakref.WeakKeyDictionary()  # model built by `build` -> its catalogue name


def get_spec(name):
    """The catalogue entry called ``name``; an :class:`InputError` lists the valid names."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise InputError("name", f"one of {', '.join(CATALOGUE)}", repr(name)) from None


def default_data(name, seed=DATA_SEED):
    """The built-in data of a catalogue model, drawn with ``seed`` (default: the fixed
    ``DATA_SEED``, so that the built-in data never change)."""
    spec = get_spec(name)
    if spec.make_data is None:
        return None
    return spec.make_data(np.random.default_rng(seed))


def parse_settings(name, pairs):
    """Turn ``["key=value", ...]`` into typed settings of model ``name``.

    The type of each value follows the default's type. A malformed pair or an unknown key raises
    an :class:`InputError` for ``pairs`` (listing the valid keys); a bad value, one for the
    setting itself (``heads``).
    """
    spec = get_spec(name)
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("pairs", "KEY=VALUE", repr(pair))
        if key not in spec.settings:
            valid = ", ".join(spec.settings) or "none"
            raise InputError("pairs", f"a setting of model {name!r} ({valid})", repr(key))
        default = spec.settings[key]
        try:
            if isinstance(default, bool):
                value = {"true": True, "false": False}[text.strip().lower()]
            elif isinstance(default, int):
                value = int(text)
            elif isinstance(default, float):
                value = float(text)
            else:
                value = text.strip()
        except (KeyError, ValueError):
            kind = {bool: "true/false", int: "an integer", float: "a number"}.get(
                type(default), "a string"
            )
            raise InputError(key, kind, repr(text)) from None
        if key in spec.choices and value not in spec.choices[key]:
            raise InputError(key, f"one of {', '.join(spec.choices[key])}", repr(value))
        out[key] = value
    return out


def build(name, data=None, **settings):
    """Build catalogue model ``name`` with ``data`` (built-in data when None) and settings."""
    spec = get_spec(name)
    unknown = set(settings) - set(spec.settings)
    if unknown:
        valid = ", ".join(spec.settings) or "none"
        raise InputError("settings", f"settings of model {name!r} ({valid})", sorted(unknown))
    model = spec.build(data, **settings)
    _NAMES[model] = name
    return model


def catalogue_name(model):
    """The catalogue name of a model made by :func:`build`; None for any other model."""
    return _NAMES.get(model)
