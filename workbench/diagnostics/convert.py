"""Turn draws from anywhere into one ArviZ DataTree, checked at the door.

Accepted: an ``xarray.DataTree`` (PyMC, nutpie, the workbench samplers), a path to a NetCDF
(``.nc``) or Zarr (``.zarr``) DataTree, a ``.npy`` array shaped (chains, draws, ...), a ``.npz``
archive with one such array per variable, CmdStan ``.csv`` output (a list of paths, one file per
chain; see :mod:`workbench.diagnostics.cmdstan`), a NumPy array, a dict of arrays, or a torch
tensor (anything with ``detach().cpu().numpy()``).
"""

from pathlib import Path

import numpy as np
import xarray as xr

from workbench.data.files import read_numpy, real_array

__all__ = ["MIN_DRAWS", "load_draws", "to_datatree"]

MIN_DRAWS = 10  # below this, split R-hat and ESS have too few draws per half-chain to mean much
SUFFIXES = (".nc", ".zarr", ".npy", ".npz", ".csv")
SHAPE_HINT = "an array shaped (chains, draws) or (chains, draws, *variable_shape)"


def _as_numpy(name, value):
    """NumPy float array of ``value`` (torch tensors are detached and moved to the CPU)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, xr.DataArray):
        value = value.values
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        arr = np.asarray(None)
    if arr.dtype.kind == "c":  # refused, not cut to the real part
        return real_array(name, arr, "the array", finite=False)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers ({SHAPE_HINT}), got {type(value).__name__}")
    return arr.astype(float)


def _check_array(name, arr, allow_single_chain):
    if arr.ndim < 2:
        raise ValueError(
            f"{name}: expected {SHAPE_HINT}, got an array of rank {arr.ndim} with shape "
            f"{arr.shape}; a single chain is shaped (1, draws)"
        )
    chains, draws = arr.shape[:2]
    _check_sizes(name, chains, draws, allow_single_chain)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: draws must be finite, got {int(bad.sum())} NaN/inf value(s), the first at "
            f"(chain, draw, ...) = {where}; a sampler that produced NaN has failed: fix it "
            "(or drop those chains) before diagnosing"
        )


def _check_sizes(name, chains, draws, allow_single_chain):
    if chains < 1 or draws < 1:
        raise ValueError(f"{name}: no draws (chains={chains}, draws={draws})")
    if chains == 1 and not allow_single_chain:
        raise ValueError(
            f"{name}: got a single chain. R-hat compares chains started at different points: "
            "with one chain it cannot tell a chain that has mixed from one that is stuck in one "
            "region, so convergence cannot be judged. Run several chains (4 is usual), or pass "
            "allow_single_chain=True (CLI: --allow-single-chain) to still get bulk/tail ESS "
            "and MCSE (R-hat then is reported as null)"
        )
    if draws < MIN_DRAWS:
        raise ValueError(
            f"{name}: too few draws: got {draws} per chain, need at least {MIN_DRAWS} for split "
            "R-hat and ESS (each half-chain needs several draws); run the sampler longer"
        )


def _dataset_from_arrays(arrays, allow_single_chain):
    if not arrays:
        raise ValueError("data: no variables to diagnose")
    checked, shape = {}, None
    for name, value in arrays.items():
        arr = _as_numpy(f"data[{name!r}]", value)
        _check_array(f"data[{name!r}]", arr, allow_single_chain)
        if shape is not None and arr.shape[:2] != shape:
            raise ValueError(
                f"data[{name!r}]: every variable needs the same (chains, draws); got "
                f"{arr.shape[:2]}, others have {shape}"
            )
        shape = arr.shape[:2]
        dims = ["chain", "draw"] + [f"{name}_dim_{i}" for i in range(arr.ndim - 2)]
        checked[name] = (dims, arr)
    chains, draws = shape
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    return xr.Dataset(checked, coords=coords)


def to_datatree(data, *, group="posterior", allow_single_chain=False):
    """A validated DataTree with draws in ``group`` (and ``sample_stats`` when given).

    Parameters
    ----------
    data : DataTree, str or Path, list of paths, ndarray, dict of ndarray, or torch tensor
        Arrays are shaped (chains, draws, *variable_shape); a bare array becomes variable
        ``x``. Paths may end in .nc, .zarr, .npy, .npz or .csv (CmdStan; a list of paths gives
        one chain per file).
    group : str, default "posterior"
        Group of a DataTree that holds the draws.
    allow_single_chain : bool, default False
        Accept one chain (R-hat is then not computed; ESS and MCSE still are).

    Raises
    ------
    ValueError
        Wrong rank, one chain (unless allowed), fewer than ``MIN_DRAWS`` draws, NaN/inf,
        a missing group, or an unreadable file.
    """
    if _is_paths(data):
        paths = [data] if isinstance(data, str | Path) else list(data)
        if len(paths) > 1 and any(Path(p).suffix.lower() != ".csv" for p in paths):
            raise ValueError(
                "path: several files are read as CmdStan CSV output, one per chain; got "
                + ", ".join(Path(p).name for p in paths)
            )
        source = paths[0] if len(paths) == 1 else paths
        try:
            return to_datatree(
                load_draws(source), group=group, allow_single_chain=allow_single_chain
            )
        except ValueError as err:
            if str(err).startswith("path:"):
                raise
            raise ValueError(f"{', '.join(map(str, paths))}: {err}") from None
    if isinstance(data, xr.DataTree):
        return _check_tree(data, group, allow_single_chain)
    if isinstance(data, dict):
        posterior = _dataset_from_arrays(data, allow_single_chain)
    elif isinstance(data, np.ndarray | list | tuple) or hasattr(data, "detach"):
        posterior = _dataset_from_arrays({"x": data}, allow_single_chain)
    else:
        raise TypeError(
            "data: expected a DataTree, a path (.nc, .zarr, .npy, .npz), an array, a dict of "
            f"arrays or a torch tensor, got {type(data).__name__}"
        )
    return xr.DataTree.from_dict({group: posterior})


def _check_tree(tree, group, allow_single_chain):
    if group not in tree.children:
        have = ", ".join(tree.children) or "none"
        raise ValueError(f"data: no {group!r} group in the DataTree (groups: {have})")
    posterior = tree[group].to_dataset()
    missing = {"chain", "draw"} - set(posterior.dims)
    if missing or not posterior.data_vars:
        raise ValueError(
            f"data: group {group!r} must hold variables with 'chain' and 'draw' dimensions, "
            f"got dims {sorted(map(str, posterior.dims))} and {len(posterior.data_vars)} variables"
        )
    _check_sizes(f"data[{group!r}]", posterior.sizes["chain"], posterior.sizes["draw"], True)
    for name, da in posterior.data_vars.items():
        if da.dtype.kind == "c":
            real_array(f"data[{name!r}]", da.values, "the variable", finite=False)
        if da.dtype.kind not in "biuf":
            continue
        arr = da.transpose("chain", "draw", ...).values
        _check_array(f"data[{name!r}]", arr, allow_single_chain)
    return tree


def _is_paths(data):
    """A path, or a non-empty list or tuple of paths (not of numbers)."""
    if isinstance(data, str | Path):
        return True
    return (
        isinstance(data, list | tuple)
        and bool(data)
        and all(isinstance(p, str | Path) for p in data)
    )


def load_draws(path):
    """Read draws from ``path``: a DataTree (.nc, .zarr), an array (.npy), arrays (.npz), or
    CmdStan CSV output (.csv; a list of paths, one per chain)."""
    from workbench.diagnostics.cmdstan import cmdstan_tree

    paths = [Path(p) for p in path] if isinstance(path, list | tuple) else [Path(path)]
    for p in paths:
        if p.suffix.lower() not in SUFFIXES:
            expected = ", ".join(SUFFIXES)
            raise ValueError(f"path: expected a file ending in {expected}, got {p.name!r}")
        if not p.exists():
            raise ValueError(f"path: no such file: {p}")
    if paths[0].suffix.lower() == ".csv":
        return cmdstan_tree(paths)
    path = paths[0]
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        arrays = read_numpy(path, "path")
        return {"x": arrays} if suffix == ".npy" else arrays
    try:
        engine = "h5netcdf" if suffix == ".nc" else "zarr"
        return xr.open_datatree(path, engine=engine).load()
    except (OSError, ValueError, TypeError, KeyError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"path: cannot read {path} as a DataTree: {reason}") from None
