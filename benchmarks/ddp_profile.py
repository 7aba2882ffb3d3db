"""Where the time of a data-parallel training step goes, for the CNN and the RBM at 1 and 2
processes: counts that do not depend on the machine's load, and CPU times that depend little.

    PYTHONPATH=. .venv/bin/python benchmarks/ddp_profile.py [--trainer cnn rbm] [--nproc 1 2]

Each configuration runs in fresh processes (torchrun, gloo, one thread each) and trains the real
code path under ``torch.profiler``: ``train_classifier`` for the course LeNet on Fashion-MNIST
rows, ``RBM.fit`` with 500 hidden units on mnist5k (PCD-1, chains = batch); ``--cnn-batch`` and
``--rbm-batch`` set the global batches. Printed per rank and step (after a warm-up run):

- all-reduces and broadcasts, and the bytes they carry: those the code calls from Python
  (counted by wrapping ``torch.distributed``), and those DDP issues from C++ (the profiler's
  ``c10d::`` events minus the Python ones; their bytes are the gradient and buffer sizes);
- ``.item()`` calls (``aten::_local_scalar_dense``; on a GPU each one waits for the device);
- CPU seconds of the main thread and of the whole process (the difference is the
  communication threads), and the wall seconds; the ratio ``1-process CPU / busiest rank's
  CPU`` predicts the speed-up on idle cores, where wall-clock ratios on a loaded machine do not;
- start-up: imports, joining the process group, loading the data.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TICK = time.perf_counter()
HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))


def _counting(dist, counts):
    """Wrap ``dist.all_reduce`` and ``dist.broadcast`` to count calls and bytes."""
    for name in ("all_reduce", "broadcast"):
        original = getattr(dist, name)

        def wrapper(tensor, *args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            counts[_name + "_bytes"] += tensor.numel() * tensor.element_size()
            return _original(tensor, *args, **kwargs)

        setattr(dist, name, wrapper)


def worker(trainer, steps, batch, out):
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.profiler import ProfilerActivity, profile

    from workbench.data import load_dataset
    from workbench.nn.runtime import distributed_context, init_distributed, under_torchrun

    startup = {"imports": time.perf_counter() - TICK}
    tick = time.perf_counter()
    if under_torchrun():
        init_distributed("cpu")
    startup["process_group"] = time.perf_counter() - tick
    torch.set_num_threads(1)
    rank, world, _ = distributed_context()
    counts = {"all_reduce": 0, "all_reduce_bytes": 0, "broadcast": 0, "broadcast_bytes": 0}
    _counting(dist, counts)
    tick = time.perf_counter()
    if trainer == "cnn":
        from workbench.nn import CNNConfig, TrainConfig, build_network, train_classifier

        data = load_dataset("fashion-mnist", split="train", dtype=np.float32)
        n = batch * steps
        X = torch.from_numpy(data.X[:n].reshape(-1, 1, 28, 28))
        y = torch.from_numpy(data.y[:n])
        startup["data"] = time.perf_counter() - tick
        torch.manual_seed(0)
        net = build_network(CNNConfig(), float(X.mean()), float(X.std()))
        grad_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
        buffer_bytes = sum(b.numel() * b.element_size() for b in net.buffers())
        cfg = TrainConfig(n_epochs=1, batch_size=batch, progress=False, patience=None)

        def train():
            train_classifier(net, (X, y), None, cfg, model_args={})
    else:
        from workbench.nn.rbm.model import RBM

        X = load_dataset("mnist5k", split="train", binarize=True, dtype=np.float32).X
        startup["data"] = time.perf_counter() - tick
        per_epoch = -(-len(X) // batch)  # 4,000 rows
        epochs = max(1, steps // per_epoch)
        steps = epochs * per_epoch
        rbm = RBM(500, method="pcd", k=1, learning_rate=0.05, n_epochs=epochs, batch_size=batch,
                  monitor=False, verbose=False, random_state=0, device="cpu")  # fmt: skip
        grad_bytes = buffer_bytes = 0  # no DDP: every collective is called from Python

        def train():
            rbm.fit(X)

    train()  # warm-up (allocator, kernels); not profiled
    counts.update(dict.fromkeys(counts, 0))  # in place: the wrappers hold this dict
    wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        train()
    timing = {"wall": time.perf_counter() - wall, "cpu_process": time.process_time() - cpu,
              "cpu_main": time.thread_time() - main}  # fmt: skip
    events = {e.key: e for e in prof.key_averages()}

    def calls(key):
        return events[key].count if key in events else 0

    def self_seconds(prefix):
        return sum(e.self_cpu_time_total for k, e in events.items() if k.startswith(prefix)) / 1e6

    internal_reduce = calls("c10d::allreduce_") - counts["all_reduce"]
    internal_bcast = calls("c10d::broadcast_") - counts["broadcast"]
    report = {
        "trainer": trainer, "rank": rank, "world": world, "steps": steps,
        "python_all_reduce": counts["all_reduce"], "python_all_reduce_bytes": counts[
            "all_reduce_bytes"], "python_broadcast": counts["broadcast"],
        "ddp_all_reduce": internal_reduce, "ddp_all_reduce_bytes": internal_reduce * grad_bytes,
        "ddp_broadcast": internal_bcast, "ddp_broadcast_bytes": internal_bcast * buffer_bytes,
        "item": calls("aten::_local_scalar_dense"),
        "gflop": sum(e.flops for e in events.values()) / 1e9,
        "collective_wall": self_seconds("c10d::"),
        "startup": startup, **timing,
    }  # fmt: skip
    with open(os.path.join(out, f"{trainer}-{world}-{rank}.json"), "w") as f:
        json.dump(report, f)
    if under_torchrun():
        dist.destroy_process_group()


def run(trainer, nproc, steps, batch, out):
    script = [HERE, "--worker", trainer, "--steps", str(steps), "--batch", str(batch), "--out",
              out]  # fmt: skip
    if nproc == 1:
        command = [sys.executable, *script]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc-per-node={nproc}", *script]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.environ.get("PYTHONPATH", ROOT)}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    ranks = []
    for rank in range(nproc):
        with open(os.path.join(out, f"{trainer}-{nproc}-{rank}.json")) as f:
            ranks.append(json.load(f))
    return ranks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainer", nargs="+", default=["cnn", "rbm"], choices=("cnn", "rbm"))
    parser.add_argument("--nproc", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--steps", type=int, default=160, help="training steps profiled")
    parser.add_argument("--cnn-batch", type=int, default=64, help="global batch of the CNN")
    parser.add_argument("--rbm-batch", type=int, default=50, help="global batch of the RBM")
    parser.add_argument("--batch", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.steps, args.batch, args.out)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; one thread/process; "
          f"CNN batch {args.cnn_batch}, RBM batch {args.rbm_batch}")  # fmt: skip
    head = (f"{'trainer':<8}{'proc':>5}{'rank':>5}{'AR/step':>8}{'AR kB/step':>11}"
            f"{'bcast/step':>11}{'item/step':>10}{'MFLOP/step':>11}{'CPU ms/step':>12}"
            f"{'main ms':>8}{'wall ms':>8}{'coll ms':>8}{'start s':>8}")  # fmt: skip
    print(head)
    with tempfile.TemporaryDirectory() as out:
        for trainer in args.trainer:
            cpu_one = None
            for nproc in args.nproc:
                batch = args.cnn_batch if trainer == "cnn" else args.rbm_batch
                ranks = run(trainer, nproc, args.steps, batch, out)
                for r in ranks:
                    s = r["steps"]
                    n_ar = r["python_all_reduce"] + r["ddp_all_reduce"]
                    kb = (r["python_all_reduce_bytes"] + r["ddp_all_reduce_bytes"]) / 1e3
                    bcast = r["python_broadcast"] + r["ddp_broadcast"]
                    print(f"{trainer:<8}{nproc:>5}{r['rank']:>5}{n_ar / s:>8.2f}{kb / s:>11.1f}"
                          f"{bcast / s:>11.2f}{r['item'] / s:>10.2f}{1e3 * r['gflop'] / s:>11.1f}"
                          f"{1e3 * r['cpu_process'] / s:>12.2f}{1e3 * r['cpu_main'] / s:>8.2f}"
                          f"{1e3 * r['wall'] / s:>8.2f}{1e3 * r['collective_wall'] / s:>8.2f}"
                          f"{sum(r['startup'].values()):>8.2f}")  # fmt: skip
                busiest = max(r["cpu_process"] for r in ranks)
                cpu_one = busiest if nproc == 1 else cpu_one
                startup = ", ".join(f"{k} {v:.2f} s" for k, v in ranks[0]["startup"].items())
                print(f"  start-up of rank 0: {startup}")
                if cpu_one and nproc > 1:
                    print(f"  CPU-time speed-up 1 -> {nproc} processes: {cpu_one / busiest:.2f}x")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
