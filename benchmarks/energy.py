"""Energy-model benchmarks: workbench.energy (PyTensor) against plain NumPy, in one run.

1. Free energy + its gradient (W, visible bias, hidden bias) of a 784 x 500 Bernoulli RBM on a
   batch of 100, warm, per compile mode; cold start (graph build + first call, fresh PyTensor
   cache) in a separate process per mode.
2. Exact log Z of a 784 x 20 RBM: 2^20 hidden states, each with a softplus over 784 visible
   units, against the same chunked sum in NumPy; AIS on the same model for comparison.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/energy.py [--modes py CVM NUMBA]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPE, BATCH = (784, 500), 100


def problem(seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 0.01, SHAPE)
    a, b = rng.normal(0.0, 0.1, SHAPE[0]), rng.normal(0.0, 0.1, SHAPE[1])
    V = (rng.random((BATCH, SHAPE[0])) < 0.3).astype(float)
    return W, a, b, V


def numpy_free_energy_grad(V, W, a, b):
    field = V @ W + b
    p = 1.0 / (1.0 + np.exp(-field))
    F = -(V @ a) - np.logaddexp(0.0, field).sum(axis=1)
    return F.mean(), -(V.T @ p) / len(V), -V.mean(axis=0), -p.mean(axis=0)


def best_time(fn, repeat=7, number=30):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def worker(mode):
    """One mode in this process: cold build + first call, then warm timings vs NumPy."""
    start = time.perf_counter()
    from workbench.energy import RBM, set_compile_mode

    set_compile_mode(mode)
    W, a, b, V = problem()
    rbm = RBM(W, a, b)
    imported = time.perf_counter()
    rbm.free_energy_gradient(V)
    cold = time.perf_counter() - imported
    mean_f, grad = rbm.free_energy_gradient(V)
    ref = numpy_free_energy_grad(V, W, a, b)
    assert np.allclose(mean_f, ref[0]) and np.allclose(grad["W"], ref[1])
    fn = rbm._fn("free_energy_grad")
    args = (V, *rbm._params)
    warm_pt, warm_np = [], []
    for _ in range(3):  # interleaved, so that load changes hit both
        warm_pt.append(best_time(lambda: fn(*args)))
        warm_np.append(best_time(lambda: numpy_free_energy_grad(V, W, a, b)))
    return {
        "mode": mode,
        "import_s": imported - start,
        "cold_s": cold,
        "warm_ms": 1e3 * min(warm_pt),
        "numpy_ms": 1e3 * min(warm_np),
    }


def free_energy_table(modes):
    print(f"free energy + gradient, {SHAPE[0]} x {SHAPE[1]} RBM, batch {BATCH}")
    print(f"{'mode':<14}{'cold s':>9}{'warm ms':>10}{'numpy ms':>10}{'ratio':>8}", flush=True)
    rows = []
    for mode in modes:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache}"}
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        ratio = r["warm_ms"] / r["numpy_ms"]
        print(
            f"{r['mode']:<14}{r['cold_s']:>9.2f}{r['warm_ms']:>10.2f}{r['numpy_ms']:>10.2f}"
            f"{ratio:>8.2f}",
            flush=True,
        )
    return rows


def numpy_exact_log_z(W, a, b, chunk=2**12):
    """Chunked logsumexp over all hidden states in NumPy (the peer of log_partition)."""
    from workbench.energy import binary_states

    n = W.shape[1]
    parts = []
    for start in range(0, 2**n, chunk):
        H = binary_states(n, start, min(chunk, 2**n - start))
        log_w = H @ b + np.logaddexp(0.0, H @ W.T + a).sum(axis=1)
        parts.append(np.logaddexp.reduce(log_w))
    return float(np.logaddexp.reduce(parts))


def log_z_table(n_hidden=20, ais_betas=1000):
    from workbench.energy import RBM

    rng = np.random.default_rng(1)
    W = rng.normal(0.0, 0.05, (784, n_hidden))
    a, b = rng.normal(-1.0, 0.5, 784), rng.normal(0.0, 0.5, n_hidden)
    rbm = RBM(W, a, b)
    start = time.perf_counter()
    exact = rbm.log_partition().value
    t_pt = time.perf_counter() - start
    start = time.perf_counter()
    ref = numpy_exact_log_z(W, a, b)
    t_np = time.perf_counter() - start
    start = time.perf_counter()
    ais = rbm.log_partition("ais", n_runs=100, n_betas=ais_betas, seed=1)
    t_ais = time.perf_counter() - start
    print(f"\nexact log Z, 784 x {n_hidden} RBM (2^{n_hidden} hidden states)")
    print(f"workbench  {t_pt:8.2f} s   log Z = {exact:.6f}")
    print(f"numpy      {t_np:8.2f} s   log Z = {ref:.6f}   ratio {t_pt / t_np:.2f}")
    print(
        f"AIS        {t_ais:8.2f} s   log Z = {ais.value:.6f} +- {ais.se:.6f} "
        f"({ais_betas} betas x 100 runs; error {ais.value - exact:+.6f})"
    )
    return {"exact_s": t_pt, "numpy_s": t_np, "ais_s": t_ais}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["py", "FAST_COMPILE", "CVM", "NUMBA"])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip-log-z", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    free_energy_table(args.modes)
    if not args.skip_log_z:
        log_z_table()


if __name__ == "__main__":
    main()
