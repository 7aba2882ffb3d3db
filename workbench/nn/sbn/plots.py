"""Figures of sigmoid belief nets (image grids and filters come from :mod:`workbench.nn.rbm.plots`).

Every function returns a matplotlib Figure (Agg canvas, no display needed).
"""

from workbench.output import new_figure

__all__ = ["plot_training"]


def plot_training(histories, *, optimum=None):
    """The training bound -train_loss (mean log of the K-sample importance weight, a stochastic
    lower bound on log p(v)) and the exact log-likelihood where monitored, against epoch.
    ``histories``: a history list, or {label: history}; ``optimum``: a reference line."""
    if not isinstance(histories, dict):
        histories = {"": histories}
    fig = new_figure(5.5, 3.6)
    ax = fig.subplots()
    for name, history in histories.items():
        bound = [(r["epoch"], -r["train_loss"]) for r in history if "train_loss" in r]
        exact = [(r["epoch"], r["log_likelihood_exact"]) for r in history
                 if r.get("log_likelihood_exact") is not None]  # fmt: skip
        if bound:
            line = ax.plot(*zip(*bound, strict=True), lw=0.8, alpha=0.6,
                           label=f"{name} training bound".strip())[0]  # fmt: skip
        if exact:
            color = line.get_color() if bound else None
            ax.plot(*zip(*exact, strict=True), marker=".", color=color,
                    label=f"{name} exact log p(v)".strip())  # fmt: skip
    if optimum is not None:
        ax.axhline(optimum, color="black", lw=0.8, ls=":", label="optimum")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per row")
    ax.legend(fontsize=8)
    return fig
