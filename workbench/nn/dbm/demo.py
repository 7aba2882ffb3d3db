"""The deep-model section of ``workbench demo``: RBM, DBN, DBM (and sigmoid belief net) judged
by the same exact yardstick against the entropy floor (:mod:`workbench.nn.dbm.compare`)."""

__all__ = ["section_model_comparison"]


def section_model_comparison(report, seed, **_):
    from workbench.nn.dbm.compare import compare, comparison_figure, comparison_table
    from workbench.sizes import run_size

    rows = compare(seed=seed, quick=run_size(False, True))
    report.heading(
        "Deep generative models against the entropy floor",
        look="the gap column: each model's distance above the entropy floor (its KL divergence "
        "from the truth), at comparable parameter counts.",
    )
    report.paragraph(
        "Each model is trained on samples of a data set whose distribution is known exactly "
        "(the 14 bars-and-stripes patterns of a 3x3 grid, uniformly; 5x5 images of 10 bars, "
        "each on independently with probability 1/2), at comparable parameter counts. The "
        "yardstick is the expected negative log-likelihood under the true distribution, summed "
        "exactly over its patterns: RBM by enumerating its hidden layer, the two-layer DBN by "
        "enumerating its first hidden layer, the DBM by enumerating one parity of its layers. "
        "No model can go below the entropy of the data; the gap is its KL divergence from the "
        "truth."
    )
    report.table(comparison_table(rows))
    report.figure(comparison_figure(rows), "Exact NLL per model; dashed: the entropy floor.")
    best = {}
    for r in rows:
        if r["data"] not in best or r["gap"] < best[r["data"]]["gap"]:
            best[r["data"]] = r
    return "models vs entropy floor: " + ", ".join(
        f"{name} best {r['model']} (gap {r['gap']:.3f} nats)" for name, r in best.items()
    )
