"""``workbench sbc MODEL``: simulation-based calibration of the workbench's Metropolis sampler
on a catalogue model, its replicates on Dask (``--workers``, ``--scheduler``)."""

from workbench.output import emit
from workbench.replicates import add_replicate_options, replicate_kwargs

__all__ = ["register"]


def register(sub):
    p = sub.add_parser("sbc", help="simulation-based calibration of Metropolis on a model")
    p.add_argument("model", help="catalogue model name (see `workbench models`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model setting, repeatable (e.g. --set heads=3)")  # fmt: skip
    p.add_argument("--data", default=None, help="data file fixing the design (size, covariates)")
    p.add_argument("--replicates", type=int, default=100, help="data sets drawn from the prior")
    p.add_argument("--draws", type=int, default=1000, help="Metropolis draws per chain")
    p.add_argument("--warmup", type=int, default=500, help="warm-up steps per chain")
    p.add_argument("--chains", type=int, default=2, help="Metropolis chains per replicate")
    p.add_argument("--thin", type=int, default=10, help="keep every THIN-th draw for the ranks")
    p.add_argument("--ci-prob", type=float, default=0.99,
                   help="chance that a correct sampler passes the whole check")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same result")
    p.add_argument("--out", default=None, help="folder for sbc.json")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_replicate_options(p)
    p.set_defaults(flag_names={"settings": "--set", "pairs": "--set", "data": "--data",
                               "name": "model", "model_name": "model"})  # fmt: skip
    return {"sbc": cmd_sbc}


def cmd_sbc(args):
    import models
    from workbench.cli import _inputs
    from workbench.diagnostics.calibration import sbc_model
    from workbench.output import write_json

    _, settings, data = _inputs(args)
    result = sbc_model(
        models.build(args.model, data=data, **settings),
        replicates=args.replicates,
        draws=args.draws,
        warmup=args.warmup,
        chains=args.chains,
        thin=args.thin,
        ci_prob=args.ci_prob,
        seed=args.seed,
        **replicate_kwargs(args),
    )
    payload = {"model": args.model, "settings": settings, **result.to_dict()}
    text = result.table()
    if args.out:
        payload["files"] = {"json": str(write_json(f"{args.out}/sbc.json", payload))}
        text += f"\nwrote: {payload['files']['json']}"
    emit(args, payload, text)
