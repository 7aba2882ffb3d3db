"""The energy-model section of ``workbench demo``: an RBM by hand and its partition function."""

import numpy as np

from workbench.energy.rbm import RBM
from workbench.energy.states import binary_states

__all__ = ["section_energy"]


def section_energy(report, seed, **_):
    """Joint table of a 2 x 2 RBM, one exact gradient step, and exact log Z against AIS."""
    rbm = RBM(np.array([[2.0, -1.0], [1.5, 1.0]]), [-1.0, 0.5], [-0.5, 0.2])
    table = rbm.joint_table()
    report.heading("An RBM by hand: energies, Z, and an exact gradient step")
    report.paragraph(
        "Two visible and two hidden binary units, E(v, h) = -a.v - b.h - v W h. With 16 joint "
        "states every probability can be listed; p(v) sums each block of four rows."
    )
    report.pre(str(table))
    data = np.array([[1.0, 0.0], [0.0, 1.0]])
    grad = rbm.exact_gradient(data)
    stepped = RBM(
        rbm.W + 0.5 * grad["W"],
        rbm.visible_bias + 0.5 * grad["visible_bias"],
        rbm.hidden_bias + 0.5 * grad["hidden_bias"],
    )
    rows = ["v     p(v) before  after one step"]
    for v, p0, p1 in zip(
        binary_states(2), table.marginal, stepped.joint_table().marginal, strict=True
    ):
        rows.append(f"{''.join(str(int(x)) for x in v):<6}{p0:10.4f}{p1:10.4f}")
    report.paragraph(
        "One exact gradient step (rate 0.5, gradient <O>_data - <O>_model summed exactly) on the "
        "data {10, 01} moves probability towards those two states:"
    )
    report.pre("\n".join(rows))
    rng = np.random.default_rng(seed)
    medium = RBM(rng.normal(0, 0.5, (30, 16)), rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 16))
    exact = medium.log_partition().value
    lines = [f"exact (2^16 hidden states)   log Z = {exact:.4f}"]
    worst = 0.0
    for method in ("ais", "reverse_ais"):
        est = medium.log_partition(method, n_runs=100, n_betas=501, seed=seed)  # 500 sweeps
        worst = max(worst, abs(est.value - exact) / est.se)
        lines.append(
            f"{method:<28} log Z = {est.value:.4f} +- {est.se:.4f}  "
            f"(error {(est.value - exact) / est.se:+.1f} se)"
        )
    report.heading("Partition function: enumeration against annealed importance sampling", 3)
    report.paragraph(
        "A 30 x 16 RBM is still small enough to enumerate. Forward AIS is low on average and "
        "reverse AIS high on average; single runs land within a few standard errors."
    )
    report.pre("\n".join(lines))
    return (
        f"rbm: log-likelihood {rbm.log_likelihood(data):.3f} -> {stepped.log_likelihood(data):.3f} "
        f"after one exact step; log Z {exact:.3f}, AIS within {worst:.1f} se"
    )
