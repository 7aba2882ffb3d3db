"""The sigmoid belief net section of ``workbench demo``: wake-sleep and reweighted wake-sleep on
bars-and-stripes, judged by the exact log-likelihood, with the importance estimate beside it."""

import numpy as np

__all__ = ["section_sbn"]


def section_sbn(report, seed, **_):
    from workbench.data import load_dataset
    from workbench.nn.rbm.plots import plot_images
    from workbench.nn.runtime import torch_threads
    from workbench.nn.sbn.model import SigmoidBeliefNet
    from workbench.nn.sbn.plots import plot_training
    from workbench.report import Table
    from workbench.sizes import run_size

    X = load_dataset("bars-stripes-3").X
    epochs = run_size(3000, 200)
    common = dict(layers=(10,), n_epochs=epochs, batch_size=14, learning_rate=0.2,
                  monitor_every=max(1, epochs // 30), random_state=seed, verbose=False)  # fmt: skip
    with torch_threads(1):  # tiny model: one thread, immune to a busy machine
        runs = {"wake-sleep": SigmoidBeliefNet(method="wake-sleep", **common).fit(X),
                "reweighted (K=10)": SigmoidBeliefNet(method="reweighted", n_importance=10,
                                                      **common).fit(X)}  # fmt: skip
        estimates = {name: net.log_likelihood(X, "importance", n_samples=100, return_se=True,
                                              random_state=seed)
                     for name, net in runs.items()}  # fmt: skip
    optimum = -np.log(len(X))
    report.heading(
        "Sigmoid belief nets: wake-sleep, judged exactly",
        look="the importance estimate agrees with the exact log-likelihood within its s.e., and "
        "reweighted wake-sleep ends closer to -ln 14.",
    )
    report.paragraph(
        "A Helmholtz machine (10 binary causes above the 9 pixels, with a recognition net) learns "
        "the 14 bars-and-stripes patterns by wake-sleep, or by reweighted wake-sleep with 10 "
        "importance samples per row. Summing over the 2^10 codes gives log p(v) exactly, so "
        "the importance estimate (recognition net as proposal, 100 samples) can be checked "
        f"against it; the best possible mean is -ln 14 = {optimum:.3f}."
    )
    rows, summary = [], {}
    for name, net in runs.items():
        exact = float(net.log_likelihood(X).mean())
        value, se = estimates[name]
        mc = float(np.sqrt(np.sum(se**2)) / len(se))
        rows.append([name, exact, float(value.mean()), mc])
        summary[name] = exact
    columns = ["method", "exact LL", "importance LL", "s.e."]
    report.table(Table(columns, rows, formats=dict.fromkeys(columns[1:], ".3f")))
    report.figure(plot_training({k: v.history_ for k, v in runs.items()}, optimum=optimum),
                  "Training bound (-loss) and exact log-likelihood per epoch.")  # fmt: skip
    samples = runs["reweighted (K=10)"].sample(16, means=True, random_state=seed)
    report.figure(plot_images(samples, (3, 3), title="p(v | h_1), h from the top"),
                  "Ancestral samples of the reweighted net (pixel probabilities).")  # fmt: skip
    return (
        f"sbn (bars-stripes-3): exact LL wake-sleep {summary['wake-sleep']:.3f}, "
        f"reweighted {summary['reweighted (K=10)']:.3f}, optimum {optimum:.3f}"
    )
