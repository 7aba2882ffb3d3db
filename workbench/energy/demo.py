"""The energy-model section of ``workbench demo``: an RBM by hand and its partition function."""

import numpy as np

from workbench.energy.rbm import RBM
from workbench.energy.states import binary_states
from workbench.report import Table

__all__ = ["section_energy"]


def section_energy(report, seed, **_):
    """Joint table of a 2 x 2 RBM, one exact gradient step, and exact log Z against AIS."""
    rbm = RBM(np.array([[2.0, -1.0], [1.5, 1.0]]), [-1.0, 0.5], [-0.5, 0.2])
    table = rbm.joint_table()
    report.heading(
        "An RBM by hand: energies, Z, and an exact gradient step",
        look="p(v) moves towards the data states 10 and 01 after one exact step; AIS and "
        "reverse AIS bracket the exact log Z within a few standard errors.",
    )
    report.paragraph(
        "Two visible and two hidden binary units, E(v, h) = -a.v - b.h - v W h. With 16 joint "
        "states every probability can be listed; p(v) sums each block of four rows."
    )
    report.table(table.as_table())
    data = np.array([[1.0, 0.0], [0.0, 1.0]])
    grad = rbm.exact_gradient(data)
    stepped = RBM(
        rbm.W + 0.5 * grad["W"],
        rbm.visible_bias + 0.5 * grad["visible_bias"],
        rbm.hidden_bias + 0.5 * grad["hidden_bias"],
    )
    rows = [
        [_bits(v), p0, p1]
        for v, p0, p1 in zip(
            binary_states(2), table.marginal, stepped.joint_table().marginal, strict=True
        )
    ]
    report.paragraph(
        "One exact gradient step (rate 0.5, gradient <O>_data - <O>_model summed exactly) on the "
        "data {10, 01} moves probability towards those two states:"
    )
    columns = ["v", "p(v) before", "after one step"]
    report.table(Table(columns, rows, formats=dict.fromkeys(columns[1:], ".4f")))
    rng = np.random.default_rng(seed)
    medium = RBM(rng.normal(0, 0.5, (30, 16)), rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 16))
    exact = medium.log_partition().value
    lines = [["exact (2^16 hidden states)", exact, None, None]]
    worst = 0.0
    for method in ("ais", "reverse_ais"):
        est = medium.log_partition(method, n_runs=100, n_betas=501, seed=seed)  # 500 sweeps
        worst = max(worst, abs(est.value - exact) / est.se)
        lines.append([method, est.value, est.se, (est.value - exact) / est.se])
    report.heading("Partition function: enumeration against annealed importance sampling", 3)
    report.paragraph(
        "A 30 x 16 RBM is still small enough to enumerate. Forward AIS is low on average and "
        "reverse AIS high on average; single runs land within a few standard errors."
    )
    columns = ["method", "log Z", "s.e.", "error (s.e.)"]
    formats = {"log Z": ".4f", "s.e.": ".4f", "error (s.e.)": "+.1f"}
    report.table(Table(columns, lines, formats=formats))
    return (
        f"rbm: log-likelihood {rbm.log_likelihood(data):.3f} -> {stepped.log_likelihood(data):.3f} "
        f"after one exact step; log Z {exact:.3f}, AIS within {worst:.1f} se"
    )


def _bits(x):
    return "".join(str(int(round(u))) for u in x)
