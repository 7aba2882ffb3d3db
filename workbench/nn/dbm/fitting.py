"""Training a deep Boltzmann machine: greedy pre-training through the RBM trainer, then joint
training by persistent CD with a mean-field positive phase on the runtime's loop.

Pre-training (Salakhutdinov & Hinton 2009): the bottom RBM is trained with its visible layer
doubled (p(h | v) = sigmoid(b + 2 v W)), the top one with its hidden layer doubled, the middle
ones plainly (their weights halved when composed), each on the previous layer's up-pass
probabilities; a layer between two RBMs takes the mean of the two biases it got. This keeps
each hidden unit's total input in the composed DBM, where it hears both neighbours, near what
it heard in its RBM (:mod:`workbench.nn.rbm.training`, ``doubling``).

Joint training: every update runs ``mean_field_steps`` rounds of mean field on the mini-batch
(the data-dependent statistics), ``k`` Gibbs sweeps of the persistent chains (the model's),
and a closed-form step with momentum and weight decay. The checkpoint (kind "dbm") holds the
parameters, velocities, chains and generator, so a resumed run continues exactly.
"""

from pathlib import Path

import numpy as np
import torch

from workbench.errors import InputError
from workbench.nn.dbm import inference
from workbench.nn.runtime import load_checkpoint, resolve_seed, seed_sequence, torch_generator
from workbench.nn.runtime.checkpoint import load_estimator, plain_params
from workbench.nn.runtime.loop import run_loop

__all__ = ["KIND", "begin", "load", "pretrain", "run"]

KIND = "dbm"
# settings a resumed run may change (all others must match the checkpoint)
RUNTIME = ("n_epochs", "checkpoint", "checkpoint_every", "device", "verbose", "monitor",
           "monitor_size", "exact_max_units")  # fmt: skip


def pretrain(est, X, device):
    """Weights and biases (bottom-up lists, float32 on ``device``) from the greedy stack."""
    from workbench.nn.rbm.model import RBM

    layers, inputs = tuple(est.layers), X.cpu().numpy()
    rbms = []
    for depth, n_hidden in enumerate(layers):
        top = depth == len(layers) - 1
        settings = {"method": "cd", "learning_rate": est.learning_rate,
                    "batch_size": est.batch_size, "n_epochs": est.pretrain_epochs or est.n_epochs,
                    "momentum": est.momentum, "weight_decay": est.weight_decay,
                    **(est.rbm_params or {})}  # fmt: skip
        seed = int(seed_sequence(est.seed_, "pretrain", depth).generate_state(1)[0])
        rbm = RBM(n_hidden, doubling="visible" if depth == 0 else "hidden" if top else None,
                  device=str(device), monitor=False, verbose=est.verbose, random_state=seed,
                  **settings)  # fmt: skip
        rbm.fit(inputs)  # above the bottom: probabilities in [0, 1]
        scale = 2.0 if depth == 0 else 1.0  # the next layer's input: this RBM's up-pass
        inputs = 1.0 / (1.0 + np.exp(-(scale * inputs @ rbm.weights_ + rbm.hidden_bias_)))
        inputs = inputs.astype(np.float32)
        rbms.append(rbm)
    W = [r.weights_ * (1.0 if d in (0, len(rbms) - 1) else 0.5) for d, r in enumerate(rbms)]
    b = [rbms[0].visible_bias_]
    b += [
        (low.hidden_bias_ + up.visible_bias_) / 2 for low, up in zip(rbms, rbms[1:], strict=False)
    ]
    b.append(rbms[-1].hidden_bias_)
    return [torch.from_numpy(np.array(x)).to(device) for x in W], [
        torch.from_numpy(np.array(x)).to(device) for x in b
    ]


def begin(est, X, device):
    """Fresh state on ``est``: seed, generator, parameters (pre-trained, or small random weights
    with the visible biases at the data's logits), zero velocities, chains, empty history."""
    est.seed_ = resolve_seed(est.random_state, "random_state")
    gen = torch_generator(est.seed_, "train", device=device)
    p = X.mean(0).clamp(1e-3, 1 - 1e-3)
    base = torch.log(p / (1 - p))
    if est.pretrain:
        W, b = pretrain(est, X, device)
    else:
        units = [X.shape[1], *est.layers]
        W = [est.init_scale * torch.randn(m, n, generator=gen, device=device)
             for m, n in zip(units, units[1:], strict=False)]  # fmt: skip
        b = [base.clone(), *(torch.zeros(n, device=device) for n in units[1:])]
    rows = torch.randint(0, X.shape[0], (est.n_chains,), generator=gen, device=device)
    chains = [X[rows].clone()]  # visible layer at data rows, hidden layers by mean field
    chains += [(torch.rand(m.shape, generator=gen, device=device) < m).float()
               for m in inference.mean_field(chains[0], W, b, 0)]  # fmt: skip
    est._state = {"W": W, "b": b, "dW": [torch.zeros_like(w) for w in W],
                  "db": [torch.zeros_like(x) for x in b], "chains": chains, "base_bias": base,
                  "epoch": 0}  # fmt: skip
    est._generator = gen
    est.history_ = []


def run(est, X, X_val, resume, device):
    """Train up to ``n_epochs`` epochs; with ``resume`` continue from ``checkpoint`` when it
    exists (no pre-training then)."""
    path = est.checkpoint
    if resume and path is not None and Path(path).exists():
        _restore(est, load_checkpoint(path, KIND)["state"], device)
    else:
        begin(est, X, device)
    task = _Task(est, X, X_val)
    result = run_loop(task, n_train=X.shape[0], n_epochs=est.n_epochs, batch_size=est.batch_size,
                      seed=est.seed_, checkpoint=path, resume=resume,
                      checkpoint_every=est.checkpoint_every, progress=est.verbose)  # fmt: skip
    est.history_ = _monitored(result.history)


def update(state, V, est, generator):
    """One step: mean field on the rows ``V`` (B, n_0), ``k`` sweeps of the chains, then
    velocities and parameters in place."""
    W, b = state["W"], state["b"]
    data = [V, *inference.mean_field(V, W, b, est.mean_field_steps)]
    chains = state["chains"]
    for _ in range(est.k):
        probs = inference.gibbs_sweep(chains, W, b, generator)
    model = [probs.get(j, s) for j, s in enumerate(chains)]  # odd layers Rao-Blackwellised
    B, C = V.shape[0], chains[0].shape[0]
    for j in range(len(W)):
        grad = data[j].T @ data[j + 1] / B - model[j].T @ model[j + 1] / C
        state["dW"][j].mul_(est.momentum).add_(
            grad - est.weight_decay * W[j], alpha=est.learning_rate
        )
        W[j].add_(state["dW"][j])
    for j in range(len(b)):
        grad = data[j].mean(0) - model[j].mean(0)
        state["db"][j].mul_(est.momentum).add_(grad, alpha=est.learning_rate)
        b[j].add_(state["db"][j])


class _Task:
    """The DBM as a task of :func:`workbench.nn.runtime.run_loop`."""

    kind = KIND

    def __init__(self, est, X, X_val):
        self.est, self.X, self.X_val = est, X, X_val
        self.config = plain_params(est, exclude=RUNTIME)
        self.config["n_features_in"] = est.n_features_in_

    def step(self, batch, share, step):
        update(self.est._state, self.X[batch.to(self.X.device)], self.est, self.est._generator)

    def end_epoch(self, epoch):
        est = self.est
        est._state["epoch"] = epoch
        fields = {"learning_rate": est.learning_rate}
        if est.monitor:
            rows = self.X[: est.monitor_size]
            val = None if self.X_val is None else self.X_val[: est.monitor_size]
            fields.update(est._monitor(rows, val))
        return fields, False

    def state_dict(self):
        est = self.est
        tensors = {k: ([t.detach().cpu() for t in v] if isinstance(v, list) else
                       v.detach().cpu() if torch.is_tensor(v) else v)
                   for k, v in est._state.items()}  # fmt: skip
        return {"params": plain_params(est),
                "n_features_in": est.n_features_in_, "seed": est.seed_, "dbm": tensors,
                "generator": est._generator.get_state()}  # fmt: skip

    def load_state_dict(self, state):
        _restore(self.est, state, self.X.device)


def _restore(est, state, dev):
    est.n_features_in_, est.seed_ = int(state["n_features_in"]), int(state["seed"])
    units = [est.n_features_in_, *est.layers]
    shapes = [tuple(w.shape) for w in state["dbm"]["W"]]
    if shapes != list(zip(units, units[1:], strict=False)):
        raise InputError("checkpoint", detail=f"weights of shapes {shapes} do not match "
                         f"layers={tuple(est.layers)}")  # fmt: skip
    est._state = {k: ([t.to(dev) for t in v] if isinstance(v, list) else
                      v.to(dev) if torch.is_tensor(v) else v)
                  for k, v in state["dbm"].items()}  # fmt: skip
    est._generator = torch.Generator(device=dev)
    try:
        est._generator.set_state(state["generator"])
    except RuntimeError:  # saved on another device type: a new stream
        est._generator = torch_generator(est.seed_, "train-moved", device=dev)


def _monitored(history):
    records, seconds = [], 0.0
    for record in history:
        seconds += record.get("seconds", 0.0)
        records.append({**record, "seconds": round(seconds, 4)})
    return records


def load(cls, path, device=None):
    """An estimator of class ``cls`` restored from the checkpoint at ``path`` (on ``device``,
    default the saved one)."""

    def restore(est, state):
        _restore(est, state, est._check_params())
        est.history_ = _monitored(state["loop"]["history"])

    return load_estimator(cls, path, KIND, restore, device=device)
