"""The model catalogue: PyMC model builders usable by name from the CLI and the tutorials.

>>> from models import build
>>> model = build("beta-binomial", heads=3, trials=10)
"""

import importlib
import weakref
from dataclasses import dataclass, field

from workbench.errors import InputError

__all__ = [
    "CATALOGUE",
    "DATA_SEED",
    "EIGHT_SCHOOLS",
    "blur_matrix",
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

    ``builder`` names the function of :mod:`models.builders` that makes the model (imported,
    with PyMC, only when a model is built: listing the catalogue stays cheap);
    ``settings`` maps each hyper-parameter to its default (whose type is enforced);
    ``data`` describes the observations the builder takes (``None``: settings only);
    ``make_data`` names the function ``f(rng)`` of :mod:`models.data` that makes the built-in
    data; ``var_names`` are the parameters reported.
    """

    name: str
    builder: str
    summary: str
    settings: dict
    data: str | None = None
    make_data: str | None = None
    var_names: tuple | None = None
    choices: dict = field(default_factory=dict)

    def build(self, data=None, **settings):
        settings = {**self.settings, **settings}
        builder = getattr(importlib.import_module("models.builders"), self.builder)
        if self.data is None:
            if data is not None:
                raise InputError("data", detail=f"model {self.name!r} takes settings only, no data")
            return builder(**settings)
        if data is None:
            data = default_data(self.name)
        return builder(data, **settings)


_LAZY = {"blur_matrix": "models.builders", "EIGHT_SCHOOLS": "models.data"}


def __getattr__(name):
    """``models.blur_matrix`` and ``models.EIGHT_SCHOOLS``, imported (with PyMC) on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")


CATALOGUE = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "beta-binomial",
            "beta_binomial",
            "coin bias p ~ Beta(a, b) after `heads` of `trials` tosses",
            {"heads": 3, "trials": 10, "a": 2.0, "b": 2.0, "parametrisation": "p"},
            choices={"parametrisation": ("p", "logit")},
        ),
        ModelSpec(
            "normal",
            "normal",
            "unknown mean and sd of normal data (mu ~ Normal, sigma ~ HalfNormal)",
            {"mu0": 0.0, "mu_sd": 10.0, "sigma_sd": 5.0},
            data="y: 1-D vector of real observations",
            make_data="normal_sample",
        ),
        ModelSpec(
            "poisson-gamma",
            "poisson_gamma",
            "Poisson counts with a conjugate Gamma(alpha, beta) rate",
            {"alpha": 2.0, "beta": 1.0},
            data="y: 1-D vector of non-negative integer counts",
            make_data="counts",
        ),
        ModelSpec(
            "exponential",
            "exponential",
            "exponential waiting times with a Gamma(alpha, beta) rate",
            {"alpha": 2.0, "beta": 1.0},
            data="y: 1-D vector of positive waiting times",
            make_data="waiting_times",
        ),
        ModelSpec(
            "laplace-denoise",
            "laplace_denoise",
            "y = x + noise with a sparse Laplace prior on x: the MAP soft-thresholds",
            {"b": 0.5, "sigma": 0.5},
            data="y: 1-D noisy signal",
            make_data="sparse_spikes",
            var_names=("x",),
        ),
        ModelSpec(
            "deconvolution",
            "deconvolution",
            "deblurring y = A x + noise with a Gaussian, Laplace or total-variation prior",
            {"prior": "gaussian", "scale": 1.0, "noise": 0.05, "width": 2.0},
            data="y: 1-D blurred, noisy signal",
            make_data="blurred_steps",
            var_names=("x",),
            choices={"prior": ("gaussian", "laplace", "tv")},
        ),
        ModelSpec(
            "sparse-coding",
            "sparse_coding",
            "y = h D + noise on a fixed cosine dictionary, Laplace prior on the code h: the MAP "
            "is the lasso code",
            {"n_atoms": 12, "b": 0.5, "sigma": 0.2},
            data="y: 1-D signal (n_features samples)",
            make_data="coded_signal",
            var_names=("h",),
        ),
        ModelSpec(
            "linear-regression",
            "linear_regression",
            "y = intercept + X beta + noise, flat or weakly informative priors",
            {"prior": "weak", "scale": 10.0},
            data="table (n, k+1): k feature columns, then y",
            make_data="regression_table",
            choices={"prior": ("flat", "weak")},
        ),
        ModelSpec(
            "eight-schools",
            "eight_schools",
            "hierarchical normal (Rubin's eight schools): centred has no MAP and a funnel",
            {"parametrisation": "centred", "mu_sd": 5.0, "tau_scale": 5.0},
            data="table (J, 2): estimate y_j, then its standard error sigma_j",
            make_data="eight_schools",
            var_names=("mu", "tau", "theta"),
            choices={"parametrisation": ("centred", "non-centred")},
        ),
        ModelSpec(
            "funnel",
            "funnel",
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
    import numpy as np

    make = getattr(importlib.import_module("models.data"), spec.make_data)
    return make(np.random.default_rng(seed))


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
