"""asv benchmarks for resnet-claims (numpy/scipy conventions; see docs/performance.md).

Modules:
  bench_ensemble  dense batched ensemble forward / forward+backward throughput, the machine's
                  fp32 GEMM rate measured in the same run, and their ratio
  bench_sampling  exact conditional-Gaussian init sampler against dense weights, same statistics
  bench_claims    every registered claim at the smoke budget: wall time, fitted estimate, CI width
  bench_training  the training engine per route (lazy, dense, res3, contract, optimizer) on one chunk
                  of a default-budget cell

Environment variables read at import (they only select or size work, never change a result):
  RESNET_CLAIMS_BENCH_SUBSET=quick   smallest parameter of every grid (what .ci/asv-quick runs)
  RESNET_CLAIMS_BENCH_CLAIMS=GLOB[,GLOB...]   claims benchmarked by bench_claims (default: all)
  RESNET_CLAIMS_BENCH_THREADS=N      torch.set_num_threads(N) in every benchmark process

This file holds only helpers (no name starts with an asv prefix such as time_ or track_).
"""
from __future__ import annotations

import os
import time
from typing import Callable, Sequence, TypeVar

import torch

T = TypeVar("T")

QUICK = os.environ.get("RESNET_CLAIMS_BENCH_SUBSET", "").strip().lower() == "quick"

_threads = os.environ.get("RESNET_CLAIMS_BENCH_THREADS", "").strip()
if _threads:
    torch.set_num_threads(int(_threads))


def subset(values: Sequence[T], quick: Sequence[T] | None = None) -> list[T]:
    """A parameter list: all of ``values``, or in quick mode ``quick`` (default: the first value).

    The scipy ``LimitedParamBenchmark`` idea without the randomness: a quick run covers every
    benchmark method once at its cheapest parameters, so broken code fails fast.
    """
    if not QUICK:
        return list(values)
    return list(quick) if quick is not None else [values[0]]


def best_seconds(fn: Callable[[], object], min_repeats: int = 3, max_seconds: float = 2.0) -> float:
    """Best-of-k wall time of ``fn()`` after one warm-up call (k >= min_repeats, within max_seconds).

    ``track_`` benchmarks use this to turn a time into a rate; the minimum is the estimate least
    affected by other load on the machine (the same choice as timeit and asv's own samples).
    """
    fn()  # warm-up: allocator, MKL/oneDNN kernel selection, lazy imports
    best = float("inf")
    start = time.perf_counter()
    k = 0
    while k < min_repeats or (time.perf_counter() - start < max_seconds and k < 50):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        k += 1
        if k >= min_repeats and time.perf_counter() - start > max_seconds:
            break
    return best


def best_seconds_interleaved(fns: dict[str, Callable[[], object]], max_seconds: float = 2.0,
                             min_rounds: int = 3) -> dict[str, float]:
    """Best wall time of each callable, calling them in turn (a, b, a, b, ...) until max_seconds.

    For ratios of two rates (ensemble / GEMM) on a shared machine: alternating the two means a
    burst of load from elsewhere hits both, so the ratio of the minima is steadier than two
    separate best-of runs taken seconds apart.
    """
    for fn in fns.values():
        fn()
    best = {k: float("inf") for k in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() - start < max_seconds and rounds < 200):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
        rounds += 1
    return best


def gemm_operands(n: int, dtype: torch.dtype = torch.float32) -> Callable[[], object]:
    """A zero-argument callable doing one square (n x n) @ (n x n) product into a preallocated out."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen, dtype=dtype)
    b = torch.randn(n, n, generator=gen, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    return lambda: torch.mm(a, b, out=out)


def gemm_gflops(n: int, dtype: torch.dtype = torch.float32, max_seconds: float = 1.0) -> float:
    """The machine's measured GEMM rate: GFLOP/s of one square (n x n) @ (n x n) product.

    2 n^3 flops per product, all torch threads; this is the yardstick the ensemble's rate is
    divided by (a vendor peak would hide what this machine actually delivers today).
    """
    secs = best_seconds(gemm_operands(n, dtype), min_repeats=5, max_seconds=max_seconds)
    return 2.0 * n**3 / secs / 1e9


def parse_size(size: str) -> dict[str, int]:
    """'n=256 L=32 S=16' -> {'n': 256, 'L': 32, 'S': 16} (numpy's readable compound params)."""
    return {k: int(v) for k, v in (item.split("=") for item in size.split())}
