"""``workbench cnn train`` and ``workbench cnn summary``.

``cnn train --nproc N`` (N > 1) re-launches itself under ``torchrun --standalone`` with N
workers; running ``torchrun --nproc-per-node N -m workbench.cli cnn train ...`` directly does the
same. Each worker joins the process group (gloo on CPU, NCCL on CUDA); rank 0 alone prints and
writes files.
"""

import time
from pathlib import Path

from workbench.nn.runtime.command import add_tensorboard_option

__all__ = ["register"]

TRAIN_DEFAULTS = {"epochs": 15, "batch_size": 64, "lr": 3e-3}


def _input_shape(text):
    try:
        dims = tuple(int(d) for d in text.lower().replace(",", "x").split("x"))
    except ValueError:
        dims = ()
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise ValueError(
            f"--input-shape: expected HxW or CxHxW with positive sizes "
            f"(e.g. 28x28 or 1x28x28), got {text!r}"
        )
    return dims if len(dims) == 3 else (1, *dims)


def _architecture(args, input_shape, n_classes):
    from workbench.nn.cnn.architecture import CNNConfig, parse_conv_spec

    if args.conv is None:
        return CNNConfig.for_input(input_shape, n_classes, tuple(args.hidden), pool=args.pool)
    return CNNConfig(
        input_shape, parse_conv_spec(args.conv, args.pool), tuple(args.hidden), n_classes
    )


def _add_architecture_options(p):
    p.add_argument(
        "--conv",
        default=None,
        metavar="SPEC",
        help="convolution stack, e.g. 6@5,16@5 (channels@kernel, optional pP sS); "
        "default: the course LeNet (5x5 filters, padded by 2 for small images)",
    )
    p.add_argument("--pool", type=int, default=2, help="max-pool window after each conv (0: none)")
    p.add_argument(
        "--hidden",
        type=int,
        nargs="*",
        default=[120],
        help="widths of the fully connected hidden layers (default 120)",
    )


def register(sub):
    from workbench.nn.runtime.command import add_resume_option, add_run_options

    parser = sub.add_parser("cnn", help="convolutional networks on Torch: train, summary")
    cnn = parser.add_subparsers(dest="cnn_command", required=True, metavar="CNN_COMMAND")

    p = cnn.add_parser("train", help="train a CNN on a named data set")
    p.add_argument("--data", required=True, help="digits, mnist5k or fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--epochs", type=int, default=TRAIN_DEFAULTS["epochs"], help="epochs")
    p.add_argument(
        "--batch-size",
        type=int,
        default=TRAIN_DEFAULTS["batch_size"],
        help="global batch, shared among processes",
    )
    p.add_argument("--lr", type=float, default=TRAIN_DEFAULTS["lr"], help="peak learning rate")
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs")
    p.add_argument(
        "--shift",
        type=int,
        default=None,
        help="random translations of up to SHIFT pixels (default: side // 14)",
    )
    p.add_argument("--validation-fraction", type=float, default=0.1,
                   help="share of the training images held out to select the epoch")  # fmt: skip
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes (torchrun)")
    p.add_argument("--sync-every", type=int, default=1,
                   help="with --nproc: average the processes every K steps, each stepping on "
                        "its share of the batch in between (local SGD; 1: all-reduce the "
                        "gradients every step, the same result as one process)")  # fmt: skip
    add_resume_option(p, "checkpoint.pt")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    add_run_options(p, out="workbench-cnn")
    add_tensorboard_option(p)
    _add_architecture_options(p)
    p.set_defaults(
        flag_names={
            "n_epochs": "--epochs",
            "learning_rate": "--lr",
            "random_state": "--seed",
            "X": "--data",
            "y": "--data",
            "checkpoint": "--resume",
        }  # fmt: skip
    )

    p = cnn.add_parser("summary", help="layer table: output shapes and parameter counts")
    p.add_argument("--input-shape", default="1x28x28", help="CxHxW or HxW (default 1x28x28)")
    p.add_argument("--classes", type=int, default=10, help="number of classes")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_architecture_options(p)
    return {"cnn": cmd_cnn}


def cmd_cnn(args):
    {"train": cmd_train, "summary": cmd_summary}[args.cnn_command](args)


def cmd_summary(args):
    from workbench.nn.cnn.architecture import format_summary, layer_table

    config = _architecture(args, _input_shape(args.input_shape), args.classes)
    if args.json:
        rows = [
            {
                "name": r.name,
                "kind": r.kind,
                "output_shape": list(r.output_shape),
                "params": r.params,
                "dense_params": r.dense_params,
            }
            for r in layer_table(config)
        ]
        from workbench.output import to_json

        print(to_json({"architecture": config.to_dict(), "layers": rows}), end="")
    else:
        print(format_summary(config))


LABELLED_DATASETS = ("digits", "mnist5k", "fashion-mnist")


def _load(args):
    from workbench.data import load_dataset

    if args.data not in LABELLED_DATASETS:
        raise ValueError(
            f"--data: the CNN needs a labelled image data set, one of "
            f"{', '.join(LABELLED_DATASETS)}; got {args.data!r}"
        )
    train = load_dataset(args.data, split="train", dtype="float32", data_dir=args.data_dir)
    test = load_dataset(args.data, split="test", dtype="float32", data_dir=args.data_dir)
    return train, test


def _check_args(args):
    for name in ("epochs", "batch_size", "nproc", "sync_every"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"--{name.replace('_', '-')}: expected a positive integer, "
                f"got {getattr(args, name)}"
            )
    if not args.lr > 0:
        raise ValueError(f"--lr: expected a positive learning rate, got {args.lr}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected a positive integer, got {args.threads}")


# `--resume`: option -> its place in the checkpoint (a typed value must match; the
# architecture options are compared as the architecture they build)
RESUME_OPTIONS = {"batch_size": "config.train.batch_size", "lr": "config.train.learning_rate",
                  "patience": "config.train.patience", "shift": "config.train.shift",
                  "seed": "config.train.seed", "validation_fraction": "config.data.n_val",
                  "architecture": "config.model"}  # fmt: skip


def cmd_train(args):
    from workbench.nn.runtime import resolve_device, set_process_threads
    from workbench.nn.runtime.command import run_ranks
    from workbench.nn.runtime.launch import scaling_limits

    _check_args(args)
    set_process_threads(args.threads)  # the thread policy: --threads, else cores per process
    resolve_device(args.device)  # a bad device fails here, not once per worker
    train, test = _load(args)
    n_classes = len(train.classes) if train.classes else int(train.y.max()) + 1
    config = _architecture(args, (1, *train.image_shape), n_classes)  # checks the arithmetic
    limits = scaling_limits(args.sync_every, args.nproc, args.batch_size,
                            lr_example="0.006 for Fashion-MNIST")  # fmt: skip
    return run_ranks(args, ("cnn", "train"), lambda a, device: _train_process(
        a, device, train, test, n_classes, config), **limits)  # fmt: skip


def _train_process(args, device, train, test, n_classes, config):
    import numpy as np

    from workbench.nn.cnn.estimator import CNNClassifier
    from workbench.nn.runtime import distributed_context
    from workbench.nn.runtime.command import finish_run, resume_checkpoint, verbose

    rank, world, _ = distributed_context()
    out = Path(args.out)
    typed = getattr(args, "typed_options", None)
    if typed is not None and typed & {"conv", "pool", "hidden"}:
        typed.add("architecture")  # the architecture options compare as what they build
    n_val = int(round(args.validation_fraction * len(train.X)))  # as the estimator splits
    given = {"architecture": config.to_dict(), "validation_fraction": n_val}
    resume = resume_checkpoint(args, out, "checkpoint.pt", "cnn", RESUME_OPTIONS, given=given)
    tick = time.perf_counter()
    clf = CNNClassifier(
        config,
        image_shape=train.image_shape,
        n_classes=n_classes,
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        shift=args.shift,
        patience=args.patience,
        sync_every=args.sync_every,
        validation_fraction=args.validation_fraction,
        device=device,
        random_state=args.seed,
        checkpoint=str(out / "checkpoint.pt"),
        resume=resume is not None,
        progress=rank == 0 and verbose(args),
    )
    clf.fit(train.X, train.y)
    if rank != 0:
        return None
    predicted = clf.predict(test.X)
    payload = {
        "data": args.data,
        "test_accuracy": float(np.mean(predicted == test.y)),
        "n_train": len(train.X),
        "n_test": len(test.X),
        "history": clf.history_,
        "best_epoch": clf.best_epoch_,
        "epochs_run": clf.n_iter_,
        "stopped_early": clf.stopped_early_,
        "checkpoint": clf.checkpoint_,
        "device": str(clf.device_),
        "world_size": world,
        "architecture": config.to_dict(),
        "seconds": round(time.perf_counter() - tick, 2),
    }
    figures = {} if args.no_figures else _figures(clf, test, predicted)
    return finish_run(args, out, payload, figures, lambda done: _table(done, clf, test))


def _table(payload, clf, test):
    import numpy as np

    lines = [f"{'epoch':>5} {'train loss':>11} {'val loss':>9} {'val acc':>8} {'s':>6}"]
    for h in clf.history_:
        lines.append(
            f"{h['epoch']:>5} {h['train_loss']:>11.4f} {h.get('val_loss', np.nan):>9.4f} "
            f"{h.get('val_accuracy', np.nan):>8.4f} {h['seconds']:>6.1f}"
        )
    lines.append(
        f"test accuracy ({payload['data']}, {len(test.X)} images): {payload['test_accuracy']:.4f}"
    )
    lines.append(f"checkpoint: {payload['checkpoint']}")
    if payload.get("files"):
        lines.append(f"figures: {', '.join(payload['files'].values())}")
    return "\n".join(lines)


def _figures(clf, test, predicted):
    from workbench.nn.cnn import plots

    return {
        "learning_curves": plots.plot_learning_curves(clf.history_),
        "confusion": plots.plot_confusion(test.y, predicted, test.classes),
        "filters": plots.plot_filters(clf.network_),
        "feature_maps": plots.plot_feature_maps(clf, test.X[0]),
    }
