"""Sigmoid belief nets (Neal 1992) with a recognition net: Helmholtz machines trained by
wake-sleep (Hinton, Dayan, Frey & Neal 1995) or reweighted wake-sleep (Bornschein & Bengio 2015).

The generative model is directed, top-down: the top layer's units are independent,
p(h_L = 1) = sigmoid(c_L), and each layer below is drawn given the one above,
p(h_{l-1} = 1 | h_l) = sigmoid(c_{l-1} + h_l G_l) with G_l of shape (units above, units below),
down to the visible layer. The recognition net runs the other way, q(h_l = 1 | h_{l-1}) =
sigmoid(r_l + h_{l-1} R_l), and proposes codes for a data vector.

Usage::

    sbn = SigmoidBeliefNet((8,), n_epochs=2000, batch_size=14, random_state=0).fit(X)
    sbn.log_likelihood(X)                                    # exact when the layers are small
    sbn.log_likelihood(X, method="importance", n_samples=1000, return_se=True)
    sbn.sample(16, random_state=1)                           # ancestral samples, top down

The kernels (passes, updates, sums) live in :mod:`workbench.nn.sbn.kernels`, the epochs and
checkpoints in :mod:`workbench.nn.sbn.fitting`; devices, seeds, interrupts and the checkpoint
format come from :mod:`workbench.nn.runtime`.
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.energy.states import log_mean_exp
from workbench.errors import InputError, check_count, check_layers, check_memory
from workbench.nn.rbm.training import check_X
from workbench.nn.runtime import resolve_device, resolve_seed, torch_generator
from workbench.nn.sbn import fitting, kernels
from workbench.nn.sbn.kernels import MAX_EXACT_STATES, METHODS
from workbench.validation import check_binarize, expected_failures, torch_tags

__all__ = ["METHODS", "SigmoidBeliefNet"]

EVALUATION = ("exact", "importance")


class SigmoidBeliefNet(TransformerMixin, BaseEstimator):
    """Sigmoid belief net of binary units with a recognition net (a Helmholtz machine).

    Parameters
    ----------
    layers : tuple of int, default=(64,)
        Hidden units per layer, bottom up (the last is the top layer).
    method : {"wake-sleep", "reweighted"}, default="wake-sleep"
        Wake-sleep with one recognition sample per row, or reweighted wake-sleep with
        ``n_importance`` samples and self-normalised importance weights.
    n_importance : int, default=5
        Recognition samples per row (K) of reweighted wake-sleep.
    learning_rate : float, default=0.05
        Step size of both nets (plain stochastic gradient ascent).
    n_epochs : int, default=20
    batch_size : int, default=32
        The last mini-batch of an epoch holds the remainder; the sleep phase dreams as many.
    init_scale : float, default=0.01
        Standard deviation of the initial weights.
    monitor : bool, default=True
        Record the exact mean log-likelihood of ``monitor_size`` training rows every
        ``monitor_every`` epochs when the enumeration needs at most ``monitor_states`` states.
    monitor_every : int, default=1
    monitor_size : int, default=1000
    monitor_states : int, default=65536
    checkpoint : path or None, default=None
        Written atomically every ``checkpoint_every`` epochs, at the end, and on Ctrl-C or
        SIGTERM.
    checkpoint_every : int, default=1
    device : str, default="cpu"
        "auto", "cpu", "cuda" or "cuda:N".
    binarize : float or None, default=None
        Map the data to ``X > binarize`` (any real values) in fit and in every method, as
        scikit-learn's BernoulliNB does; None: the data must be binary.
    random_state : int or None, default=None
        Seed of the run (initial weights, sampling noise, batch order); None: fresh entropy,
        kept in ``seed_``.
    verbose : bool, default=True

    Attributes
    ----------
    generative_weights_ : list of ndarray, top-down [G_top, ..., G_1], G_l (n_l, n_{l-1})
    generative_biases_ : list of ndarray, top-down [c_top, ..., c_1, c_visible]
    recognition_weights_ : list of ndarray, bottom-up [R_1, ..., R_top], R_l (n_{l-1}, n_l)
    recognition_biases_ : list of ndarray, bottom-up [r_1, ..., r_top]
    history_ : list of dict, one per epoch (epoch, train_loss: the mean negative K-sample
        bound, seconds, log_likelihood_exact when monitored)
    seed_ : int
    n_features_in_ : int
    """

    visible = "bernoulli"  # binary visible units (read by the shared input check)

    def __init__(
        self,
        layers=(64,),
        *,
        method="wake-sleep",
        n_importance=5,
        learning_rate=0.05,
        n_epochs=20,
        batch_size=32,
        init_scale=0.01,
        monitor=True,
        monitor_every=1,
        monitor_size=1000,
        monitor_states=2**16,
        checkpoint=None,
        checkpoint_every=1,
        device="cpu",
        binarize=None,
        random_state=None,
        verbose=True,
    ):
        self.layers = layers
        self.method = method
        self.n_importance = n_importance
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.init_scale = init_scale
        self.monitor = monitor
        self.monitor_every = monitor_every
        self.monitor_size = monitor_size
        self.monitor_states = monitor_states
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.binarize = binarize
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        return torch_tags(super().__sklearn_tags__(), positive_only=self.binarize is None)

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    def _check_params(self):
        """The device, after checking every hyper-parameter (InputError naming it)."""
        check_binarize(self.binarize)
        layers = self.layers
        if (not isinstance(layers, (tuple, list)) or not layers
                or any(isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1
                       for n in layers)):  # fmt: skip
            raise InputError("layers", "a non-empty tuple of integers >= 1", repr(layers))
        if self.method not in METHODS:
            raise InputError("method", f"one of {', '.join(METHODS)}", repr(self.method))
        for name in ("n_importance", "n_epochs", "batch_size", "monitor_every", "monitor_size",
                     "monitor_states", "checkpoint_every"):  # fmt: skip
            check_count(name, getattr(self, name), 1)
        for name in ("learning_rate", "init_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InputError(name, "a number > 0", repr(value))
        return resolve_device(self.device)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, resume=False):
        """Train for ``n_epochs`` epochs on the runtime's training loop.

        ``X`` (n_samples, n_visible) binary; ``resume``: continue from the file ``checkpoint``
        when it exists (parameters, generator, position in the epoch), up to ``n_epochs``; the
        other settings and the data size must match it.
        """
        device = self._check_params()
        if resume and self.checkpoint is None:
            raise InputError("resume", detail="continues from `checkpoint`, which is None")
        X = check_X(self, X, reset=not (resume and hasattr(self, "n_features_in_")), binary=True)
        check_layers("layers", (X.shape[1], *self.layers))
        fitting.run(self, X, resume, device)
        return self

    @classmethod
    def from_weights(cls, weights, biases, *, recognition=None, **params):
        """A net with the generative weights ``[G_top, ..., G_1]`` (top-down, G_l of shape
        (units above, units below)) and biases ``[c_top, ..., c_1, c_visible]``.

        ``recognition``: ``(weights, biases)`` bottom-up, ``[R_1, ..., R_top]`` with R_l of shape
        (units below, units above) and ``[r_1, ..., r_top]``; None: zeros (q(h) = 1/2 per unit).
        ``params`` are further hyper-parameters (for sampling or further training)."""
        G = [np.asarray(w, dtype=np.float32) for w in weights][::-1]  # bottom-up
        c = [np.asarray(b, dtype=np.float32).reshape(-1) for b in biases][::-1]
        if not G or len(c) != len(G) + 1 or any(g.ndim != 2 for g in G):
            raise InputError("weights", "L matrices and L + 1 bias vectors, top-down",
                             f"{len(G)} weights, {len(c)} biases")  # fmt: skip
        sizes = [len(b) for b in c]
        for i, g in enumerate(G):
            if g.shape != (sizes[i + 1], sizes[i]):
                raise InputError("weights", f"shape {(sizes[i + 1], sizes[i])} for G_{i + 1}",
                                 g.shape)  # fmt: skip
        if recognition is None:
            R = [np.zeros((sizes[i], sizes[i + 1]), np.float32) for i in range(len(G))]
            r = [np.zeros(n, np.float32) for n in sizes[1:]]
        else:
            R = [np.asarray(w, dtype=np.float32) for w in recognition[0]]
            r = [np.asarray(b, dtype=np.float32).reshape(-1) for b in recognition[1]]
            want = [(sizes[i], sizes[i + 1]) for i in range(len(G))]
            if [w.shape for w in R] != want or [len(b) for b in r] != sizes[1:]:
                raise InputError("recognition", f"weights of shapes {want} and biases of "
                                 f"sizes {sizes[1:]}", [w.shape for w in R])  # fmt: skip
        est = cls(tuple(sizes[1:]), **params)
        device = est._check_params()
        est.n_features_in_ = sizes[0]

        def tensors(arrays):
            return [torch.from_numpy(a.copy()).to(device) for a in arrays]

        est._state = {"gen_W": tensors(G), "gen_b": tensors(c), "rec_W": tensors(R),
                      "rec_b": tensors(r)}  # fmt: skip
        est.seed_ = resolve_seed(est.random_state, "random_state")
        est._generator = torch_generator(est.seed_, "train", device=device)
        est.history_ = []
        return est

    @classmethod
    def load(cls, path, *, device=None):
        """An estimator restored from the checkpoint that :meth:`fit` writes (kind "sbn"; ready
        for ``fit(X, resume=True)``); ``device`` overrides the saved one."""
        return fitting.load(cls, path, device)

    # ------------------------------------------------------------------ evaluation
    def _X(self, X):
        check_is_fitted(self, "_state")
        return check_X(self, X, reset=False, binary=True)

    def log_likelihood(self, X, method="exact", *, n_samples=100, max_states=MAX_EXACT_STATES,
                       return_se=False, random_state=None):  # fmt: skip
        """log p(v) per row of ``X`` (n_samples, n_visible): ndarray (n_rows,).

        ``method="exact"`` sums over every hidden configuration, layer by layer from the top
        (refused when a table would exceed ``max_states`` states, default 2^20, with a pointer
        to ``"importance"``). ``"importance"`` averages ``n_samples`` importance weights
        p(v, h) / q(h | v) with codes h from the recognition net: the log of the mean is a
        stochastic lower bound, below log p(v) on average and tight as ``n_samples`` grows.
        ``return_se``: also return the per-row standard errors (0 for exact), by the delta
        method (:func:`workbench.energy.states.log_mean_exp`). ``random_state``: the sampling
        seed (None: fresh entropy)."""
        if method not in EVALUATION:
            raise InputError("method", f"one of {', '.join(EVALUATION)}", repr(method))
        X = self._X(X)
        if method == "exact":
            value = kernels.exact_log_likelihood(self._state, X, max_states)
            return (value, np.zeros_like(value)) if return_se else value
        check_count("n_samples", n_samples, 2)
        seed = resolve_seed(random_state, "random_state")
        gen = torch_generator(seed, "importance", device=X.device)
        log_w = kernels.importance_log_weights(self._state, X, n_samples, gen)
        value, se = np.array([log_mean_exp(row) for row in log_w]).T
        return (value, se) if return_se else value

    def score_samples(self, X):
        """Exact log p(v) per row (see :meth:`log_likelihood`)."""
        return self.log_likelihood(X)

    def score(self, X, y=None):
        """Mean exact log-likelihood per row."""
        return float(np.mean(self.log_likelihood(X)))

    # ------------------------------------------------------------------ inference, sampling
    @torch.no_grad()
    def transform(self, X):
        """The code of each row: the recognition net's probabilities, passed up as means,
        q(h_top = 1 | ...): (n_samples, n_visible) -> (n_samples, layers[-1])."""
        h = self._X(X)
        for W, b in zip(self._state["rec_W"], self._state["rec_b"], strict=True):
            h = torch.sigmoid(b + h @ W)
        return h.cpu().numpy()

    @torch.no_grad()
    def infer(self, X, *, random_state=None):
        """One sample of every hidden layer from the recognition net for each row of ``X``:
        list of ndarray [h_1, ..., h_top], bottom-up."""
        X = self._X(X)
        gen = torch_generator(resolve_seed(random_state, "random_state"), "infer",
                              device=X.device)  # fmt: skip
        return [h.cpu().numpy() for h in kernels.up(self._state, X, gen)[1:]]

    @torch.no_grad()
    def sample(self, n_samples=16, *, means=False, random_state=None):
        """``n_samples`` ancestral samples of the visible layer, top down: (n_samples,
        n_visible); ``means``: p(v = 1 | h_1) instead of binary draws."""
        check_is_fitted(self, "_state")
        n_samples = check_count("n_samples", n_samples, 1)
        units = sum(len(x) for x in self._state["gen_b"])  # layers, logits: about 3 copies
        check_memory("n_samples", 3 * 4 * n_samples * units,
                     f"{n_samples:,} samples of {units} units")  # fmt: skip
        device = self._state["gen_b"][0].device
        gen = torch_generator(resolve_seed(random_state, "random_state"), "sample",
                              device=device)  # fmt: skip
        layers = kernels.down(self._state, n_samples, gen)
        if means:
            logits = self._state["gen_b"][0] + layers[1] @ self._state["gen_W"][0]
            return torch.sigmoid(logits).cpu().numpy()
        return layers[0].cpu().numpy()

    # ------------------------------------------------------------------ parameters out
    def _arrays(self, key):
        check_is_fitted(self, "_state")
        return [t.detach().cpu().numpy().copy() for t in self._state[key]]

    @property
    def generative_weights_(self):
        return self._arrays("gen_W")[::-1]

    @property
    def generative_biases_(self):
        return self._arrays("gen_b")[::-1]

    @property
    def recognition_weights_(self):
        return self._arrays("rec_W")

    @property
    def recognition_biases_(self):
        return self._arrays("rec_b")
