"""Exact lazy sampling of Gaussian weight matrices touched only through products (training runs).

A matrix W (n_out x n_in, i.i.d. N(0, var) entries) that a training run only ever multiplies,
forward W u or backward W^T g, never needs to exist. Keep what has been seen:

    Qf (n_in x kf), orthonormal, and Af = W Qf      (forward queries so far)
    Qb (n_out x kb), orthonormal, and Cb = W^T Qb   (backward queries so far)

(consistency: Qb^T Af = Cb^T Qf). Given that, the unseen part (I - Pb) W (I - Pf) is again a matrix
of i.i.d. N(0, var) entries in rotated coordinates, independent of everything seen. A new forward
query u = Qf alpha + r q (q a unit vector orthogonal to Qf, r >= 0) therefore has the exact law

    W u = Af alpha + r (Qb Cb^T q + (I - Pb) e),     e ~ N(0, var I_{n_out}),

after which (q, W q) is appended to (Qf, Af); backward queries are the mirror image. This is the
note's formula (../shared/theory/nfd2025.md, "Exact lazy sampling") written with orthonormal
bases instead of Gram inverses: a query already in the span (r ~ 0: the first layer's input that
repeats every step, a gradient that is a multiple of the readout) appends a zero column, which is
harmless here, where a Gram matrix would turn singular. Everything is float64.

Batched: S independent matrices at once, tensors (S, n, k); every query appends one column to
every network (zero where that network's vector was in the span), so capacities are shared.
Cost O(S n k) per query instead of O(S n^2) memory and time per product.
"""
from __future__ import annotations

import math

import torch

# A new direction shorter than this fraction of the query counts as "already in the span".
SPAN_RTOL = 1e-10
# Gram-Schmidt is repeated when a new direction is shorter than this fraction of its query.
REORTH_BELOW = 1e-3


class LazyGaussian:
    """S independent (n_out x n_in) matrices with i.i.d. N(0, var) entries, drawn product by product.

    ``matmul(U)`` returns W U for U (S, n_in, m); ``rmatmul(G)`` returns W^T G for G (S, n_out, m).
    Columns are queried in order, each conditioned on every product drawn before (so adaptive
    query sequences, where the next vector depends on earlier products, are sampled exactly).
    ``capacity`` bounds the number of columns queried in each direction; it grows if exceeded.
    """

    def __init__(
        self,
        n_networks: int,
        n_out: int,
        n_in: int,
        var: float,
        generator: torch.Generator,
        capacity: int = 8,
        device: str | torch.device = "cpu",
    ) -> None:
        if var <= 0 or not math.isfinite(var):
            raise ValueError(f"var={var!r} is invalid: expected a positive finite entry variance")
        self.s, self.n_out, self.n_in = n_networks, n_out, n_in
        self.std = math.sqrt(var)
        self.gen = generator
        self.device = torch.device(device)
        kw = dict(dtype=torch.float64, device=self.device)
        cap = max(int(capacity), 1)
        self.qf = torch.zeros(n_networks, n_in, cap, **kw)   # forward directions (orthonormal / zero)
        self.af = torch.zeros(n_networks, n_out, cap, **kw)  # W qf
        self.qb = torch.zeros(n_networks, n_out, cap, **kw)  # backward directions
        self.cb = torch.zeros(n_networks, n_in, cap, **kw)   # W^T qb
        self.kf = 0
        self.kb = 0

    # -- storage -------------------------------------------------------------------------------
    @staticmethod
    def _grow(t: torch.Tensor) -> torch.Tensor:
        extra = torch.zeros_like(t)
        return torch.cat([t, extra], dim=2)

    def _ensure(self, forward: bool) -> None:
        if forward and self.kf >= self.qf.shape[2]:
            self.qf, self.af = self._grow(self.qf), self._grow(self.af)
        if not forward and self.kb >= self.qb.shape[2]:
            self.qb, self.cb = self._grow(self.qb), self._grow(self.cb)

    # -- one column ----------------------------------------------------------------------------
    @staticmethod
    def _split(u: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u (S, n) = q alpha + w with w orthogonal to q (S, n, k): classical Gram-Schmidt, repeated
        ("twice is enough") when some network's new direction is short but not negligible, the only
        case where one pass loses orthogonality (error ~ eps / (|w|/|u|)^2)."""
        if q.shape[2] == 0:
            return u.new_zeros(u.shape[0], 0), u
        alpha = torch.bmm(q.transpose(1, 2), u[:, :, None])[:, :, 0]
        w = u - torch.bmm(q, alpha[:, :, None])[:, :, 0]
        ratio = w.norm(dim=1) / u.norm(dim=1).clamp_min(1e-300)
        if bool(((ratio < REORTH_BELOW) & (ratio > SPAN_RTOL)).any()):
            beta = torch.bmm(q.transpose(1, 2), w[:, :, None])[:, :, 0]
            w = w - torch.bmm(q, beta[:, :, None])[:, :, 0]
            alpha = alpha + beta
        return alpha, w

    def _one(self, u: torch.Tensor, forward: bool) -> torch.Tensor:
        """W u (forward) or W^T u (backward) for u (S, n), exact given everything drawn so far."""
        self._ensure(forward)
        if forward:
            q_same, img_same, k_same = self.qf, self.af, self.kf
            q_other, img_other, k_other = self.qb, self.cb, self.kb
            n_img = self.n_out
        else:
            q_same, img_same, k_same = self.qb, self.cb, self.kb
            q_other, img_other, k_other = self.qf, self.af, self.kf
            n_img = self.n_in
        qs, ims = q_same[:, :, :k_same], img_same[:, :, :k_same]
        alpha, w = self._split(u, qs)
        seen = torch.bmm(ims, alpha[:, :, None])[:, :, 0] if k_same else u.new_zeros(self.s, n_img)
        r = w.norm(dim=1)  # (S,)
        fresh = r > SPAN_RTOL * u.norm(dim=1).clamp_min(1e-300)
        if not bool(fresh.any()):  # in every network's span already: exact, no randomness, nothing stored
            return seen
        q = torch.where(fresh[:, None], w / r.clamp_min(1e-300)[:, None], torch.zeros_like(w))
        # image of the new unit direction: Qo (Imo^T q - Qo^T e) + e = (part fixed by the other side's
        # products) + (I - P_other) e, e ~ N(0, var I) fresh noise
        e = torch.randn(self.s, n_img, generator=self.gen, dtype=torch.float64, device=self.device) * self.std
        if k_other:
            qo, imo = q_other[:, :, :k_other], img_other[:, :, :k_other]
            coef = torch.bmm(imo.transpose(1, 2), q[:, :, None]) - torch.bmm(qo.transpose(1, 2), e[:, :, None])
            img = e + torch.bmm(qo, coef)[:, :, 0]
        else:
            img = e
        img = torch.where(fresh[:, None], img, torch.zeros_like(img))
        q_same[:, :, k_same] = q
        img_same[:, :, k_same] = img
        if forward:
            self.kf += 1
        else:
            self.kb += 1
        return seen + r[:, None] * img

    # -- public --------------------------------------------------------------------------------
    def matmul(self, u: torch.Tensor) -> torch.Tensor:
        """W U for U (S, n_in, m), columns drawn in order; returns (S, n_out, m) float64."""
        u = u.to(torch.float64)
        return torch.stack([self._one(u[:, :, j], True) for j in range(u.shape[2])], dim=2)

    def rmatmul(self, g: torch.Tensor) -> torch.Tensor:
        """W^T G for G (S, n_out, m), columns drawn in order; returns (S, n_in, m) float64."""
        g = g.to(torch.float64)
        return torch.stack([self._one(g[:, :, j], False) for j in range(g.shape[2])], dim=2)

    def consistency_error(self) -> float:
        """max |Qb^T Af - Cb^T Qf|: zero up to rounding for a correctly maintained state."""
        if self.kf == 0 or self.kb == 0:
            return 0.0
        lhs = self.qb[:, :, : self.kb].transpose(1, 2) @ self.af[:, :, : self.kf]
        rhs = self.cb[:, :, : self.kb].transpose(1, 2) @ self.qf[:, :, : self.kf]
        return float((lhs - rhs).abs().max())

    @property
    def columns(self) -> tuple[int, int]:
        """(forward, backward) columns stored so far."""
        return self.kf, self.kb
