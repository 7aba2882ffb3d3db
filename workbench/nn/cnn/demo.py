"""The CNN section of ``workbench demo``: the digit net on scikit-learn's 8x8 digits."""

from workbench.data import load_dataset

__all__ = ["section_cnn"]


def section_cnn(report, seed, **_):
    """Train the small-image LeNet for a few epochs; figures and an RBM-feature comparison."""
    from threadpoolctl import threadpool_limits

    from workbench.nn.cnn import plots
    from workbench.nn.cnn.architecture import layer_table
    from workbench.nn.cnn.estimator import CNNClassifier
    from workbench.nn.rbm.baselines import rbm_logistic_baseline
    from workbench.nn.runtime import torch_threads
    from workbench.report import Table

    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    with torch_threads(1):  # a small net: one thread, immune to a busy machine
        clf = CNNClassifier(n_epochs=8, random_state=seed, progress=False).fit(train.X, train.y)
        with threadpool_limits(1):
            rbm = rbm_logistic_baseline(
                train.X, train.y, test.X, test.y, n_components=100, n_iter=15, seed=seed
            )
    predicted = clf.predict(test.X)
    accuracy = float((predicted == test.y).mean())
    report.heading(
        "A convolutional network on the 8x8 digits",
        look="the parameter saving of weight sharing in the layer table, the diagonal of the "
        "confusion matrix, and the CNN's test accuracy against the RBM features'.",
    )
    report.paragraph(
        "The course's digit network (two 5x5 convolutions with 6 and 16 filters, each followed "
        "by 2x2 max-pooling, then a hidden layer of 120 units) adapted to 8x8 images: each "
        "convolution is padded with 2 zeros so that it keeps the image size. Eight epochs of "
        f"AdamW with a cosine learning rate; {len(train.X)} training images (10% of them held "
        f"out for model selection), {len(test.X)} test images."
    )
    report.table(_layers(clf.config_, layer_table, Table))
    report.figure(plots.plot_learning_curves(clf.history_), "Loss and validation accuracy.")
    report.figure(
        plots.plot_confusion(test.y, predicted, test.classes), "Test-set confusion matrix."
    )
    report.figure(plots.plot_filters(clf.network_), "The six first-layer filters.")
    report.figure(
        plots.plot_feature_maps(clf, test.X[0]), "Feature maps of one test image, layer by layer."
    )
    report.paragraph(
        f"Discriminative against generative features on the same split: the CNN reaches "
        f"{accuracy:.3f} test accuracy; logistic regression on the hidden-unit probabilities of "
        f"an RBM with 100 hidden units trained without labels (scikit-learn's BernoulliRBM) "
        f"reaches {rbm.test_accuracy:.3f}, and on the raw pixels {rbm.pixel_accuracy:.3f}."
    )
    return (
        f"cnn (digits, 8 epochs): test accuracy {accuracy:.3f}; RBM features + logistic "
        f"{rbm.test_accuracy:.3f}"
    )


def _layers(config, layer_table, Table):
    """The layer table of ``config`` (text version: ``format_summary``) as a report Table."""
    rows = layer_table(config)
    c, h, w = config.input_shape
    body = [["input", "", f"{h}x{w}x{c}", None, None]]
    for r in rows:
        shape = r.output_shape
        text = f"{shape[1]}x{shape[2]}x{shape[0]}" if len(shape) == 3 else str(shape[0])
        body.append([r.name, r.kind, text, r.params, r.dense_params or None])
    total = sum(r.params for r in rows)
    dense = sum(r.dense_params for r in rows if r.name.startswith(("conv", "fc")))
    body.append(["total", "", "", total, dense])
    columns = ["layer", "kind", "output", "params", "dense params"]
    notes = [f"weight sharing: fully connected layers of the same widths would need "
             f"{dense / total:.0f}x more parameters"]  # fmt: skip
    return Table(columns, body, formats={"params": ",d", "dense params": ",d"}, notes=notes)
