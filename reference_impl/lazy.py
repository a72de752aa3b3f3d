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
harmless here, where a Gram matrix would turn singular. The fresh normals are drawn in float32
(their rounding, 1e-7 relative, is far below any statistic's resolution); the algebra is float64.

Batched: S independent matrices at once, tensors (S, n, k); every query appends one column to
every network (zero where that network's vector was in the span), so capacities are shared.
Cost O(S n k) per query instead of O(S n^2) memory and time per product.
"""
from __future__ import annotations

import math

import torch

from .init import normals64

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
        # stored row-wise, (S, capacity, n): appending a direction writes one contiguous row, and the
        # products with a vector run as row reductions (3 to 6x faster than batched matrix-vector
        # bmm on the column layout at S = 64, n = 512, k = 8; docs/performance.md). Only the first k
        # rows are ever read, so the rest is left uninitialised (zero-filling was a quarter of the time).
        self.qf = torch.empty(n_networks, cap, n_in, **kw)   # forward directions (orthonormal / zero)
        self.af = torch.empty(n_networks, cap, n_out, **kw)  # W qf
        self.qb = torch.empty(n_networks, cap, n_out, **kw)  # backward directions
        self.cb = torch.empty(n_networks, cap, n_in, **kw)   # W^T qb
        self.kf = 0
        self.kb = 0

    # -- storage -------------------------------------------------------------------------------
    @staticmethod
    def _grow(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t, torch.empty_like(t)], dim=1)

    def _ensure(self, forward: bool) -> None:
        if forward and self.kf >= self.qf.shape[1]:
            self.qf, self.af = self._grow(self.qf), self._grow(self.af)
        if not forward and self.kb >= self.qb.shape[1]:
            self.qb, self.cb = self._grow(self.qb), self._grow(self.cb)

    # -- one column ----------------------------------------------------------------------------
    @staticmethod
    def _coef(rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """rows (S, k, n) times u (S, n): (S, k)."""
        return torch.linalg.vecdot(rows, u[:, None, :])

    @staticmethod
    def _comb(coef: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """sum_j coef[:, j] rows[:, j] for coef (S, k), rows (S, k, n): (S, n)."""
        return torch.bmm(coef[:, None, :], rows)[:, 0]

    @classmethod
    def _split(cls, u: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u (S, n) = q^T alpha + w with w orthogonal to the rows of q (S, k, n): classical
        Gram-Schmidt, repeated ("twice is enough") when some network's new direction is short but not
        negligible, the only case where one pass loses orthogonality (error ~ eps / (|w|/|u|)^2)."""
        if q.shape[1] == 0:
            return u.new_zeros(u.shape[0], 0), u
        alpha = cls._coef(q, u)
        w = u - cls._comb(alpha, q)
        ratio = w.norm(dim=1) / u.norm(dim=1).clamp_min(1e-300)
        if bool(((ratio < REORTH_BELOW) & (ratio > SPAN_RTOL)).any()):
            beta = cls._coef(q, w)
            w = w - cls._comb(beta, q)
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
        qs, ims = q_same[:, :k_same], img_same[:, :k_same]
        alpha, w = self._split(u, qs)
        seen = self._comb(alpha, ims) if k_same else u.new_zeros(self.s, n_img)
        r = w.norm(dim=1)  # (S,)
        fresh = r > SPAN_RTOL * u.norm(dim=1).clamp_min(1e-300)
        if not bool(fresh.any()):  # in every network's span already: exact, no randomness, nothing stored
            return seen
        q = torch.where(fresh[:, None], w / r.clamp_min(1e-300)[:, None], 0.0)
        # image of the new unit direction: Qo (Imo^T q - Qo^T e) + e = (part fixed by the other side's
        # products) + (I - P_other) e, e ~ N(0, var I) fresh noise
        e = normals64((self.s, n_img), self.std, self.gen, self.device)
        if k_other:
            qo, imo = q_other[:, :k_other], img_other[:, :k_other]
            img = e + self._comb(self._coef(imo, q) - self._coef(qo, e), qo)
        else:
            img = e
        img = torch.where(fresh[:, None], img, 0.0)
        q_same[:, k_same] = q
        img_same[:, k_same] = img
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
        """max |Qb^T Af - Cb^T Qf| (rows here: Qb Af^T - Cb Qf^T): zero up to rounding."""
        if self.kf == 0 or self.kb == 0:
            return 0.0
        lhs = self.qb[:, : self.kb] @ self.af[:, : self.kf].transpose(1, 2)
        rhs = self.cb[:, : self.kb] @ self.qf[:, : self.kf].transpose(1, 2)
        return float((lhs - rhs).abs().max())

    @property
    def columns(self) -> tuple[int, int]:
        """(forward, backward) columns stored so far."""
        return self.kf, self.kb
