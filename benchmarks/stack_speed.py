"""Throughput of a stack on Dask against a plain Python loop, in one run.

32 slices of 128x128 (noisy 30-view parallel-beam sinograms of training images), TV: a plain loop over
``Tomography.reconstruct`` in this process (the baseline), then ``invscat.stacks.run_stack`` on local clusters of
1, 2, ... workers, writing a zarr array as the CLI does. Each worker gets cores / workers torch threads, as
``invscat tomo STACK --workers N`` gives them; the loop gets all the cores. Reports slices per second, the speed-up
over the loop and the overhead of the machinery at 1 worker (time / loop time - 1, cluster start-up excluded and
shown apart). Loop and 1-worker runs alternate, best of --repeats.

    python benchmarks/stack_speed.py [--slices 32] [--size 128] [--workers 1 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from invscat import data
from invscat.stacks import SliceJob, StackOutput, dask_client, open_stack, run_stack
from invscat.stacks.cluster import local_cores
from invscat.tasks import Tomography


def sinograms(task: Tomography, slices: int, size: int) -> np.ndarray:
    images = data.training_set((size, size), slices)
    return np.stack([task.simulate(image, seed=k)[1] for k, image in enumerate(images)]).astype(np.float32)


def loop(task, stack) -> float:
    start = time.perf_counter()
    for sinogram in stack:
        task.reconstruct(sinogram, "tv")
    return time.perf_counter() - start


def on_cluster(client, threads, task, stack, folder: Path) -> float:
    output = StackOutput(folder / f"volume_{time.perf_counter_ns()}.zarr", len(stack), task.image_shape(stack.shape[1:]))
    start = time.perf_counter()
    report = run_stack(SliceJob(task, "tv", threads=threads), open_stack(stack), output, client)
    elapsed = time.perf_counter() - start
    assert not report.failed, report.failed
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=32)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    task = Tomography(30, size=args.size)
    stack = sinograms(task, args.slices, args.size)
    cores = local_cores()
    torch.set_num_threads(cores)
    print(f"{args.slices} slices of {args.size}x{args.size}, 30 views, TV; {cores} cores, torch "
          f"{torch.__version__}")
    print("| run | workers x torch threads | start-up (s) | time (s) | slices/s | vs loop |")
    print("|---|---|---|---|---|---|")
    loop(task, stack[:2])  # warm-up: operator and norm caches
    with tempfile.TemporaryDirectory() as folder:
        best_loop, results = np.inf, {}
        for workers in args.workers:
            start = time.perf_counter()
            with dask_client(workers) as (client, threads):
                startup = time.perf_counter() - start
                client.run(torch.set_num_threads, threads)
                best = np.inf
                for _ in range(args.repeats):
                    if workers == args.workers[0]:  # alternate with the loop, so both meet the same machine state
                        torch.set_num_threads(cores)
                        best_loop = min(best_loop, loop(task, stack))
                    best = min(best, on_cluster(client, threads, task, stack, Path(folder)))
            results[workers] = (threads, startup, best)
        print(f"| Python loop | 1 x {cores} | - | {best_loop:.1f} | {args.slices / best_loop:.2f} | 1.00x |")
        for workers, (threads, startup, best) in results.items():
            print(f"| Dask LocalCluster | {workers} x {threads} | {startup:.1f} | {best:.1f} | "
                  f"{args.slices / best:.2f} | {best_loop / best:.2f}x |")
        if 1 in results:
            print(f"overhead of the machinery at 1 worker: {100 * (results[1][2] / best_loop - 1):+.1f}% "
                  "(start-up excluded)")


if __name__ == "__main__":
    main()
