"""invscat.Scattering2D against Kymatio 0.3's torch backend, measured side by side in one run.

Prints, for each configuration: filter-bank construction time, forward and forward+backward time (best of
--repeat runs, the two implementations taking turns) and peak memory of one forward+backward (CPU: resident
set growth, measured in a fresh process; CUDA: torch's peak allocation), with the ratio Kymatio / invscat
(> 1 means invscat is faster), and the largest coefficient difference between the two.

    python benchmarks/scattering_speed.py [--device cpu|cuda] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

IMPLEMENTATIONS = ("invscat", "kymatio")
CONFIGS = [  # (side, J, L, batch)
    (256, 4, 8, 8),
    (64, 3, 8, 64),
    # Kymatio 0.3's own benchmark cases (benchmarks/torch_benchmark/scattering2d.py there): batches of 32 (4 for
    # J=6) images of 3 channels
    (32, 2, 8, 96),  # MNIST-like
    (224, 3, 8, 96),  # ImageNet-like
    (64, 6, 2, 12),  # many scales, few orientations
]


def build(impl: str, side: int, J: int, L: int, device: str):
    if impl == "invscat":
        from invscat import Scattering2D
        return Scattering2D(J, (side, side), L).to(device)
    # Kymatio's package __init__ imports its 3D code, which fails on SciPy >= 1.17; the 2D frontend works.
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
    return ScatteringTorch2D(J=J, shape=(side, side), L=L).to(device)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def best_times(fns, device, repeat):
    """Best of ``repeat`` runs of each function, the functions taking turns so that they share the machine's
    slow and fast moments alike."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
        sync(device)
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def forward_backward(module, x):
    x = x.clone().requires_grad_()
    module(x).sum().backward()


def peak_memory_mib(impl, side, J, L, batch, device):
    if device == "cuda":
        module = build(impl, side, J, L, device)
        x = torch.rand(batch, side, side, device=device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        forward_backward(module, x)
        return torch.cuda.max_memory_allocated() / 2**20
    # CPU: growth of the resident set of a fresh process (this script, --peak-memory) during one pass.
    result = subprocess.run([sys.executable, __file__, "--peak-memory", f"{impl},{side},{J},{L},{batch}"],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _report_peak_memory(spec):
    impl, side, J, L, batch = spec.split(",")
    module = build(impl, int(side), int(J), int(L), "cpu")
    x = torch.rand(int(batch), int(side), int(side))
    base = _status_kib("VmRSS")
    forward_backward(module, x)
    print((_status_kib("VmHWM") - base) / 1024)


def _status_kib(field):
    # Linux: VmHWM is the process's peak resident set (ru_maxrss would carry the parent's peak over exec).
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def measure(side, J, L, batch, device, repeat):
    torch.manual_seed(0)
    x = torch.rand(batch, side, side, device=device)
    row = {"config": f"{side}x{side} J={J}{'' if L == 8 else f' L={L}'} batch {batch}"}
    modules = {}
    for impl in IMPLEMENTATIONS:
        start = time.perf_counter()
        modules[impl] = build(impl, side, J, L, device)
        row[f"{impl}_build"] = time.perf_counter() - start

    def forward(module):
        with torch.no_grad():
            module(x)

    for what, fn in (("forward", forward), ("fwd_bwd", lambda module: forward_backward(module, x))):
        best = best_times({impl: lambda m=modules[impl], f=fn: f(m) for impl in IMPLEMENTATIONS}, device, repeat)
        row.update({f"{impl}_{what}": seconds for impl, seconds in best.items()})
    for impl in IMPLEMENTATIONS:
        row[f"{impl}_peak_mib"] = peak_memory_mib(impl, side, J, L, batch, device)
    with torch.no_grad():
        row["max_abs_diff"] = (modules["invscat"](x) - modules["kymatio"](x)).abs().max().item()
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak-memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory:
        return _report_peak_memory(args.peak_memory)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("benchmarks/scattering_speed.py: --device cuda asked for, but torch sees no CUDA device.")
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# Scattering2D: invscat vs Kymatio 0.3 (torch), {name}, torch {torch.__version__}")
    print("| configuration | what | invscat | Kymatio | Kymatio / invscat |")
    print("| --- | --- | ---: | ---: | ---: |")
    rows = []
    for side, J, L, batch in CONFIGS:
        row = measure(side, J, L, batch, args.device, args.repeat)
        rows.append(row)
        for what, key, unit in (("build", "build", "s"), ("forward", "forward", "s"),
                                ("forward+backward", "fwd_bwd", "s"), ("peak memory", "peak_mib", "MiB")):
            ours, theirs = row[f"invscat_{key}"], row[f"kymatio_{key}"]
            fmt = "{:.3f} s" if unit == "s" else "{:.0f} MiB"
            print(f"| {row['config']} | {what} | {fmt.format(ours)} | {fmt.format(theirs)} | "
                  f"{theirs / max(ours, 1e-9):.2f}x |")
        print(f"| {row['config']} | max abs coefficient difference | {row['max_abs_diff']:.1e} | | |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
