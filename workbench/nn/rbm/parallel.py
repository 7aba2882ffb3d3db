"""Data-parallel RBM training with local updates: each rank steps on its share of the global
batch alone and the ranks average every ``sync_every`` updates (``RBM(sync_every=K)``,
``workbench rbm train --sync-every K``).

With ``sync_every=1`` (the default) :func:`workbench.nn.rbm.training.update` all-reduces the
gradient at every update and N ranks reproduce one process. Each synchronous update waits for
the slower process, and on CPUs whose speed wanders from step to step that wait costs more than
the transfer (docs/benchmarks.md, section 13). With K > 1 rank r takes K updates from its own
rows and chains (the gradient ``sum_pos_r / B_r - sum_neg_r / C_r``), then one all-reduce of a
flat buffer averages the parameters, their velocities and the sparsity average, and gathers
the chains (each rank's at its rows) and their free energies since the last synchronisation;
the ranks also synchronise at the end of every epoch. This is local SGD (periodic model
averaging), a different trajectory: after one update the average equals the synchronous step
(in distribution: each rank draws its own noise), after K the ranks have drifted apart by
O(lr^2 K). Each rank's Gibbs noise for update t comes from the stream (local seed, rank, t),
the local seed drawn once from the shared generator, so no generator state differs between
ranks: at a synchronisation all ranks hold the same state, and a checkpoint written then
resumes the run exactly (the training loop honours interrupts only at multiples of K,
:func:`workbench.nn.runtime.run_loop`).
"""

import torch

from workbench.nn.runtime.distributed import average, distributed_context, rows_of
from workbench.nn.runtime.seeds import torch_generator

__all__ = ["AVERAGED", "after_local_update", "keep_local", "local_generator", "synchronise",
           "write_rows"]  # fmt: skip

AVERAGED = ("W", "a", "b", "dW", "da", "db", "q")  # state entries averaged over the ranks


def write_rows(view, part, own, dim):
    """``part`` into ``view`` at rows ``own`` (start, stop, n) along ``dim``, zeros elsewhere
    (so that the all-reduce's sum places every rank's rows); all of it when ``own`` is None."""
    if own is None:
        view.copy_(part)
        return
    view.zero_()
    view.narrow(dim, own[0], own[1] - own[0]).copy_(part)


def local_generator(state, shared):
    """This rank's generator for the update ``state["step"]`` of a local-update run: the stream
    (local seed, rank, step), the local seed drawn once from the ``shared`` generator."""
    if "local_seed" not in state:
        seed = torch.randint(2**62, (1,), generator=shared, device=shared.device)
        state["local_seed"] = int(seed)
    rank, device = distributed_context().rank, shared.device
    return torch_generator(state["local_seed"], "local-update", rank, state["step"], device=device)


def keep_local(state, chains, energies, own, sync_every):
    """Keep this rank's new chains (temperatures, its chains, n_visible) at its rows ``own`` of
    ``state["chains"]`` and their free energies (its chains,) in the row of this update of
    ``state["pending_energies"]`` (sync_every, C), until :func:`synchronise` gathers them."""
    n_chains = state["chains"].shape[1]
    pending = state.get("pending_energies")
    if pending is None or pending.shape != (sync_every, n_chains):
        pending = state["pending_energies"] = energies.new_zeros(sync_every, n_chains)
    state["chains"][:, own[0] : own[1]] = chains
    pending[state.get("local_steps", 0), own[0] : own[1]] = energies


def after_local_update(state, sync_every):
    """Count a local update; every ``sync_every`` updates :func:`synchronise`. Returns the
    gathered free energies (updates, C) then, (0, C) between synchronisations, None for CD."""
    state["step"] += 1
    state["local_steps"] = state.get("local_steps", 0) + 1
    energies = synchronise(state) if state["step"] % sync_every == 0 else None
    if energies is None and "chains" in state:
        return state["chains"].new_empty(0, state["chains"].shape[1])
    return energies


def synchronise(state):
    """Average :data:`AVERAGED` over the ranks and gather the chains and their pending free
    energies, in one all-reduce; returns those energies (updates since the last call, C), or
    None for CD, outside a process group, or when no update was taken since the last call."""
    done, world = state.get("local_steps", 0), distributed_context().world
    if done == 0 or world == 1:
        return None
    state["local_steps"], averaged = 0, [state[name] for name in AVERAGED]
    if "chains" not in state:
        average(averaged)
        return None
    chains, own = state["chains"], rows_of(state["chains"].shape[1])
    chains[:, : own[0]].zero_()  # the others' (stale) rows: the sum places theirs
    chains[:, own[1] :].zero_()
    energies = state["pending_energies"][:done].clone()  # zeros at the others' rows
    state["pending_energies"].zero_()
    average(averaged, summed=[chains, energies])
    return energies
