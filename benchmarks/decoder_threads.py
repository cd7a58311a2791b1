"""Why a reward-path row can take longer with less work: the SAM2 encoder and decoder on a CPU
that other processes share, with 1 and with 2 torch threads.

The same work is timed again and again: one encoder run on one 1024 px image, and one batched
decode of G prompt sets on its embedding (the whole of row (d) "warm cache" in
reward_path.py), the SAM2.1 hiera-tiny architecture with random weights. Each repeat runs once
as the machine is, and once with ``--burners`` extra busy Python processes competing for the
cores (a controlled stand-in for the neighbours). Printed per run: wall clock, process CPU
time and (decoder) minor page faults. On a 2-core machine with two torch threads, an OpenMP
thread that finishes its half of an op spins, waiting for its partner; when the partner is
descheduled, both wall clock and CPU time grow. The decoder is hundreds of small ops, each a
parallel region, so it suffers most.

Run: ``python benchmarks/decoder_threads.py [--threads 1 2 --repeats 2 --burners 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np
import torch

from archs import build_sam2, footer
from reward_path import make_images, make_prompts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--burners", type=int, default=2, help="competing busy processes (0: none)")
    p.add_argument("--completions", type=int, default=8, help="G: prompt sets decoded")
    p.add_argument("--arch", default="hiera-tiny")
    return p.parse_args(argv)


def burn(stop: mp.synchronize.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def clock(fn) -> tuple[float, float, int]:
    """(wall s, process CPU s, minor page faults) of ``fn()``."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return time.perf_counter() - wall, time.process_time() - cpu, faults


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    image = make_images(1, 1024, rng)[0]
    sets = [make_prompts(1024, rng) for _ in range(args.completions)]
    seg = build_sam2(args.arch)
    embedding = seg.embed(image)
    seg.segment(embedding, sets)  # warm-up
    print("| threads | burners | encoder wall s | encoder CPU s | decoder wall s | decoder CPU s "
          "| decoder page faults | load |\n|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for threads in args.threads:
        torch.set_num_threads(threads)
        for _ in range(args.repeats):
            for burners in sorted({0, args.burners}):
                stop = mp.Event()
                procs = [mp.Process(target=burn, args=(stop,)) for _ in range(burners)]
                for proc in procs:
                    proc.start()
                time.sleep(0.5 if procs else 0)
                enc = clock(lambda: seg.embed(image))
                dec = clock(lambda: seg.segment(embedding, sets))
                stop.set()
                for proc in procs:
                    proc.join()
                print(f"| {threads} | {burners} | {enc[0]:.2f} | {enc[1]:.2f} | {dec[0]:.2f} | "
                      f"{dec[1]:.2f} | {dec[2]} | {os.getloadavg()[0]:.1f} |", flush=True)  # fmt: skip
    print("\n" + "\n".join(footer("gpu")))  # (no busy note: the table is about that)


if __name__ == "__main__":
    main()
