"""Restricted Boltzmann machines trained with Torch: CD-k, persistent CD-k, parallel tempering.

Energy of a visible vector v and a hidden vector h (the same parametrisation as
:class:`workbench.energy.RBM`, so weights move between the two unchanged)::

    E(v, h) = -a.v - b.h - v W h  [+ sum_i v_i^2 / (2 sigma^2) for Gaussian visible units]
                                  [+ sum_j h_j^2 / 2 for Gaussian hidden units]

    F(v) = -a.v [+ v^2 / (2 sigma^2)] - sum_j softplus(b_j + (v W)_j)       (free energy)
    [Gaussian hidden units: softplus(c) becomes c^2 / 2 + log(2 pi) / 2]

The log-likelihood gradient <v h>_data - <v h>_model is estimated with Gibbs chains restarted at
the data (CD-k), kept across updates (PCD-k) or kept at several temperatures with swaps
(parallel tempering), in closed form (no autograd), in float32 on the device given as a string::

    rbm = RBM(16, method="pcd", n_epochs=200, random_state=0).fit(X)
    rbm.score_samples(X)          # exact log-likelihood per row when a layer is small
    rbm.sample(16, n_steps=1000)  # long Gibbs runs from random starts

Kernels and data-parallel runs: :mod:`~workbench.nn.rbm.training` (Gibbs conditionals in
:mod:`~workbench.nn.rbm.gibbs`); epochs, monitors, checkpoints: :mod:`~workbench.nn.rbm.fitting`;
sampling and mean field: :mod:`~workbench.nn.rbm.sampling`; devices, threads, seeds, interrupts
and the checkpoint format: :mod:`workbench.nn.runtime`."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.errors import InputError
from workbench.nn.rbm import convert, fitting, parallel, sampling, training
from workbench.nn.rbm.training import LAYERS, METHODS, SCHEDULES
from workbench.nn.runtime import derive_seed
from workbench.nn.runtime.threads import blas_threads_like_torch
from workbench.validation import expected_failures, torch_tags

__all__ = ["LAYERS", "METHODS", "SCHEDULES", "RBM"]


class RBM(TransformerMixin, BaseEstimator):
    """Restricted Boltzmann machine, trained by CD-k or PCD-k.

    Parameters
    ----------
    n_hidden : int, default=64
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        Data in [0, 1] (binary, or grey values taken as probabilities, as scikit-learn's
        BernoulliRBM takes them), or real data (standardise it first) with noise ``sigma``.
    hidden : {"bernoulli", "gaussian"}, default="bernoulli"
        Binary hidden units, or linear ones with unit-variance Gaussian noise, p(h | v) =
        N(b + v W, 1) (energy term + |h|^2 / 2; the linear code layer of Hinton &
        Salakhutdinov's deep autoencoder); Gaussian needs Bernoulli visible units, no
        tempering, doubling or sparsity target, and a small learning rate (about 1e-3).
    binarize : float or None, default=None
        Bernoulli units: map the data to ``X > binarize`` (any real values) in fit and in every
        method, as scikit-learn's BernoulliNB does; None takes them as they are.
    method : {"cd", "pcd"}, default="pcd"
        Contrastive divergence (chains restart at the data) or persistent CD.
    k : int, default=1
        Gibbs steps per update.
    learning_rate : float, default=0.05
    n_epochs : int, default=20
    batch_size : int, default=32
        The last mini-batch of an epoch holds the remainder.
    lr_schedule : {"constant", "linear", "cosine"}, default="constant"
        Decay of the learning rate over the epochs (linear and cosine end at 0).
    momentum : float, default=0.9
        Used after the first 5 epochs; min(0.5, momentum) before them (Hinton's guide).
    weight_decay : float, default=1e-4
        L2 penalty on the weights.
    sparsity_target : float or None, default=None
        Target mean activation of the hidden units; ``sparsity_cost`` weighs the penalty.
    sparsity_cost : float, default=0.1
    n_chains : int or None, default=None
        Persistent chains (PCD); None: ``batch_size``.
    n_temperatures : int, default=1
        Parallel tempering with this many inverse temperatures 1, (K-1)/K, ..., 1/K (PCD,
        Bernoulli visible units); 1 means plain PCD.
    sigma : float, default=1.0
        Noise of Gaussian visible units.
    init_scale : float, default=0.01
        Standard deviation of the initial weights.
    doubling : {None, "visible", "hidden"}, default=None
        Train with one direction's weights doubled: "visible", p(h | v) = sigmoid(b + 2 v W);
        "hidden", p(v | h) = sigmoid(a + 2 W h) (the pre-training of a deep Boltzmann machine's
        bottom and top layers; Bernoulli units, no tempering). Monitors and inference
        methods use the plain RBM.
    sync_every : int, default=1
        Data-parallel runs only: 1 all-reduces the gradient at every update (N processes
        reproduce one); K > 1 lets each process update on its share of the batch alone and
        averages the processes every K updates and at each epoch's end (local SGD, a
        different trajectory; :mod:`workbench.nn.rbm.parallel`). Not with tempering.
    monitor : bool, default=True
        Evaluate the metrics of ``history_`` (every ``monitor_every`` epochs and the last).
    monitor_every : int, default=1
    monitor_size : int, default=1000
        Rows of the training data (a fixed subset) used by the monitors.
    exact_max_units : int, default=16
        Exact log-likelihood (enumerating the smaller layer) when it has at most this many
        units; ``log_partition(method="exact")`` allows up to 25.
    diagnostics_window : int, default=100
        Updates over which the persistent chains' free energies feed R-hat and ESS.
    checkpoint : path or None, default=None
        Written atomically every ``checkpoint_every`` epochs, at the end, and on Ctrl-C or
        SIGTERM.
    checkpoint_every : int, default=1
    device : str, default="cpu"
        "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    random_state : int or None, default=None
        Seed of every random stream of the training run; None draws a fresh one (kept in
        ``seed_``).
    verbose : bool, default=True
        Progress bar with the latest metrics on standard error.

    Attributes
    ----------
    weights_ : ndarray of shape (n_visible, n_hidden)
    visible_bias_ : ndarray of shape (n_visible,)
    hidden_bias_ : ndarray of shape (n_hidden,)
    history_ : list of dict, one per epoch (see :meth:`fit`)
    seed_ : int, the seed the run used
    n_features_in_ : int
    """

    def __init__(
        self,
        n_hidden=64,
        *,
        visible="bernoulli",
        hidden="bernoulli",
        binarize=None,
        method="pcd",
        k=1,
        learning_rate=0.05,
        n_epochs=20,
        batch_size=32,
        lr_schedule="constant",
        momentum=0.9,
        weight_decay=1e-4,
        sparsity_target=None,
        sparsity_cost=0.1,
        n_chains=None,
        n_temperatures=1,
        sigma=1.0,
        init_scale=0.01,
        doubling=None,
        sync_every=1,
        monitor=True,
        monitor_every=1,
        monitor_size=1000,
        exact_max_units=16,
        diagnostics_window=100,
        checkpoint=None,
        checkpoint_every=1,
        device="cpu",
        random_state=None,
        verbose=True,
    ):
        self.n_hidden = n_hidden
        self.visible = visible
        self.hidden = hidden
        self.binarize = binarize
        self.method = method
        self.k = k
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.n_chains = n_chains
        self.n_temperatures = n_temperatures
        self.sigma = sigma
        self.init_scale = init_scale
        self.doubling = doubling
        self.sync_every = sync_every
        self.monitor = monitor
        self.monitor_every = monitor_every
        self.monitor_size = monitor_size
        self.exact_max_units = exact_max_units
        self.diagnostics_window = diagnostics_window
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        """The device, after checking every hyper-parameter (InputError naming it)."""
        return training.check_params(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        return torch_tags(tags, positive_only=self.visible == "bernoulli" and self.binarize is None)

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    @property
    def _params(self):
        return self._state["W"], self._state["a"], self._state["b"]

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, X_val=None, resume=False):
        """Train for ``n_epochs`` epochs on the runtime's training loop.

        Parameters
        ----------
        X : array of shape (n_samples, n_visible)
            Bernoulli units: values in [0, 1], used as they are in the data phase (grey values
            as probabilities, e.g. a DBN's upper layers), or any values with ``binarize``.
        y : ignored
        X_val : array of shape (n_val, n_visible), optional
            Held-out rows for the free-energy gap and held-out log-likelihood.
        resume : bool, default=False
            Continue from the file ``checkpoint`` when it exists (parameters, momentum,
            persistent chains, RNG, position in the epoch) up to ``n_epochs``; the other
            training settings and the data size must match it. Without the file: from scratch.

        A ``batch_size`` larger than the data makes one batch of all rows per epoch.
        ``history_`` gets one dict per monitored epoch: epoch, learning_rate, seconds (training
        time so far, monitors excluded), reconstruction_error, pseudo_log_likelihood,
        free_energy_gap (held-out minus training mean free energy), log_likelihood_exact and
        log_likelihood_exact_val (None when not enumerable), chain_rhat, chain_ess (PCD),
        swap_rate (parallel tempering). Bernoulli data that are not all 0/1 get only the
        metrics defined for probabilities (reconstruction error, chain diagnostics).
        """
        device = self._check_params()
        if resume and self.checkpoint is None:
            raise InputError("resume", detail="continues from `checkpoint`, which is None")
        reset = not (resume and hasattr(self, "n_features_in_"))
        X = training.check_X(self, X, reset=reset)
        if X_val is not None:
            X_val = training.check_X(self, X_val, reset=False, name="X_val")
        binary = self.visible != "bernoulli" or all(  # the likelihood metrics are defined
            bool(((rows == 0) | (rows == 1)).all()) for rows in (X, X if X_val is None else X_val)
        )
        fitting.run(self, X, X_val, resume, device, binary=binary)
        return self

    def partial_fit(self, X, y=None):
        """One pass of mini-batch updates over ``X`` at the current learning rate (no monitors);
        the first call initialises the model from ``X``."""
        device = self._check_params()
        first = not hasattr(self, "_state")
        X = training.check_X(self, X, reset=first)
        if first:
            fitting.begin(self, X, device)
        settings = training.Settings.of(self)
        momentum = training.momentum_at(settings, self._state["epoch"])
        for start in range(0, X.shape[0], self.batch_size):
            batch = X[start : start + self.batch_size]
            training.update(self._state, batch, settings, self.learning_rate, momentum,
                            self._generator)  # fmt: skip
        parallel.synchronise(self._state)  # sync_every > 1 in a process group: average ranks
        return self

    # ------------------------------------------------------------------ monitors
    def chain_diagnostics(self):
        """Convergence of the persistent chains, judged on their free energy over the last
        ``diagnostics_window`` updates by :func:`workbench.diagnostics.diagnose` (the one rule):
        {"chain_rhat", "chain_ess" (bulk), "chain_converged", "chain_draws"}; None for CD or
        fewer than ``workbench.diagnostics.MIN_DRAWS`` recorded updates."""
        return fitting.chain_diagnostics(self)

    @property
    def exact_likelihood_(self):
        """True when the smaller layer (the hidden one for Gaussian visible units) has at most
        ``exact_max_units`` units: then ``log_partition("auto")`` and the monitors enumerate it
        exactly instead of running AIS."""
        check_is_fitted(self, "_state")
        smaller = min(self.n_hidden, self.n_features_in_)
        if "gaussian" in (self.visible, self.hidden):  # the other layer is enumerated
            smaller = self.n_hidden if self.visible == "gaussian" else self.n_features_in_
        return smaller <= self.exact_max_units

    def _log_likelihood(self, X, log_z):
        """log p(v) per row of the checked tensor ``X`` through :mod:`workbench.energy`, with
        ``log_z`` a float or a LogPartition: ndarray (n_samples,)."""
        return self.to_energy().log_prob(X.double().cpu().numpy(), log_z)

    def log_partition(self, method="auto", *, n_runs=100, n_betas=1000, random_state=None):
        """log Z with its standard error, a :class:`workbench.energy.LogPartition` (``value``,
        ``se``; ``float()`` gives the value), computed by :meth:`workbench.energy.RBM.log_partition`
        on this model in float64.

        ``method="exact"`` enumerates the smaller layer (the hidden one for Gaussian visible
        units; refused beyond ``workbench.energy.MAX_STATES`` = 2^25 states). ``"ais"`` runs
        annealed importance sampling from the zero-weight RBM whose visible biases match the
        training data's marginals, ``n_runs`` runs through ``n_betas`` inverse temperatures
        from 0 to 1 (standard error by the delta method); ``"reverse_ais"`` anneals the other
        way (high on average where forward AIS is low). ``"auto"`` is exact when the smaller
        layer has at most ``exact_max_units`` units, else AIS. ``random_state``: the AIS seed
        (None: fresh entropy).
        """
        check_is_fitted(self, "_state")
        methods = ("auto", "exact", "ais", "reverse_ais")
        if method not in methods:
            raise InputError("method", f"one of {', '.join(methods)}", repr(method))
        if method == "auto":
            method = "exact" if self.exact_likelihood_ else "ais"
        energy = self.to_energy()
        with blas_threads_like_torch():
            if method == "exact":
                return energy.log_partition("exact")
            base = self._state["base_bias"].double().cpu().numpy()
            return energy.log_partition(method, n_runs=n_runs, n_betas=n_betas,
                                        seed=random_state, base_bias=base)  # fmt: skip

    # ------------------------------------------------------------------ inference
    # (the bodies live in workbench.nn.rbm.sampling)
    @torch.no_grad()
    def transform(self, X):
        """E[h | v]: hidden probabilities p(h_j = 1 | v), or b + v W for Gaussian hidden units:
        (n_samples, n_visible) -> (n_samples, n_hidden)."""
        check_is_fitted(self, "_state")
        return sampling.hidden_probs(self, training.check_X(self, X, reset=False)).cpu().numpy()

    @torch.no_grad()
    def free_energy(self, X):
        """F(v) per row, in float64: (n_samples, n_visible) -> (n_samples,)."""
        check_is_fitted(self, "_state")
        X = training.check_X(self, X, reset=False)
        return self.to_energy().free_energy(X.double().cpu().numpy())

    def score_samples(self, X, *, method="auto", **ais_options):
        """Log-likelihood log p(v) per row (n_samples,): exact when a layer is small enough,
        AIS otherwise (see :meth:`log_partition`; seeded from ``seed_`` unless ``random_state``
        is given, so repeated calls agree)."""
        X = training.check_X(self, X, reset=False)
        ais_options.setdefault("random_state", derive_seed(self.seed_, "score-ais"))
        return self._log_likelihood(X, self.log_partition(method, **ais_options))

    def score(self, X, y=None):
        """Mean log-likelihood per row."""
        return float(np.mean(self.score_samples(X)))

    @torch.no_grad()
    def reconstruction_error(self, X):
        """Mean squared error per pixel of the mean-field reconstruction v -> p(h|v) -> E[v|h]."""
        check_is_fitted(self, "_state")
        if not isinstance(X, torch.Tensor) or X.dtype != torch.float32:
            X = training.check_X(self, X, reset=False)
        return float(((X - sampling.reconstruct(self, X)) ** 2).mean())

    @torch.no_grad()
    def pseudo_log_likelihood(self, X, random_state=0):
        """Stochastic pseudo-log-likelihood per row (one random unit flipped per row, scaled by
        n_visible), as scikit-learn's BernoulliRBM.score_samples; Bernoulli visible units."""
        check_is_fitted(self, "_state")
        if self.visible != "bernoulli":
            raise ValueError("pseudo_log_likelihood: defined here for visible='bernoulli' only")
        X = training.check_X(self, X, reset=False)
        generator = torch.Generator(device=X.device).manual_seed(int(random_state))
        return sampling.pseudo_log_likelihood(self, X, generator).cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, X):
        """Mean-field reconstruction E[v | p(h | v)]: (n_samples, n_visible)."""
        check_is_fitted(self, "_state")
        return sampling.reconstruct(self, training.check_X(self, X, reset=False)).cpu().numpy()

    def gibbs(self, V, n_steps, *, clamp=None, burn_in=0, random_state=None):
        """Run ``n_steps`` Gibbs sweeps v -> h -> v from the rows of ``V``.

        ``clamp``: boolean array like ``V``; True entries stay at their value in ``V``.
        Returns the mean of E[v | h] over the sweeps after ``burn_in`` (with clamped entries
        kept): ndarray of shape ``V.shape``.
        """
        check_is_fitted(self, "_state")
        return sampling.gibbs(self, V, n_steps, clamp=clamp, burn_in=burn_in,
                              random_state=random_state)  # fmt: skip

    def sample(self, n_samples=16, *, n_steps=1000, random_state=None):
        """Visible means after ``n_steps`` Gibbs sweeps from random starts:
        (n_samples, n_visible). Bernoulli starts are uniform bits, Gaussian ones N(0, sigma^2)."""
        check_is_fitted(self, "_state")
        return sampling.sample(self, n_samples, n_steps=n_steps, random_state=random_state)

    def denoise(self, X, *, n_steps=10, random_state=None):
        """Average of E[v | h] over ``n_steps`` Gibbs sweeps started at the noisy rows ``X``."""
        return self.gibbs(X, n_steps, random_state=random_state)

    def inpaint(self, X, observed, *, n_steps=200, burn_in=50, random_state=None):
        """Fill the entries where ``observed`` is False by Gibbs sampling with the observed ones
        clamped; returns the posterior mean of every entry (observed ones unchanged)."""
        check_is_fitted(self, "_state")
        return sampling.inpaint(self, X, observed, n_steps=n_steps, burn_in=burn_in,
                                random_state=random_state)  # fmt: skip

    # ------------------------------------------------------------------ parameters out
    def _array(self, name):
        check_is_fitted(self, "_state")
        return self._state[name].detach().cpu().numpy().copy()

    @property
    def weights_(self):
        return self._array("W")

    @property
    def visible_bias_(self):
        return self._array("a")

    @property
    def hidden_bias_(self):
        return self._array("b")

    def to_energy(self):
        """The same model as a PyTensor :class:`workbench.energy.RBM` (float64)."""
        return convert.to_energy(self)

    @classmethod
    def from_energy(cls, rbm, **params):
        """An estimator holding the parameters of a :class:`workbench.energy.RBM` (binary hidden
        units); ``params`` are further hyper-parameters (for sampling or further training)."""
        return convert.from_energy(cls, rbm, params)

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def load(cls, path, *, device=None):
        """An estimator restored from the checkpoint that :meth:`fit` writes to ``checkpoint``
        (the runtime's format, kind "rbm"; ready for ``fit(X, resume=True)``).

        ``device`` overrides the saved device. A missing, corrupt or incompatible file raises
        an InputError (argument ``checkpoint``) that says which.
        """
        return fitting.load(cls, path, device)
