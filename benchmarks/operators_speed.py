"""invscat.operators.Radon against the same raw ASTRA calls, side by side in one run.

For a 256x256 image and 180 views (parallel beam, ASTRA's CPU 'linear' projector unless --projector), times
one forward projection + backprojection pair through invscat (torch tensors in and out) and through ASTRA
directly (create_sino / create_backprojection on numpy arrays, the way ASTRA's own examples call it, and
the faster reuse of linked data and algorithm objects), best of --repeat, then the batched throughput of
invscat in images per second.

    python benchmarks/operators_speed.py [--size 256] [--views 180] [--repeat 5] [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import astra  # noqa: E402

from invscat.operators import Radon  # noqa: E402


def best_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def raw_astra_pair(projector_id, image, sinogram):
    sino_id, _ = astra.create_sino(image, projector_id)
    bp_id, _ = astra.create_backprojection(sinogram, projector_id)
    astra.data2d.delete([sino_id, bp_id])


def raw_astra_reused(volume, projection, projector_id):
    """ASTRA's algorithm objects and linked buffers made once, then FP + BP run per call."""
    image = np.zeros((volume["GridRowCount"], volume["GridColCount"]), np.float32)
    sinogram = np.zeros((len(projection["ProjectionAngles"]), projection["DetectorCount"]), np.float32)
    vid, sid = astra.data2d.link("-vol", volume, image), astra.data2d.link("-sino", projection, sinogram)
    ids = []
    for name, key in (("FP", "VolumeDataId"), ("BP", "ReconstructionDataId")):
        cfg = astra.astra_dict(name)
        cfg.update(ProjectorId=projector_id, ProjectionDataId=sid, **{key: vid})
        ids.append(astra.algorithm.create(cfg))

    def run(x, y):
        np.copyto(image, x)
        astra.algorithm.run(ids[0])
        forward = sinogram.copy()
        np.copyto(sinogram, y)
        astra.algorithm.run(ids[1])
        return forward, image.copy()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--views", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--projector", default=None)
    args = parser.parse_args()
    n = args.size
    radon = Radon((n, n), args.views, projector=args.projector)
    volume, projection = radon.geometries()
    projector_id = astra.create_projector(radon.projector, projection, volume) if radon.projector != "cuda" else None
    rng = np.random.default_rng(0)
    image = rng.random((n, n), dtype=np.float32)
    sinogram = rng.random(radon.range_shape, dtype=np.float32)
    xt, yt = torch.from_numpy(image), torch.from_numpy(sinogram)

    ours = best_time(lambda: (radon(xt), radon.adjoint(yt)), args.repeat)
    reused = raw_astra_reused(volume, projection, projector_id)
    raw_reused = best_time(lambda: reused(image, sinogram), args.repeat)
    raw_simple = best_time(lambda: raw_astra_pair(projector_id, image, sinogram), args.repeat)
    xb = torch.rand(args.batch, n, n)
    batched = best_time(lambda: radon.adjoint(radon(xb)), max(1, args.repeat // 2))

    print(f"# Radon {n}x{n}, {args.views} views, projector '{radon.projector}', {radon.detectors} detectors; "
          f"best of {args.repeat}")
    print("| what | time per forward+adjoint pair | invscat / this |")
    print("| --- | ---: | ---: |")
    print(f"| invscat Radon (torch in/out) | {ours * 1e3:.1f} ms | 1.00x |")
    print(f"| raw ASTRA, create_sino + create_backprojection | {raw_simple * 1e3:.1f} ms | {ours / raw_simple:.2f}x |")
    print(f"| raw ASTRA, linked buffers + reused algorithms | {raw_reused * 1e3:.1f} ms | {ours / raw_reused:.2f}x |")
    print(f"| invscat batched ({args.batch} images) | {batched / args.batch * 1e3:.1f} ms per image | "
          f"{args.batch / batched:.1f} images/s |")


if __name__ == "__main__":
    main()
