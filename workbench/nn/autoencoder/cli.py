"""``workbench ae train``: autoencoders on the shared data sets from the command line.

    workbench ae train --data mnist5k --kind deep --layers 1000,500,250,30 --pretrain rbm \
        --epochs 60 --batch-size 100 --weight-decay 0.1 --json

Artefacts go under ``--out``: the checkpoint ``autoencoder.pt`` (``--resume`` continues it),
``metrics.json`` and the figures (reconstructions, code-space scatter, first-layer filters).
``--json`` prints ``train_reconstruction_error``, ``test_reconstruction_error`` (None without a
held-out split), the same for PCA with as many components as the code, ``history`` and
``checkpoint``. Reconstruction error: the mean over rows of the summed squared error per row,
pixels in [0, 1]. ``--nproc N`` trains data-parallel under torchrun.
"""

from pathlib import Path

from workbench.nn.runtime.command import (
    add_resume_option,
    add_run_options,
    finish_run,
    int_list,
    resume_checkpoint,
    verbose,
)

__all__ = ["register"]

# The estimator's argument names (in InputError) -> this CLI's flags; see workbench.cli.flag_for.
FLAG_NAMES = {"X": "--data", "X_val": "--data", "n_components": "--code",
              "hidden_layers": "--layers", "n_epochs": "--epochs", "learning_rate": "--lr",
              "pretrain_epochs": "--pretrain-epochs", "random_state": "--seed",
              "code_activation": "--code-activation", "weight_decay": "--weight-decay"}  # fmt: skip


# `--resume`: option -> its place in the checkpoint (a typed value must match; the loop checks
# the layer sizes)
RESUME_OPTIONS = {"kind": "config.model.kind", "pretrain": "config.model.pretrain",
                  "corruption": "config.model.corruption", "noise": "config.model.noise",
                  "sparsity": "config.model.sparsity", "contraction": "config.model.contraction",
                  "lr": "config.train.learning_rate", "batch_size": "config.train.batch_size",
                  "weight_decay": "config.train.weight_decay",
                  "seed": "config.train.seed"}  # fmt: skip


def register(sub):
    from workbench.nn.autoencoder import KINDS

    parser = sub.add_parser("ae", help="train autoencoders (Torch)")
    ae_sub = parser.add_subparsers(dest="ae_command", required=True, metavar="ACTION")
    p = ae_sub.add_parser("train", help="train an autoencoder on a data set")
    p.add_argument("--data", required=True, help="data set name or file (see workbench.data)")
    p.add_argument("--kind", choices=KINDS, default="sigmoid", help="which autoencoder")
    p.add_argument("--code", type=int, default=30, help="code units (default %(default)s)")
    p.add_argument("--layers", type=int_list, default=(),
                   help="encoder layers, e.g. 1000,500,250,30 (last: the code)")  # fmt: skip
    p.add_argument("--pretrain", choices=("none", "rbm"), default="none",
                   help="rbm: greedy RBM stack, unrolled, then fine-tuned")  # fmt: skip
    p.add_argument("--pretrain-epochs", type=int, default=30,
                   help="RBM epochs per layer (default %(default)s)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=20, help="(fine-)tuning epochs")
    p.add_argument("--batch-size", type=int, default=64, help="rows per update")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (AdamW)")
    p.add_argument("--code-activation", choices=("auto", "sigmoid", "linear"), default="auto",
                   help="code layer activation (auto: as the hidden layers)")  # fmt: skip
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--corruption", choices=("masking", "gaussian"), default="masking",
                   help="denoising corruption")  # fmt: skip
    p.add_argument("--noise", type=float, default=0.3, help="denoising corruption level")
    p.add_argument("--sparsity", type=float, default=1e-3, help="L1 weight on the code")
    p.add_argument("--contraction", type=float, default=0.1, help="Jacobian penalty weight")
    add_resume_option(p, "autoencoder.pt")
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes (torchrun)")
    add_run_options(p, out="workbench-ae")
    p.set_defaults(flag_names=FLAG_NAMES)
    return {"ae": run}


def run(args):
    from workbench.nn.runtime import set_process_threads
    from workbench.nn.runtime.command import run_ranks

    set_process_threads(args.threads)  # the thread policy: --threads, else cores per process
    return run_ranks(args, ("ae", "train"), _train_process)


def pca_error(X_train, X_eval, k):
    """Mean summed squared error per row of the k-component PCA of X_train on X_eval."""
    import numpy as np
    from sklearn.decomposition import PCA

    pca = PCA(min(k, *X_train.shape)).fit(X_train)
    return float(np.mean(np.sum((pca.inverse_transform(pca.transform(X_eval)) - X_eval) ** 2, 1)))


def _train_process(args, device):
    from workbench.nn.autoencoder.estimator import Autoencoder
    from workbench.nn.autoencoder.plots import (
        plot_code_scatter,
        plot_filters,
        plot_reconstructions,
    )
    from workbench.nn.runtime import distributed_context
    from workbench.nn.runtime.command import load_split

    train, test = load_split(args.data)
    layers = tuple(args.layers)
    hidden = layers[:-1] if layers and layers[-1] == args.code else layers
    out = Path(args.out)
    resume = resume_checkpoint(args, out, "autoencoder.pt", "autoencoder", RESUME_OPTIONS)
    ae = Autoencoder(
        args.code, kind=args.kind, hidden_layers=hidden, pretrain=args.pretrain,
        pretrain_epochs=args.pretrain_epochs, code_activation=args.code_activation,
        weight_decay=args.weight_decay, corruption=args.corruption, noise=args.noise,
        sparsity=args.sparsity, contraction=args.contraction, n_epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.lr, device=device,
        random_state=args.seed, checkpoint=str(out / "autoencoder.pt"),
        resume=resume is not None, verbose=verbose(args),
    )  # fmt: skip
    ae.fit(train.X, X_val=None if test is None else test.X)
    rank, world, _ = distributed_context()
    if rank != 0:
        return None
    shown = test if test is not None else train
    figures = {
        "reconstructions": plot_reconstructions(
            shown.X[:10], ae.reconstruct(shown.X[:10]), shown.image_shape
        ),  # fmt: skip
        "code_scatter": plot_code_scatter(ae.transform(shown.X), shown.y),
        "filters": plot_filters(
            ae.network_.encoder[0].weight.detach().cpu().numpy().T, shown.image_shape
        ),  # fmt: skip
    }
    payload = {
        "data": args.data,
        "settings": {"kind": args.kind, "code": args.code, "layers": list(hidden),
                     "pretrain": args.pretrain, "epochs": args.epochs, "lr": args.lr,
                     "code_activation": args.code_activation, "weight_decay": args.weight_decay,
                     "batch_size": args.batch_size, "seed": args.seed, "device": str(device),
                     "world_size": world},
        "train_reconstruction_error": ae.reconstruction_error(train.X),
        "test_reconstruction_error": None if test is None else ae.reconstruction_error(test.X),
        "pca_train_reconstruction_error": pca_error(train.X, train.X, args.code),
        "pca_test_reconstruction_error": None if test is None else pca_error(train.X, test.X,
                                                                             args.code),
        "history": ae.history_,
        "checkpoint": ae.checkpoint_,
    }  # fmt: skip
    return finish_run(args, out, payload, figures, _table)


def _table(payload):
    lines = [f"{payload['settings']['kind']} autoencoder on {payload['data']} "
             f"(code {payload['settings']['code']}); reconstruction error per row"]  # fmt: skip
    for part in ("train", "test"):
        ae = payload[f"{part}_reconstruction_error"]
        pca = payload[f"pca_{part}_reconstruction_error"]
        if ae is not None:
            lines.append(f"  {part:<6} autoencoder {ae:.4f}   PCA {pca:.4f}")
    lines.append(f"checkpoint: {payload['checkpoint']}")
    lines.extend(f"{k}: {v}" for k, v in payload.get("files", {}).items())
    return "\n".join(lines)
