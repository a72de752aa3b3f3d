"""Exact fast path at initialisation: draw weight-vector products from their Gaussian law.

With i.i.d. Gaussian weights each matrix M_k (rows r, cols c, entries N(0, s2/c)) is touched
once forward (X M^T) and once backward (D M). Given X (S, B, c), the rows of X M^T are i.i.d.
N(0, s2/c * X X^T), so the product costs O(B c) normals instead of O(r c). Given the forward
product Z = X M^T, M = Z^T (X X^T)^+ X + M' (I - P_X) with M' an independent copy and P_X the
projector on X's row space, so D M = D Z^T (X X^T)^+ X + (D M')(I - P_X): the backward pass is
exact too (the conditional-Gaussian representation of Marion et al. and the NFD paper).
Normals are drawn in the network's dtype; the Gram algebra runs in float64 whatever that dtype.
"""
from __future__ import annotations


import torch

from .blocks import LayerCache, residual_backward, residual_states
from .ensemble import draw_bias
from .protocol import NetSpec


def gram_factor(x: torch.Tensor, scale: float) -> torch.Tensor:
    """F (S, B, B) with F F^T = scale * X X^T, for X (S, B, c); exact for singular Grams too."""
    gram = scale * (x.double() @ x.double().transpose(1, 2))
    if gram.shape[-1] == 1:  # one input per network (the Marion claims): the square root, no batched eigh
        return gram.clamp_min(0.0).sqrt()
    evals, evecs = torch.linalg.eigh(gram)
    return evecs * evals.clamp_min(0.0).sqrt()[:, None, :]


def gram_pinv(x: torch.Tensor) -> torch.Tensor:
    """(X X^T)^+ (S, B, B) for X (S, B, c) float64; for B = 1 the reciprocal (0 for a zero row)."""
    gram = x @ x.transpose(1, 2)
    if gram.shape[-1] == 1:
        return torch.where(gram > 0, 1.0 / gram.clamp_min(1e-300), 0.0)
    return torch.linalg.pinv(gram, hermitian=True)


def gaussian_rows(x: torch.Tensor, rows: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    """A draw of X M^T (S, B, rows) for M with i.i.d. N(0, scale) entries and X (S, B, c)."""
    s, b, _ = x.shape
    e = torch.randn(s, b, rows, generator=generator, dtype=x.dtype, device=x.device)  # float32 normals: ~5x cheaper
    return (gram_factor(x, scale) @ e.double()).to(x.dtype)


class ConditionalEnsemble:
    """S networks with i.i.d. Gaussian weights, drawn lazily for one forward (+ backward) query.

    The same ensemble answers repeated queries with the same input identically (the generator
    state is replayed); a query with another input would need the law conditional on the first,
    which this fast path does not keep, so it raises instead of silently drawing new networks.
    """

    def __init__(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> None:
        if spec.init != "gaussian":
            raise ValueError(f"the exact init sampler needs i.i.d. Gaussian weights, got init={spec.init!r}")
        self.spec = spec
        self.n_networks = n_networks
        self.bias = draw_bias(spec, n_networks, generator)
        self._generator = generator
        self._start = generator.get_state()
        self._query: torch.Tensor | None = None

    def _begin(self, x: torch.Tensor) -> None:
        if self._query is None:
            self._query = x.detach().clone()
        elif self._query.shape != x.shape or not torch.equal(self._query, x):
            raise RuntimeError(
                "ConditionalEnsemble draws its networks lazily for one input batch; "
                "build a new ensemble (or use the dense one) to query another input"
            )
        self._generator.set_state(self._start)

    def _forward(self, x: torch.Tensor, cache: list[LayerCache] | None) -> tuple[list[torch.Tensor], dict]:
        spec, gen, n = self.spec, self._generator, self.spec.width
        products: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}

        def mul(k: int, name: str, inp: torch.Tensor) -> torch.Tensor:
            fan_in = inp.shape[-1]
            out = gaussian_rows(inp, n, (spec.sigma_w2 if name != "in" else spec.input_variance) / fan_in, gen)
            products[(k, name)] = (inp, out)
            return out

        h0 = x if spec.input_dim is None else mul(0, "in", x)
        return residual_states(spec, h0, mul, self.bias, cache), products

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """h_0..h_L (S, L+1, B, n) from x (S, B, d)."""
        self._begin(x)
        states, _ = self._forward(x, None)
        return torch.stack(states, dim=1)

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trace and dLoss/dh_k for Loss = sum <g_out, h_L>, backward drawn conditionally on forward."""
        self._begin(x)
        cache: list[LayerCache] = []
        states, products = self._forward(x, cache)
        spec, gen = self.spec, self._generator

        def vjp(k: int, name: str, delta: torch.Tensor) -> torch.Tensor:
            inp, out = products[(k, name)]
            return conditional_vjp(inp, out, delta, spec.sigma_w2 / inp.shape[-1], gen)

        grads = residual_backward(spec, cache, g_out, vjp)
        return torch.stack(states, dim=1), grads


def conditional_vjp(
    x: torch.Tensor, z: torch.Tensor, delta: torch.Tensor, scale: float, generator: torch.Generator
) -> torch.Tensor:
    """A draw of D M given X M^T = Z, for M with i.i.d. N(0, scale) entries (shapes (S, B, .))."""
    xd, zd, dd = x.double(), z.double(), delta.double()
    gram_inv = gram_pinv(xd)
    coef = dd @ zd.transpose(1, 2) @ gram_inv  # (S, B', B)
    seen = coef @ xd
    fresh = gaussian_rows(delta, x.shape[-1], scale, generator).double()  # D M' for an independent M'
    fresh = fresh - (fresh @ xd.transpose(1, 2)) @ gram_inv @ xd  # (I - P_X) on the row side
    return (seen + fresh).to(delta.dtype)
