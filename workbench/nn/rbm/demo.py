"""The RBM section of ``workbench demo``: persistent CD on bars-and-stripes, judged exactly."""

import numpy as np

__all__ = ["section_rbm_training"]


def section_rbm_training(report, seed, **_):
    from workbench.data import load_dataset
    from workbench.nn.rbm.model import RBM
    from workbench.nn.rbm.plots import plot_images, plot_learning_curves
    from workbench.nn.runtime import torch_threads
    from workbench.report import Table

    X = load_dataset("bars-stripes-3").X
    common = dict(learning_rate=0.1, n_epochs=4000, batch_size=14, momentum=0.5, n_chains=100,
                  lr_schedule="cosine", weight_decay=0.0, monitor_every=100, random_state=seed,
                  verbose=False)  # fmt: skip
    with torch_threads(1):  # tiny model: one thread, immune to a busy machine
        runs = {name: RBM(16, method=m, k=k, **common).fit(X)
                for name, m, k in (("CD-1", "cd", 1), ("PCD-1", "pcd", 1))}  # fmt: skip
    optimum = -np.log(len(X))
    report.heading(
        "Restricted Boltzmann machines: the negative phase is a sampler",
        look="PCD-1's exact log-likelihood ends close to -ln 14 while CD-1 stalls below it; "
        "the samples should look like bars and stripes.",
    )
    report.paragraph(
        "An RBM with 16 hidden units learns the 14 bars-and-stripes patterns of a 3x3 grid. "
        "With 9 visible units the partition function is an exact sum, so the log-likelihood is "
        f"exact; the best any model can do is -ln 14 = {optimum:.3f}. Contrastive divergence "
        "restarts its Gibbs chains at the data and stalls; persistent chains explore the model "
        "and get close to the optimum with the same work per update."
    )
    rows = [
        [name, rbm.history_[-1]["log_likelihood_exact"], rbm.history_[-1]["chain_rhat"]]
        for name, rbm in runs.items()
    ]
    columns = ["method", "exact LL", "chain R-hat"]
    report.table(Table(columns, rows, formats=dict.fromkeys(columns[1:], ".3f")))
    report.figure(plot_learning_curves({k: v.history_ for k, v in runs.items()}, optimum=optimum),
                  "Exact log-likelihood and monitors per epoch.")  # fmt: skip
    samples = runs["PCD-1"].sample(16, n_steps=1000, random_state=seed)
    report.figure(plot_images(samples, (3, 3), title="PCD-1 samples"),
                  "Samples: 1000 Gibbs sweeps from random bits.")  # fmt: skip
    ll = {k: v.history_[-1]["log_likelihood_exact"] for k, v in runs.items()}
    return (f"rbm (bars-stripes-3): exact LL CD-1 {ll['CD-1']:.3f}, PCD-1 {ll['PCD-1']:.3f}, "
            f"optimum {optimum:.3f}")  # fmt: skip
