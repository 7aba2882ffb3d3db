"""RBM, deep belief net, deep Boltzmann machine and sigmoid belief net on the same data, by the
same yardstick: the exact expected log-likelihood under the data's true distribution.

On small binary data sets with a known distribution p (bars-and-stripes: uniform over its
patterns; ``bars-N``: independent bars, :func:`workbench.data.patterns.bars_distribution`),
each model q is trained on samples and scored by -sum_x p(x) log q(x), computed exactly by
enumeration. By Gibbs' inequality no model can go below the entropy H(p): the floor, and the
gap to it is the model's KL divergence from the truth. Parameter counts are kept comparable.

On mnist5k (:func:`compare_heldout`) nothing can be enumerated: the held-out log-likelihood
uses log Z by AIS (RBM, DBM, the DBN's top RBM) and, for the DBN, importance sampling over its
first hidden layer with the up-pass as proposal; each comes with a standard error.

Usage::

    rows = compare(("bars-stripes-3",), seed=0, quick=True)
    print(format_table(rows))
    fig = comparison_figure(rows)
"""

import re
import time

import numpy as np
from scipy.special import log_expit, logsumexp

from workbench.data import load_dataset
from workbench.data.patterns import bars_distribution, bars_stripes
from workbench.errors import InputError
from workbench.nn.runtime import derive_seed, torch_threads

__all__ = ["DATASETS", "MODELS", "compare", "compare_heldout", "comparison_figure",
           "comparison_table", "dbn_importance_log_likelihood", "dbn_log_likelihood",
           "format_table", "truth"]  # fmt: skip

DATASETS = ("bars-stripes-3", "bars-5")
MODELS = ("rbm", "dbn", "dbm", "sbn")
# sizes with comparable parameter counts, and training budgets (full, quick): per data set
SETTINGS = {
    "bars-stripes-3": {"rbm": 20, "deep": (12, 6), "sbn": (12, 6), "epochs": (400, 60),
                       "batch_size": 2, "rows": None},
    "bars-5": {"rbm": 20, "deep": (16, 8), "sbn": (16, 4), "epochs": (40, 4),
               "batch_size": 20, "rows": None},
}  # fmt: skip


def truth(name):
    """(patterns (K, n_visible), probabilities (K,), training rows) of a comparison data set."""
    if match := re.fullmatch(r"bars-stripes-(\d+)", name):
        patterns = bars_stripes(int(match.group(1)))
        return patterns, np.full(len(patterns), 1.0 / len(patterns)), patterns
    if match := re.fullmatch(r"bars-(\d+)", name):
        patterns, probabilities = bars_distribution(int(match.group(1)))
        return patterns, probabilities, load_dataset(name, split="train").X
    raise InputError("name", "bars-stripes-N or bars-N", repr(name))


def dbn_log_likelihood(dbn, X):
    """Exact log p(v) per row of a two-layer :class:`~workbench.nn.DBN` with Bernoulli units:
    log sum_h1 p_top(h1) p(v | h1), the top RBM's marginal of h1 (exact log Z) times the bottom
    layer's sigmoid likelihood, enumerating the 2^(n_1) states of h1: (n_samples,)."""
    from workbench.energy.states import binary_states, check_enumerable

    if len(dbn.rbms_) != 2:
        raise InputError("dbn", "a DBN with two layers", f"{len(dbn.rbms_)} layers")
    bottom, top = dbn.rbms_
    check_enumerable(bottom.n_hidden, 2**20, "the DBN's first hidden layer")
    H = binary_states(bottom.n_hidden)  # (S, n_1)
    log_top = top.to_energy().log_prob(H)  # (S,)
    V = np.asarray(X, dtype=float)
    W, a = bottom.weights_.astype(float), bottom.visible_bias_.astype(float)
    total = []
    for start in range(0, len(H), 4096):
        field = H[start : start + 4096] @ W.T + a  # (chunk, n_visible)
        log_cond = V @ log_expit(field).T + (1 - V) @ log_expit(-field).T  # (N, chunk)
        total.append(logsumexp(log_cond + log_top[start : start + 4096], axis=1))
    return logsumexp(np.stack(total, axis=1), axis=1)


def _fit(kind, name, X, seed, quick):
    """(fitted model, parameter count, exact log q of a row array) for ``kind``."""
    from workbench.nn import DBM, DBN, RBM

    s = SETTINGS[name]
    epochs = s["epochs"][1 if quick else 0]
    common = {"random_state": derive_seed(seed, "compare", MODELS.index(kind)) % 2**31,
              "verbose": False}  # fmt: skip
    nv = X.shape[1]
    if kind == "rbm":
        model = RBM(s["rbm"], n_epochs=epochs * 4, batch_size=s["batch_size"], learning_rate=0.05,
                    momentum=0.5, weight_decay=0.0, n_chains=100, monitor=False,
                    **common).fit(X)  # fmt: skip
        return model, nv * s["rbm"] + nv + s["rbm"], model.score_samples
    n1, n2 = s["deep"]
    if kind == "dbn":
        rbm = {"batch_size": s["batch_size"], "learning_rate": 0.05, "momentum": 0.5,
               "weight_decay": 0.0, "n_chains": 100}  # fmt: skip
        model = DBN((n1, n2), rbm_params=rbm, n_epochs=epochs * 2, **common).fit(X)
        count = nv * n1 + nv + n1 * n2 + n1 + n2  # the generative model's parameters
        return model, count, lambda V: dbn_log_likelihood(model, V)
    if kind == "dbm":
        model = DBM((n1, n2), n_epochs=epochs, batch_size=s["batch_size"], learning_rate=0.05,
                    weight_decay=0.0, n_chains=100, monitor=False,
                    rbm_params={"method": "pcd", "learning_rate": 0.1},
                    **common).fit(X)  # fmt: skip
        return model, nv * n1 + n1 * n2 + nv + n1 + n2, model.log_likelihood
    from workbench.nn import SigmoidBeliefNet

    layers = s["sbn"]
    model = SigmoidBeliefNet(layers, method="reweighted", n_epochs=epochs * 2, monitor=False,
                             batch_size=s["batch_size"], **common).fit(X)  # fmt: skip
    units = [nv, *layers]
    count = sum(m * n + m for m, n in zip(units, units[1:], strict=False)) + units[-1]
    return model, count, lambda V: model.log_likelihood(V, method="exact")


def compare(names=DATASETS, *, models=MODELS, seed=0, quick=False, threads=1):
    """One row per (data set, model): {"data", "model", "parameters", "nll" (exact, nats),
    "entropy" (the floor), "gap" (nll - entropy = KL(p || q)), "seconds" (training)}. A model
    whose family is not installed (the sigmoid belief net before it lands) is left out."""
    rows = []
    for name in names:
        patterns, p, X = truth(name)
        entropy = float(-(p * np.log(p)).sum())
        for kind in models:
            tick = time.perf_counter()
            try:
                with torch_threads(threads):
                    _, count, log_q = _fit(kind, name, X, seed, quick)
            except ImportError:
                continue
            seconds = time.perf_counter() - tick
            nll = float(-(p * log_q(patterns)).sum())
            rows.append({"data": name, "model": kind, "parameters": count, "nll": nll,
                         "entropy": entropy, "gap": nll - entropy,
                         "seconds": round(seconds, 2)})  # fmt: skip
    return rows


def comparison_table(rows):
    """The comparison as a :class:`~workbench.report.Table` (NLL, floor and gap in nats)."""
    from workbench.report import Table

    keys = ("data", "model", "parameters", "nll", "entropy", "gap", "seconds")
    formats = dict.fromkeys(("NLL", "floor", "gap"), ".3f") | {"s": ".1f"}
    columns = ["data", "model", "params", "NLL", "floor", "gap", "s"]
    return Table(columns, [[r[k] for k in keys] for r in rows], formats=formats)


def format_table(rows):
    """The comparison as a text table."""
    return comparison_table(rows).text()


def comparison_figure(rows):
    """Bars of each model's exact NLL per data set, with the entropy floor as a line."""
    from workbench.output import new_figure

    names = list(dict.fromkeys(r["data"] for r in rows))
    fig = new_figure(4.0 * len(names), 3.2)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        mine = [r for r in rows if r["data"] == name]
        ax.bar([r["model"] for r in mine], [r["nll"] for r in mine], color="C0")
        ax.axhline(mine[0]["entropy"], color="C3", ls="--", label="entropy (floor)")
        low = min(r["entropy"] for r in mine)
        ax.set_ylim(0.8 * low, max(r["nll"] for r in mine) * 1.05)
        ax.set_title(name)
        ax.set_ylabel("exact NLL (nats)")
        ax.legend(loc="upper right", fontsize="small")
    return fig


def dbn_importance_log_likelihood(dbn, X, log_z_top, *, n_samples=100, seed=0):
    """log p(v) per row of a two-layer DBN by importance sampling over h1, proposal the up-pass
    q(h1 | v) = sigmoid(c + v W1), the top RBM's log Z given (a float or LogPartition):
    (estimates (n,), delta-method standard errors (n,) from ``log_mean_exp``). Low on average
    (Jensen), like AIS."""
    from workbench.energy.states import log_mean_exp
    from workbench.nn.runtime import numpy_rng

    bottom, top = dbn.rbms_
    V = np.asarray(X, dtype=float)
    W, a = bottom.weights_.astype(float), bottom.visible_bias_.astype(float)
    c = bottom.hidden_bias_.astype(float)
    top_energy = top.to_energy()
    rng = numpy_rng(seed, "dbn-importance")
    estimates, errors = np.empty(len(V)), np.empty(len(V))
    for i, v in enumerate(V):
        z = v @ W + c  # (n_1,) logits of q(h1 | v)
        H = (rng.random((n_samples, len(z))) < np.exp(log_expit(z))).astype(float)
        log_q = H @ log_expit(z) + (1 - H) @ log_expit(-z)
        field = H @ W.T + a
        log_cond = log_expit(field) @ v + log_expit(-field) @ (1 - v)
        log_w = log_cond - top_energy.free_energy(H) - log_q
        estimates[i], errors[i] = log_mean_exp(log_w)
    return estimates - float(log_z_top), errors


def compare_heldout(name="mnist5k", *, hidden=(96, 12), n_epochs=10, n_betas=10000,
                    n_runs=100, n_importance=1000, seed=0, threads=1):  # fmt: skip
    """Held-out mean log-likelihood of an RBM (``hidden[0]`` units), a DBN, a DBM and a sigmoid
    belief net (all ``hidden``) trained on the training split of ``name`` (binarised): one row
    per model with "log_likelihood", "stderr" (log Z's AIS error; for the DBN combined with the
    importance sampling's; for the SBN the importance sampling's, ``n_importance`` samples per
    row), "method", "parameters" (generative; the SBN's recognition net comes on top),
    "seconds". The DBM's log p*(v) is exact (its top layer is enumerated), so its only
    estimate is log Z. The standard errors are those of the estimators, not of the test rows'
    spread."""
    from workbench.nn import DBM, DBN, RBM

    train = load_dataset(name, split="train", binarize=True).X
    test = load_dataset(name, split="test", binarize=True).X
    nv, (n1, n2) = train.shape[1], hidden
    ais = {"n_runs": n_runs, "n_betas": n_betas, "random_state": seed}
    settings = {
        "batch_size": 50,
        "learning_rate": 0.05,
        "n_chains": 100,
        "weight_decay": 0.0,
        "momentum": 0.5,
    }
    rows = []

    def row(kind, parameters, method, log_likelihood, stderr, seconds):
        rows.append({"data": name, "model": kind, "parameters": parameters, "method": method,
                     "log_likelihood": float(log_likelihood), "stderr": float(stderr),
                     "seconds": round(seconds, 1)})  # fmt: skip

    with torch_threads(threads):
        tick = time.perf_counter()
        rbm = RBM(n1, n_epochs=n_epochs, monitor=False, random_state=seed, verbose=False,
                  **settings).fit(train)  # fmt: skip
        seconds = time.perf_counter() - tick
        log_z = rbm.log_partition("ais", **ais)
        ll = rbm.to_energy().log_prob(test, log_z).mean()
        row("rbm", nv * n1 + nv + n1, "AIS", ll, log_z.se, seconds)

        tick = time.perf_counter()
        dbn = DBN(hidden, n_epochs=n_epochs, random_state=seed, verbose=False,
                  rbm_params=settings).fit(train)  # fmt: skip
        seconds = time.perf_counter() - tick
        log_z = dbn.rbms_[1].log_partition("ais", **ais)
        ll, errors = dbn_importance_log_likelihood(dbn, test, log_z, seed=seed)
        se = np.sqrt(log_z.se**2 + np.mean(errors**2) / len(errors))
        row("dbn", nv * n1 + n1 * n2 + nv + n1 + n2, "AIS + importance", ll.mean(), se, seconds)

        tick = time.perf_counter()
        dbm = DBM(hidden, n_epochs=n_epochs, batch_size=50, learning_rate=0.01, weight_decay=0.0,
                  rbm_params=settings, monitor=False, random_state=seed,
                  verbose=False).fit(train)  # fmt: skip
        seconds = time.perf_counter() - tick
        log_z = dbm.log_partition("ais", **ais)
        ll = dbm.log_likelihood(test, log_z=log_z).mean()
        row("dbm", nv * n1 + n1 * n2 + nv + n1 + n2, "AIS", ll, log_z.se, seconds)

        try:
            from workbench.nn import SigmoidBeliefNet
        except ImportError:
            return rows
        tick = time.perf_counter()
        sbn = SigmoidBeliefNet(
            hidden,
            method="reweighted",
            n_epochs=n_epochs,
            batch_size=50,
            monitor=False,
            random_state=seed,
            verbose=False,
        ).fit(train)
        seconds = time.perf_counter() - tick
        ll, errors = sbn.log_likelihood(test, method="importance", n_samples=n_importance,
                                        return_se=True, random_state=seed)  # fmt: skip
        se = np.sqrt(np.mean(errors**2) / len(errors))
        row("sbn", nv * n1 + n1 * n2 + nv + n1 + n2, "importance", ll.mean(), se, seconds)
    return rows
