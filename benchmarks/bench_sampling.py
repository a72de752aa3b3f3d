"""The exact init sampler (reference_impl/sampling.py) against dense weights, at equal statistics.

Both answer the same query with the same law: S independent i.i.d.-Gaussian res-1 networks,
one input each (B = 1, as the Marion claims use), the trace h_0..h_L (``forward``) or the trace
plus dLoss/dh_0..dLoss/dh_L (``backward``). What is timed is everything a claim's cell pays per
query: ``impl.build`` (for the dense path: drawing S L n^2 weights) and then the trace.

The dense path costs O(S L n^2) normals and flops; the conditional sampler O(S L B n) normals
plus B x B Gram algebra per layer, so the ratio grows like n / B.
"""
from __future__ import annotations

import torch

from reference_impl import NetSpec, make_reference, make_reference_dense
from reference_impl.init import draw_layer_weights

from . import best_seconds, parse_size, subset

SIZES = subset(["n=64 L=64 S=64", "n=256 L=32 S=16", "n=512 L=16 S=8"])
PASSES = ["forward", "backward"]
IMPLS = {"fast": make_reference(), "dense": make_reference_dense()}


def _query(method: str, size: str, pass_: str):
    """A zero-argument callable running one build + trace (+ grad) at the given size."""
    p = parse_size(size)
    n, depth, s = p["n"], p["L"], p["S"]
    spec = NetSpec(width=n, depth=depth, beta=0.5)
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(s, 1, n, generator=gen)
    g = torch.randn(s, 1, n, generator=gen)
    impl = IMPLS[method]

    def run():
        net = impl.build(spec, s, torch.Generator().manual_seed(0))
        if pass_ == "forward":
            return net.trace(x)
        return net.grad_trace(x, g)

    return run


class InitSampler:
    """Time and peak memory of one claim-style query, fast conditional sampler vs dense weights."""

    params = [["fast", "dense"], SIZES, PASSES]
    param_names = ["method", "size", "pass"]
    rounds = 1
    repeat = (2, 5, 2.0)

    def setup(self, method, size, pass_):
        self.run = _query(method, size, pass_)

    def time_query(self, method, size, pass_):
        self.run()

    def peakmem_query(self, method, size, pass_):
        self.run()


class InitSamplerSpeedup:
    """Dense time over fast time for the same query (both measured here, best of repeats)."""

    params = [SIZES, PASSES]
    param_names = ["size", "pass"]
    timeout = 120

    def track_speedup(self, size, pass_):
        dense = best_seconds(_query("dense", size, pass_), max_seconds=2.0)
        fast = best_seconds(_query("fast", size, pass_), max_seconds=1.0)
        return dense / fast

    track_speedup.unit = "x"


class CorrelatedDraw:
    """Drawing S networks' correlated layer weights (reference_impl/init.py): fBm increments by the
    L x L mixing GEMM below ``CIRCULANT_FROM_DEPTH`` and by circulant embedding from it, RBF
    increments by their low-rank factor. Width 32, S = 16, as the smooth Marion claims draw."""

    params = [["fbm", "rbf"], subset([256, 1024])]
    param_names = ["init", "depth"]

    def setup(self, init, depth):
        self.spec = NetSpec(width=32, depth=depth, init=init, init_param=0.75 if init == "fbm" else 0.1)

    def time_draw(self, init, depth):
        draw_layer_weights(self.spec, 16, (32, 32), torch.Generator().manual_seed(0))
