"""Dictionary learning by mini-batch (online) updates on the runtime's training loop.

The objective, per row ``x`` of the data, is the lasso of :mod:`workbench.sparse.coding`
minimised over the codes *and* the dictionary, with unit-norm atoms::

    f(D) = mean_x min_h 0.5 ||x - h D||^2 + alpha ||h||_1,      ||d_k|| = 1

Each mini-batch (Mairal et al. 2010, the scheme of scikit-learn's MiniBatchDictionaryLearning):

1. code the batch with FISTA under the current dictionary (:func:`sparse_code`);
2. fold the batch into the running statistics ``A = sum h^T h`` (n_atoms, n_atoms) and
   ``B = sum h^T x`` (n_atoms, n_features), older batches down-weighted by a forgetting
   factor that tends to 1;
3. one pass of block coordinate descent over the atoms on the surrogate
   ``0.5 tr(D^T A D) - tr(D^T B)``: ``d_k <- d_k + (B_k - (A D)_k) / A_kk``, then
   ``d_k / ||d_k||``. An atom no code used lately (``A_kk`` tiny) is dead: it is re-drawn
   from a row of the batch.

Training runs in one process (under torchrun every rank would repeat the whole batch). The
loop (:func:`workbench.nn.runtime.run_loop`) draws the batches, logs, checkpoints
(kind ``"dictionary"``) and resumes; ``history_`` holds per epoch the mean objective of the
batches as they were coded (``train_loss``) and, on up to ``monitor_size`` fixed rows, the
objective after the epoch (``objective``), the fraction of nonzero codes and the mean squared
reconstruction error per row.
"""

import math
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.errors import InputError, check_count, check_layers
from workbench.nn.runtime import load_checkpoint, resolve_device, resolve_seed, torch_generator
from workbench.nn.runtime.checkpoint import load_estimator, plain_params
from workbench.nn.runtime.loop import run_loop
from workbench.sparse.coding import solve_batch, sparse_code
from workbench.validation import check_data, expected_failures

__all__ = ["KIND", "DictionaryLearning"]

KIND = "dictionary"  # the checkpoint kind
DEAD = 1e-7  # an atom whose A_kk is below DEAD * trace(A) / n_atoms is re-drawn
# settings a resumed run may change (all others must match the checkpoint)
RUNTIME = ("n_epochs", "checkpoint", "checkpoint_every", "device", "verbose")


class DictionaryLearning(TransformerMixin, BaseEstimator):
    """Learn a dictionary of unit-norm atoms for sparse codes, by mini-batch updates.

    Parameters
    ----------
    n_atoms : int, default=64
    alpha : float, default=0.1
        Weight of ``||h||_1`` in ``0.5 ||x - h D||^2 + alpha ||h||_1``.
    batch_size : int, default=64
    n_epochs : int, default=10
    max_iter : int, default=300
        FISTA iterations per batch (training) and per row (:meth:`transform`).
    tol : float, default=1e-3
        Relative duality gap at which FISTA stops (see :func:`sparse_code`). The gap is a
        loose bound: on digits, FISTA's objective is within 1e-4 of the optimum when the
        relative gap is still ~1e-3.
    monitor_size : int, default=1000
        Rows (a fixed subset of the data) on which ``history_`` measures the objective.
    checkpoint : path or None, default=None
        Written atomically every ``checkpoint_every`` epochs, at the end and on Ctrl-C.
    checkpoint_every : int, default=1
    device : str, default="cpu"
        "auto", "cpu", "cuda" or "cuda:N"; training runs in float32.
    random_state : int or None, default=None
        Seed of the initial atoms, batch order and re-drawn atoms; None: fresh (in ``seed_``).
    verbose : bool, default=False
        Progress bar and log lines on standard error.

    Attributes
    ----------
    components_ : ndarray of shape (n_atoms, n_features), unit-norm atoms
    history_ : list of dict, one per epoch: epoch, train_loss, objective, nonzero,
        reconstruction_error, dead_atoms (re-drawn during the epoch), seconds
    n_iter_ : int, epochs run
    seed_ : int
    n_features_in_ : int

    Example
    -------
    >>> dl = DictionaryLearning(32, alpha=0.2, n_epochs=5, random_state=0).fit(X)
    >>> codes = dl.transform(X)              # (n_samples, 32), mostly zeros
    """

    def __init__(self, n_atoms=64, *, alpha=0.1, batch_size=64, n_epochs=10, max_iter=300,
                 tol=1e-3, monitor_size=1000, checkpoint=None, checkpoint_every=1,
                 device="cpu", random_state=None, verbose=False):  # fmt: skip
        self.n_atoms = n_atoms
        self.alpha = alpha
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.max_iter = max_iter
        self.tol = tol
        self.monitor_size = monitor_size
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        for name in ("n_atoms", "batch_size", "n_epochs", "max_iter", "monitor_size",
                     "checkpoint_every"):  # fmt: skip
            check_count(name, getattr(self, name), 1)
        for name in ("alpha", "tol"):
            value = getattr(self, name)
            ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                raise InputError(name, "a finite number >= 0", repr(value))
        return resolve_device(self.device)

    def _check_X(self, X, *, reset):
        return check_data(self, X, reset=reset, dtype=np.float64)

    def _expected_failed_checks(self):
        """{check_estimator check: why this estimator fails it} (see workbench.validation)."""
        return expected_failures(self)

    def fit(self, X, y=None, *, resume=False):
        """Learn ``components_`` from the rows of ``X`` (n_samples, n_features) over
        ``n_epochs`` epochs. ``resume``: continue from the file ``checkpoint`` when it exists
        (dictionary, statistics, position in the epoch; other settings and the data size must
        match), up to ``n_epochs``."""
        device = self._check_params()
        if resume and self.checkpoint is None:
            raise InputError("resume", detail="continues from `checkpoint`, which is None")
        X = self._check_X(X, reset=True)
        Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
        path = self.checkpoint
        if resume and path is not None and Path(path).exists():
            self._restore(load_checkpoint(path, KIND)["state"], device)
        else:
            self._begin(Xt)
        task = _Task(self, Xt)
        result = run_loop(task, n_train=X.shape[0], n_epochs=self.n_epochs,
                          batch_size=self.batch_size, seed=self.seed_, checkpoint=path,
                          resume=resume, checkpoint_every=self.checkpoint_every,
                          progress=self.verbose)  # fmt: skip
        self.history_ = result.history
        self.n_iter_ = len(result.history)
        return self

    def _begin(self, X):
        """Initial atoms: random rows of the data plus a little noise, normalised."""
        check_layers("n_atoms", (X.shape[1], self.n_atoms), what="features-atoms")  # D, B
        self.seed_ = resolve_seed(self.random_state, "random_state")
        gen = torch_generator(self.seed_, "init")
        rows = torch.randint(X.shape[0], (self.n_atoms,), generator=gen)
        noise = torch.randn(self.n_atoms, X.shape[1], generator=gen)
        D = X[rows.to(X.device)] + 0.01 * noise.to(X.device)
        self._state = {
            "D": _normalise(D),
            "A": torch.zeros(self.n_atoms, self.n_atoms, device=X.device),
            "B": torch.zeros(self.n_atoms, X.shape[1], device=X.device),
            "updates": 0,
            "dead": 0,
        }
        self.history_ = []

    def _restore(self, state, device):
        self.seed_, self.n_features_in_ = int(state["seed"]), int(state["n_features_in"])
        if tuple(state["D"].shape) != (self.n_atoms, self.n_features_in_):
            raise InputError("checkpoint", detail=f"atoms of shape {tuple(state['D'].shape)} "
                             f"do not match n_atoms={self.n_atoms}")  # fmt: skip
        self._state = {k: state[k].to(device) for k in ("D", "A", "B")}
        self._state.update(updates=int(state["updates"]), dead=int(state["dead"]))

    @property
    def components_(self):
        check_is_fitted(self, "_state")
        return self._state["D"].detach().cpu().numpy().astype(np.float64)

    def transform(self, X):
        """Sparse codes of the rows of ``X`` (n_samples, n_atoms), by FISTA in float64."""
        check_is_fitted(self, "_state")
        X = self._check_X(X, reset=False)
        return sparse_code(X, self.components_, self.alpha, max_iter=self.max_iter,
                           tol=self.tol, device=self.device).codes  # fmt: skip

    def objective(self, X):
        """Mean over the rows of ``0.5 ||x - h D||^2 + alpha ||h||_1`` at the codes of
        :meth:`transform`."""
        check_is_fitted(self, "_state")
        X = self._check_X(X, reset=False)
        result = sparse_code(X, self.components_, self.alpha, max_iter=self.max_iter,
                             tol=self.tol, device=self.device)  # fmt: skip
        return float(result.objective.mean())

    @classmethod
    def load(cls, path, *, device=None):
        """An estimator restored from the checkpoint at ``path`` (kind "dictionary")."""

        def restore(est, state):
            est._restore(state, est._check_params())
            est.history_ = list(state["loop"]["history"])
            est.n_iter_ = len(est.history_)

        return load_estimator(cls, path, KIND, restore, device=device)


def _code(est, X, D):
    """FISTA codes of the rows ``X`` under ``D`` at the estimator's ``alpha``, ``max_iter`` and
    ``tol``: tensors (codes, n_iter, gap, objective)."""
    return solve_batch(X, D, float(est.alpha), "fista", est.max_iter, est.tol, None, 10)


def _normalise(D):
    return D / D.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _forget(step, batch_size):
    """The weight of the past statistics at update ``step`` (0-based; Mairal et al. 2010,
    as in scikit-learn): ``(theta + 1 - eta) / (theta + 1)``."""
    t, eta = step + 1, batch_size
    theta = t * eta if t < eta else eta**2 + t - eta
    return (theta + 1 - eta) / (theta + 1)


class _Task:
    """Dictionary learning as a task of :func:`workbench.nn.runtime.run_loop`."""

    kind = KIND

    def __init__(self, estimator, X):
        self.est, self.X = estimator, X
        self.config = plain_params(estimator, exclude=RUNTIME)
        self.config["n_features_in"] = estimator.n_features_in_
        gen = torch_generator(estimator.seed_, "monitor-rows")
        order = torch.randperm(X.shape[0], generator=gen)[: estimator.monitor_size]
        self.X_monitor = X[order.to(X.device)]

    def step(self, batch, share, step):
        """Code the batch, update the statistics and the atoms; returns the batch's summed
        objective under the dictionary it was coded with."""
        est, state = self.est, self.est._state
        X = self.X[batch.to(self.X.device)]  # (B, n_features)
        D, A, B = state["D"], state["A"], state["B"]
        H, _, _, primal = _code(est, X, D)
        beta = _forget(state["updates"], len(batch))
        A.mul_(beta).add_(H.T @ H)
        B.mul_(beta).add_(H.T @ X)
        dead_level = DEAD * float(torch.trace(A)) / est.n_atoms
        gen = torch_generator(est.seed_, "redraw", step)
        dead = (torch.diagonal(A) <= dead_level).tolist()  # one device sync, not one per atom
        for k in range(est.n_atoms):
            if dead[k]:  # unused lately: re-draw from the batch
                row = int(torch.randint(len(batch), (1,), generator=gen))
                D[k] = X[row] / X[row].norm().clamp_min(1e-12)
                state["dead"] += 1
                continue
            d = D[k] + (B[k] - A[k] @ D) / A[k, k]
            D[k] = d / d.norm().clamp_min(1e-12)
        state["updates"] += 1
        return primal.sum()

    @torch.no_grad()
    def end_epoch(self, epoch):
        est, X = self.est, self.X_monitor
        D = est._state["D"]
        H, _, _, primal = _code(est, X, D)
        fields = {
            "objective": float(primal.mean()),
            "nonzero": float((H != 0).float().mean()),
            "reconstruction_error": float(((X - H @ D) ** 2).sum(1).mean()),
            "dead_atoms": est._state["dead"],
        }
        est._state["dead"] = 0
        return fields, False

    def state_dict(self):
        est = self.est
        state = {k: est._state[k].detach().cpu() for k in ("D", "A", "B")}
        return {**state, "updates": est._state["updates"], "dead": est._state["dead"],
                "seed": est.seed_, "n_features_in": est.n_features_in_,
                "params": plain_params(est)}  # fmt: skip

    def load_state_dict(self, state):
        self.est._restore(state, self.X.device)
