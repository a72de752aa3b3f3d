"""Dense batched ensemble throughput against the machine's own fp32 GEMM rate.

The dense reference ensemble (reference_impl/ensemble.py) stores S networks' weights as
(S, L, n, n) and runs one ``bmm`` per layer for all S networks. For res-1 blocks a forward pass
costs 2 S B n^2 L flops (one (B, n) @ (n, n) product per layer and network); the backward pass
by autograd (grad with respect to the input only; the weights do not require grad) costs the same
again. Only these matmul flops are counted: activations, the residual add and the final stack are
overhead the rate has to absorb.

``Gemm`` measures the machine's square fp32 GEMM rate in the same run; ``DenseEnsemble.track_*``
report the ensemble's achieved GFLOP/s and its ratio to that rate (the target: >= 0.70 for
forward+backward at n >= 512). Batch B = 1 is what the Marion claims run (one input per network):
there the product is a matrix-vector one and memory bandwidth, not the GEMM rate, is the bound.
"""
from __future__ import annotations

import functools

import torch

from reference_impl.ensemble import DenseEnsemble as _Dense
from reference_impl.protocol import NetSpec

from . import best_seconds, best_seconds_interleaved, gemm_gflops, gemm_operands, subset

NETWORKS = 4  # S: enough to exercise the batching, small enough that n = 1024 fits in 128 MB
MAX_WEIGHTS = 2**25  # floats (128 MB in fp32): larger (width, depth) combinations are skipped


@functools.lru_cache(maxsize=1)
def _problem(width: int, depth: int, batch: int) -> tuple[_Dense, torch.Tensor, torch.Tensor]:
    """Ensemble, input and output gradient, built once per process (asv re-runs setup per sample)."""
    gen = torch.Generator().manual_seed(1234)
    spec = NetSpec(width=width, depth=depth, beta=0.5)
    ens = _Dense(spec, NETWORKS, gen)
    x = torch.randn(NETWORKS, batch, width, generator=gen)
    g = torch.randn(NETWORKS, batch, width, generator=gen)
    return ens, x, g


def matmul_flops(width: int, depth: int, batch: int, backward: bool) -> float:
    """Matmul flops of one forward (or forward+backward) pass of the S-network res-1 ensemble."""
    fwd = 2.0 * NETWORKS * batch * width * width * depth
    return 2.0 * fwd if backward else fwd


def track_torch_threads():
    """torch's intra-op thread count in the benchmark processes (read every GFLOP/s against it)."""
    return float(torch.get_num_threads())


track_torch_threads.unit = "threads"


class Gemm:
    """The yardstick: square fp32 ``torch.mm`` at the widths the ensemble uses, all torch threads."""

    params = [subset([256, 512, 1024])]
    param_names = ["n"]
    rounds = 1
    repeat = (3, 20, 2.0)

    def setup(self, n):
        gen = torch.Generator().manual_seed(0)
        self.a = torch.randn(n, n, generator=gen)
        self.b = torch.randn(n, n, generator=gen)
        self.out = torch.empty(n, n)

    def time_mm(self, n):
        torch.mm(self.a, self.b, out=self.out)

    def track_gflops(self, n):
        return gemm_gflops(n)

    track_gflops.unit = "GFLOP/s"


class DenseEnsemble:
    """Forward (``trace``) and forward+backward (``grad_trace``) of S = 4 dense res-1 networks.

    Params: width n, depth L (blocks), batch B (inputs per network). Combinations whose weights
    exceed 128 MB are skipped (NotImplementedError in setup, numpy's convention).
    """

    params = [subset([128, 512, 1024]), subset([4, 16]), subset([1, 128])]
    param_names = ["width", "depth", "batch"]
    rounds = 1
    repeat = (2, 5, 2.0)
    timeout = 180

    def setup(self, width, depth, batch):
        if NETWORKS * depth * width * width > MAX_WEIGHTS:
            raise NotImplementedError("weights above the 128 MB budget of this suite")
        self.ens, self.x, self.g = _problem(width, depth, batch)

    def time_forward(self, width, depth, batch):
        self.ens.trace(self.x)

    def time_forward_backward(self, width, depth, batch):
        self.ens.grad_trace(self.x, self.g)

    def _call(self, backward):
        return (lambda: self.ens.grad_trace(self.x, self.g)) if backward else (lambda: self.ens.trace(self.x))

    def _rate(self, width, depth, batch, backward):
        secs = best_seconds(self._call(backward), max_seconds=1.0)
        return matmul_flops(width, depth, batch, backward) / secs / 1e9

    def track_gflops_forward(self, width, depth, batch):
        return self._rate(width, depth, batch, backward=False)

    track_gflops_forward.unit = "GFLOP/s"

    def track_gflops_forward_backward(self, width, depth, batch):
        return self._rate(width, depth, batch, backward=True)

    track_gflops_forward_backward.unit = "GFLOP/s"

    def track_gemm_fraction_forward_backward(self, width, depth, batch):
        """Forward+backward GFLOP/s over the square GEMM rate at the same n, both measured here.

        The two are timed alternately (best of each over ~2 s) so that load from elsewhere on the
        machine hits both; the target is >= 0.70 at n >= 512 (batch 128 rows here).
        """
        best = best_seconds_interleaved({"gemm": gemm_operands(width), "ens": self._call(True)})
        gemm = 2.0 * width**3 / best["gemm"]
        rate = matmul_flops(width, depth, batch, backward=True) / best["ens"]
        return rate / gemm

    track_gemm_fraction_forward_backward.unit = "fraction of GEMM rate"
