"""Deep Boltzmann machines: binary layers v, h1, ..., hL with undirected couplings between
neighbours (Salakhutdinov & Hinton 2009)::

    E(v, h1, h2) = -(v.b_v + h1.b_1 + h2.b_2 + v W1 h1 + h1 W2 h2)

Unlike a deep belief net every layer hears both neighbours, so the posterior over the hidden
layers has no closed form: training uses mean field for the data-dependent statistics and
persistent Gibbs chains for the model's. Evaluation: exact log Z and log p(v) by enumerating
one parity of layers (for two hidden layers, cost 2^(n_1)), AIS with a standard error, and the
mean-field lower bound.

Usage::

    dbm = DBM((16, 8), n_epochs=50, random_state=0).fit(X)
    dbm.log_likelihood(X)                        # exact, one value per row
    dbm.log_partition("ais", n_betas=2000)       # LogPartition(value, se, ...)
    dbm.lower_bound(X, log_z=dbm.log_partition("ais"))
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.energy.states import MAX_STATES
from workbench.errors import InputError, check_count, check_layers, check_memory
from workbench.nn.dbm import fitting, inference
from workbench.nn.rbm import training as rbm_training
from workbench.nn.runtime import resolve_device, resolve_seed, torch_generator
from workbench.validation import check_binarize, expected_failures, torch_tags

__all__ = ["DBM"]

METHODS = ("exact", "ais")


class DBM(TransformerMixin, BaseEstimator):
    """Deep Boltzmann machine with binary units, at least two hidden layers.

    Parameters
    ----------
    layers : tuple of int, default=(64, 32)
        Hidden units per layer, bottom up.
    n_epochs : int, default=20
        Epochs of joint training (and of each pre-training RBM unless ``pretrain_epochs``).
    learning_rate : float, default=0.01
    batch_size : int, default=32
    n_chains : int, default=100
        Persistent Gibbs chains of the negative phase.
    mean_field_steps : int, default=10
        Rounds of mean-field updates per positive phase (and in :meth:`transform`).
    k : int, default=1
        Gibbs sweeps of the chains per update.
    momentum : float, default=0.5
    weight_decay : float, default=1e-4
    pretrain : bool, default=True
        Greedy pre-training with the doubling trick; False: small random weights.
    pretrain_epochs : int or None, default=None
        Epochs per pre-training RBM (None: ``n_epochs``).
    rbm_params : dict or None, default=None
        Further :class:`~workbench.nn.rbm.RBM` settings of the pre-training RBMs.
    init_scale : float, default=0.01
        Standard deviation of the initial weights without pre-training.
    monitor : bool, default=True
        Per epoch: mean-field reconstruction error, and the exact log-likelihood and mean-field
        bound when the model can be enumerated (``exact_max_units``).
    monitor_size : int, default=500
    exact_max_units : int, default=16
        Enumerated units up to which the monitors compute exact values.
    checkpoint : path or None, default=None
    checkpoint_every : int, default=1
    device : str, default="cpu"
    binarize : float or None, default=None
        Map the data to ``X > binarize`` (any real values) in fit and in every method, as
        scikit-learn's BernoulliNB does; None: the data must be binary.
    random_state : int or None, default=None
    verbose : bool, default=True

    Attributes
    ----------
    weights_ : list of ndarray, (n_0, n_1), (n_1, n_2), ...
    biases_ : list of ndarray, visible first
    history_ : list of dict, one per epoch
    seed_ : int
    n_features_in_ : int
    """

    visible = "bernoulli"  # binary data only (read by the RBM's input checks)

    def __init__(self, layers=(64, 32), *, n_epochs=20, learning_rate=0.01, batch_size=32,
                 n_chains=100, mean_field_steps=10, k=1, momentum=0.5, weight_decay=1e-4,
                 pretrain=True, pretrain_epochs=None, rbm_params=None, init_scale=0.01,
                 monitor=True, monitor_size=500, exact_max_units=16, checkpoint=None,
                 checkpoint_every=1, device="cpu", binarize=None, random_state=None,
                 verbose=True):  # fmt: skip
        self.layers = layers
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_chains = n_chains
        self.mean_field_steps = mean_field_steps
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.rbm_params = rbm_params
        self.init_scale = init_scale
        self.monitor = monitor
        self.monitor_size = monitor_size
        self.exact_max_units = exact_max_units
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.binarize = binarize
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def __sklearn_tags__(self):
        tags = torch_tags(super().__sklearn_tags__(), positive_only=self.binarize is None)
        tags.transformer_tags.preserves_dtype = ["float64"]  # mean field runs in float64
        return tags

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    def _check_params(self):
        check_binarize(self.binarize)
        layers = self.layers
        if (not isinstance(layers, (tuple, list)) or len(layers) < 2
                or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
                       for n in layers)):  # fmt: skip
            raise InputError("layers", "two or more integers >= 1 (hidden units, bottom up)",
                             repr(layers))  # fmt: skip
        for name in ("n_epochs", "batch_size", "n_chains", "k", "monitor_size",
                     "checkpoint_every"):  # fmt: skip
            check_count(name, getattr(self, name), 1)
        check_count("mean_field_steps", self.mean_field_steps, 0)
        check_count("exact_max_units", self.exact_max_units, 0)
        if self.pretrain_epochs is not None:
            check_count("pretrain_epochs", self.pretrain_epochs, 1)
        for name, low, high in (
            ("learning_rate", 0, np.inf),
            ("momentum", 0, 1),
            ("weight_decay", 0, np.inf),
            ("init_scale", 0, np.inf),
        ):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (ok and low <= value < high and (name != "learning_rate" or value > 0)):
                raise InputError(name, f"a number in [{low}, {high})", repr(value))
        return resolve_device(self.device)

    def _rows(self, X, *, reset=False, name="X"):
        return rbm_training.check_X(self, X, reset=reset, name=name, binary=True)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, X_val=None, resume=False):
        """Pre-train (unless resuming) and train jointly for ``n_epochs`` epochs on binary rows
        ``X`` (n_samples, n_visible). ``resume``: continue from the file ``checkpoint`` when it
        exists (parameters, velocities, chains, generator, position in the epoch); the other
        settings and the data size must match it.

        ``history_`` gets one dict per epoch: epoch, learning_rate, seconds,
        reconstruction_error, log_likelihood_exact, lower_bound_exact (and ``_val`` twins with
        ``X_val``; None when the model is too large to enumerate)."""
        device = self._check_params()
        if resume and self.checkpoint is None:
            raise InputError("resume", detail="continues from `checkpoint`, which is None")
        X = self._rows(X, reset=not (resume and hasattr(self, "n_features_in_")))
        X_val = None if X_val is None else self._rows(X_val, name="X_val")
        check_layers("layers", (X.shape[1], *self.layers))
        fitting.run(self, X, X_val, resume, device)
        return self

    @classmethod
    def from_weights(cls, weights, biases, **params):
        """A DBM holding the given parameters: ``weights`` [W1, W2, ...] bottom-up, W1 of shape
        (n_visible, n_1); ``biases`` [b_visible, b_1, b_2, ...]. ``params``: further settings."""
        W = [np.asarray(w, dtype=np.float32) for w in weights]
        b = [np.asarray(x, dtype=np.float32) for x in biases]
        ok = len(W) >= 2 and len(b) == len(W) + 1 and all(w.ndim == 2 for w in W)
        ok = ok and all(x.ndim == 1 for x in b)
        ok = ok and all(w.shape == (len(b[j]), len(b[j + 1])) for j, w in enumerate(W))
        if not ok:
            got = f"{[w.shape for w in W]} with biases {[x.shape for x in b]}"
            raise InputError("weights", "two or more W_l of shape (len(b_{l-1}), len(b_l))", got)
        if not all(np.isfinite(x).all() for x in [*W, *b]):
            raise InputError("weights", "finite values", "NaN or inf")
        est = cls(tuple(len(x) for x in b[1:]), **params)
        device = est._check_params()
        est.n_features_in_ = len(b[0])
        to = lambda x: torch.from_numpy(x.copy()).to(device)  # noqa: E731
        est._state = {"W": [to(w) for w in W], "b": [to(x) for x in b], "epoch": 0,
                      "base_bias": torch.zeros(len(b[0]), device=device)}  # fmt: skip
        est.seed_ = resolve_seed(est.random_state, "random_state")
        est.history_ = []
        return est

    @classmethod
    def load(cls, path, *, device=None):
        """An estimator restored from the checkpoint that :meth:`fit` writes (kind "dbm")."""
        return fitting.load(cls, path, device)

    # ------------------------------------------------------------------ parameters out
    @property
    def weights_(self):
        check_is_fitted(self, "_state")
        return [w.detach().cpu().numpy().copy() for w in self._state["W"]]

    @property
    def biases_(self):
        check_is_fitted(self, "_state")
        return [x.detach().cpu().numpy().copy() for x in self._state["b"]]

    def _double(self):
        """(W, b) in float64 on the device (the evaluators' precision)."""
        check_is_fitted(self, "_state")
        return [w.double() for w in self._state["W"]], [x.double() for x in self._state["b"]]

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def log_partition(self, method="exact", *, n_runs=100, n_betas=1000, base_bias=None,
                      max_states=MAX_STATES, random_state=None):  # fmt: skip
        """log Z as a :class:`workbench.energy.LogPartition`.

        ``"exact"`` enumerates the cheaper parity of layers (two hidden layers: the 2^(n_1)
        states of h1) and sums the rest analytically; refused beyond ``max_states`` states.
        ``"ais"``: ``n_runs`` runs through ``n_betas`` inverse temperatures from the model with
        visible bias ``base_bias`` (default: the training data's logits) and nothing else, with
        the delta-method standard error; ``random_state`` seeds it (None: fresh entropy)."""
        if method not in METHODS:
            raise InputError("method", f"one of {', '.join(METHODS)}", repr(method))
        W, b = self._double()
        if method == "exact":
            return inference.exact_log_partition(W, b, max_states=max_states)
        n_runs, n_betas = check_count("n_runs", n_runs, 2), check_count("n_betas", n_betas, 2)
        base = self._state["base_bias"] if base_bias is None else base_bias
        base = torch.as_tensor(np.asarray(base, dtype=np.float64)).to(b[0])
        if base.shape != b[0].shape:
            raise InputError("base_bias", f"{len(b[0])} numbers", tuple(base.shape))
        seed = resolve_seed(random_state, "random_state")
        gen = torch_generator(seed, "ais", device=b[0].device)
        return inference.ais_log_partition(W, b, base, n_runs=n_runs, n_betas=n_betas,
                                           generator=gen)  # fmt: skip

    @torch.no_grad()
    def unnormalised_log_prob(self, X, *, max_states=MAX_STATES):
        """log p*(v) = log sum_h exp(-E(v, h)) per row, exactly (enumerating the cheaper parity of
        hidden layers: for two, the smaller of h1 and h2): (n_samples,)."""
        W, b = self._double()
        V = self._rows(X).double()
        return inference.unnormalised_log_prob(W, b, V, max_states=max_states).cpu().numpy()

    def log_likelihood(self, X, method="exact", *, log_z=None, max_states=MAX_STATES,
                       **ais_options):  # fmt: skip
        """log p(v) per row (n_samples,): the exact log p*(v) minus log Z, exact
        (``method="exact"``) or by AIS (``"ais"``, ``ais_options`` as for
        :meth:`log_partition`), or ``log_z`` as given (a float or a LogPartition). When the
        hidden layers are too large for log p*(v), use :meth:`lower_bound`."""
        check_is_fitted(self, "_state")
        self._rows(X)  # the data's errors before log Z's
        if log_z is None:
            log_z = self.log_partition(method, max_states=max_states, **ais_options)
        return self.unnormalised_log_prob(X, max_states=max_states) - float(log_z)

    def score_samples(self, X):
        """Exact log p(v) per row."""
        return self.log_likelihood(X)

    def score(self, X, y=None):
        """Mean exact log-likelihood per row."""
        return float(np.mean(self.score_samples(X)))

    @torch.no_grad()
    def lower_bound(self, X, log_z=None):
        """The mean-field variational lower bound on log p(v) per row: E_q[-E(v, h)] + H(q) -
        log Z, with q from :meth:`mean_field` and ``log_z`` a float, a LogPartition (e.g. from
        AIS) or None (exact): (n_samples,)."""
        W, b = self._double()
        V = self._rows(X).double()
        mu = inference.mean_field(V, W, b, self.mean_field_steps)
        if log_z is None:
            log_z = self.log_partition("exact")
        return (inference.lower_bound(V, mu, W, b) - float(log_z)).cpu().numpy()

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def mean_field(self, X):
        """Mean-field posterior means [mu_1 (n, n_1), ..., mu_L (n, n_L)] (float64 arrays)."""
        W, b = self._double()
        mu = inference.mean_field(self._rows(X).double(), W, b, self.mean_field_steps)
        return [m.cpu().numpy() for m in mu]

    def transform(self, X):
        """Mean-field posterior means of the top layer: (n_samples, layers[-1])."""
        return self.mean_field(X)[-1]

    @torch.no_grad()
    def sample(self, n_samples=16, *, n_steps=1000, random_state=None):
        """E[v | h1] after ``n_steps`` block-Gibbs sweeps from uniform random states:
        (n_samples, n_visible). ``random_state`` None: fresh entropy."""
        check_is_fitted(self, "_state")
        n_samples, n_steps = (
            check_count("n_samples", n_samples, 1),
            check_count("n_steps", n_steps, 1),
        )
        W, b = self._state["W"], self._state["b"]
        units = sum(len(x) for x in b)  # states, fields and draws: about 4 float32 copies
        check_memory("n_samples", 4 * 4 * n_samples * units,
                     f"{n_samples:,} chains of {units} units")  # fmt: skip
        gen = torch_generator(resolve_seed(random_state, "random_state"), "sample",
                              device=b[0].device)  # fmt: skip
        states = [(torch.rand((n_samples, len(x)), generator=gen, device=x.device) < 0.5).float()
                  for x in b]  # fmt: skip
        for _ in range(n_steps):
            inference.gibbs_sweep(states, W, b, gen)
        return torch.sigmoid(inference.field(states, W, b, 0)).cpu().numpy()

    @torch.no_grad()
    def _monitor(self, X, X_val):
        """One history record's metrics on the checked rows ``X`` (and ``X_val`` or None)."""
        W, b = self._double()
        V = X.double()
        mu = inference.mean_field(V, W, b, self.mean_field_steps)
        recon = torch.sigmoid(inference.field([None, mu[0]], W[:1], b[:2], 0))
        record = {"reconstruction_error": float(((recon - V) ** 2).mean())}
        units = [len(x) for x in b]
        costs = [sum(units[j] for j in inference.enumeration_plan(units, clamp)[0])
                 for clamp in (False, True)]  # fmt: skip
        exact = max(costs) <= self.exact_max_units
        log_z = self.log_partition("exact") if exact else None
        for suffix, rows in (("", X), ("_val", X_val)):
            if rows is None or (suffix and X_val is None):
                continue
            record["log_likelihood_exact" + suffix] = (
                float(self.log_likelihood(rows, log_z=log_z).mean()) if exact else None
            )
            record["lower_bound_exact" + suffix] = (
                float(self.lower_bound(rows, log_z).mean()) if exact else None
            )
        return record
