"""CmdStan CSV output (one file per chain) as an ArviZ DataTree.

Comment lines (``#``) are skipped, except the configuration header, from which ``num_warmup``,
``save_warmup`` and ``thin`` are read: with ``save_warmup=1`` the first
``ceil(num_warmup / thin)`` draws are warm-up and are dropped. Sampler columns (ending in
``__``) go to ``sample_stats`` under ArviZ's names (``divergent__`` -> ``diverging``,
``energy__`` -> ``energy``, ``accept_stat__`` -> ``acceptance_rate``, ``treedepth__`` ->
``tree_depth``, ...); the others to ``posterior``, where columns ``theta.1.1``, ``theta.2.1``,
... (Stan's 1-based indices) make one variable ``theta`` with 0-based coordinates, as in ArviZ.

>>> tree = cmdstan_tree(["output_1.csv", "output_2.csv"])
"""

import io
import math
import re
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["SAMPLER_COLUMNS", "cmdstan_tree", "read_cmdstan_csv"]

SAMPLER_COLUMNS = {
    "lp__": "lp",
    "accept_stat__": "acceptance_rate",
    "stepsize__": "step_size",
    "treedepth__": "tree_depth",
    "n_leapfrog__": "n_steps",
    "divergent__": "diverging",
    "energy__": "energy",
}
_CONFIG = re.compile(r"^#\s*(num_warmup|save_warmup|thin)\s*=\s*(\w+)")
_INDEXED = re.compile(r"^(?P<name>[A-Za-z]\w*?)(?P<index>(?:\.\d+)+)$")


def read_cmdstan_csv(path):
    """``(columns, draws)`` of one CmdStan CSV file: column names and the post-warm-up draws
    as an array (draws, columns)."""
    path = Path(path)
    config, header, rows = {}, None, []
    try:
        with path.open() as handle:
            for line in handle:
                if line.startswith("#"):
                    match = _CONFIG.match(line)
                    if match and header is None:
                        config.setdefault(match[1], match[2].lower())
                elif line.strip():
                    if header is None:
                        header = [c.strip() for c in line.split(",")]
                    else:
                        rows.append(line)
        if header is None:
            raise ValueError("no header line")
        if not rows:
            raise ValueError("a header but no draws")
        draws = np.loadtxt(io.StringIO("".join(rows)), delimiter=",", ndmin=2)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"path: cannot read {path} as CmdStan CSV output: {reason}") from None
    if draws.shape[1] != len(header):
        raise ValueError(
            f"path: {path}: {draws.shape[1]} values per row but {len(header)} column names"
        )
    if config.get("save_warmup") in ("1", "true"):
        thin = int(config.get("thin", 1))
        draws = draws[math.ceil(int(config.get("num_warmup", 1000)) / thin) :]
    if not len(draws):
        raise ValueError(f"path: {path} holds warm-up draws only (save_warmup=1, no sampling rows)")
    return header, draws


def _split_column(column):
    """``("theta", (0, 1))`` for ``theta.1.2``; ``(column, ())`` otherwise."""
    match = _INDEXED.match(column)
    if not match:
        return column, ()
    return match["name"], tuple(int(i) - 1 for i in match["index"][1:].split("."))


def cmdstan_tree(paths):
    """DataTree with ``posterior`` and ``sample_stats`` from CmdStan CSV files, one per chain
    (in the order given)."""
    chains = [read_cmdstan_csv(p) for p in paths]
    columns, first = chains[0]
    for path, (other, draws) in zip(paths[1:], chains[1:], strict=True):
        if other != columns:
            raise ValueError(
                f"path: {path} has other columns than {paths[0]}: the files must be chains of "
                "one model"
            )
        if draws.shape[0] != first.shape[0]:
            raise ValueError(
                f"path: {path} has {draws.shape[0]} draws after warm-up, {paths[0]} has "
                f"{first.shape[0]}: every chain needs the same number of draws"
            )
    values = np.stack([draws for _, draws in chains])  # (chains, draws, columns)
    n_chains, n_draws = values.shape[:2]
    coords = {"chain": np.arange(n_chains), "draw": np.arange(n_draws)}
    posterior, stats, groups = {}, {}, {}
    for j, column in enumerate(columns):
        if column in SAMPLER_COLUMNS:
            stats[SAMPLER_COLUMNS[column]] = (("chain", "draw"), values[..., j])
        elif column.endswith("__"):
            stats[column.rstrip("_")] = (("chain", "draw"), values[..., j])
        else:
            name, index = _split_column(column)
            groups.setdefault(name, []).append((index, j))
    for name, entries in groups.items():
        if len({len(index) for index, _ in entries}) > 1:  # mixed forms: keep the columns
            for _, j in entries:
                posterior[columns[j]] = (("chain", "draw"), values[..., j])
            continue
        shape = tuple(max(i[d] for i, _ in entries) + 1 for d in range(len(entries[0][0])))
        array = np.full((n_chains, n_draws, *shape), np.nan)
        for index, j in entries:
            array[(slice(None), slice(None), *index)] = values[..., j]
        dims = ("chain", "draw", *(f"{name}_dim_{d}" for d in range(len(shape))))
        posterior[name] = (dims, array)
    if "diverging" in stats:
        stats["diverging"] = (("chain", "draw"), stats["diverging"][1].astype(bool))
    groups = {"posterior": xr.Dataset(posterior, coords=coords)}
    if stats:
        groups["sample_stats"] = xr.Dataset(stats, coords=coords)
    return xr.DataTree.from_dict(groups)
