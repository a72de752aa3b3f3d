"""Depth-muP SGD training of one-layer-block pre-activation ResNets, true and decoupled backward.

Network (S networks at once, widths n, depth L, input dimension d, float64):

    h_0 = U xi                         U (n x d), entries N(0, 1/d): muP input layer, frozen
    h_l = h_{l-1} + a W_l phi(h_{l-1})  W_l (n x n), entries N(0, 1/n), l = 1..L, trained
    f   = <v, h_L> / n                 v ~ N(0, I_n): muP readout (multiplier 1/n), frozen

a = spec.branch_multiplier = scale * L^-beta; depth-muP is beta = 1/2 (Tensor Programs VI,
arXiv 2310.02244: block multiplier a/sqrt(L)). SGD on the hidden weights with learning rate
``lr`` constant in n and L:

    W_l <- W_l - lr * dLoss/dW_l,   dLoss/dW_l = a * sum_i chi_i g_{l,i} x_{l,i}^T,

chi_i = dLoss/df_i, g_l = df/dh_l (coordinates O(1/n)), x_l = phi(h_{l-1}). With g = ghat / n the
update is -lr a / n * sum_i chi_i ghat_i x_i^T, so its effect on the next forward pass,
a dW_l x' = -lr a^2 sum_i chi_i ghat_i <x_i, x'>/n, is O(1/L) per block and O(1) summed over the
L blocks: muP in width (hidden SGD learning rate O(1) with readout multiplier 1/n, Tensor
Programs V table 3 / the "unit" table) and Depth-muP for SGD in depth (TP VI: the block
multiplier a/sqrt(L) and a weight update of size L^-1/2, which for SGD is what the chain rule
through the multiplier already gives, so the learning rate carries no extra depth factor;
Bordelon et al., arXiv 2309.16620, use the same eta_0 gamma_0^2 N learning rate at every depth).
Input and readout layers are frozen: the claims are about the hidden-layer dynamics, and freezing
keeps the readout gradient dLoss/dh_L = chi v / n exactly as in the NFD setting.

Backward passes (``Run.backward``):
  "reuse"       true backprop: dLoss/dx_l = a W_l(t)^T g_l, the forward weights reused.
  "paired"      construction (a) of the note: B_l(0) = W_l(0)(I - Q Q^T) + eps Q^T, Q an orthonormal
                basis of this run's initial training features x_l(0), eps (n x B) i.i.d. N(0, 1/n)
                independent of everything: B_l(0) has the law of a fresh matrix independent of the
                initial forward products but shares all of W_l(0) off span(Q), so true and decoupled
                runs are paired. B_l(t) = B_l(0) + the run's own updates.
  "independent" construction (b): B_l(0) an independent copy (its own lazy/dense matrix).
  "untransposed" the transpose bug: dLoss/dx_l = a W_l(t) g_l (W where W^T belongs; square layers
                only); exists for the ``transpose-bug`` negative control.
Forward passes always use W_l(t) = W_l(0) + the run's own updates.

Depth coupling: every run is driven by one set of ``fine_depth`` matrices; a run of depth L uses
W_l^(L) = sum_{j<m} W_{m(l-1)+j+1}^(fine) / sqrt(m), m = fine_depth / L (law N(0, 1/n) again), so
depth 2L refines depth L. The paired decoupling noise eps and the independent copies are coupled
across depths the same way.

Other block forms (post-activation, two-layer res3) and runs that ask for norm records
(``Run.record_norms``) are trained by reference_impl.training_blocks (true backprop only).

Paths: "dense" materialises the fine matrices; "lazy" draws every product W u / W^T g from its
exact conditional law (reference_impl.lazy), never forming W. Both run the same code otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from .activations import activation
from .init import normals64
from .lazy import LazyGaussian
from .protocol import NetSpec, SpecError
from .training_blocks import block_form, train_blocks

LOSSES = ("mse", "linear")
_CALLS = [0]  # times train() ran: lets the suite recognise a plug-in's train_runs that wraps it
BACKWARDS = ("reuse", "paired", "independent", "untransposed")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the task (inputs, targets) is drawn from ``task_seed`` alone, so every
    network, depth and width in a sweep sees the same task.

    loss "mse": mean_i (f_i - y_i)^2 / 2; "linear": -mean_i f_i (the note's prototype: a constant
    output gradient, so the dynamics never stall). A run of depth L uses the SGD rate
    lr * L^-lr_depth_exponent: 0 is depth-muP for SGD (module docstring); 1/2 is TP VI's Adam-style
    factor, which for SGD divides the update by sqrt(L) a second time.
    """

    steps: int = 4
    lr: float = 1.0
    lr_depth_exponent: float = 0.0
    n_train: int = 1
    n_test: int = 1
    input_dim: int = 4
    loss: Literal["mse", "linear"] = "mse"
    task_seed: int = 0
    target_offset: float = 0.5
    post_branch_input: Literal["h", "phi"] = "h"  # post-activation res1 branch: phi(h + a V h) or phi(h + a V phi(h))
    first_layer_lr_exponent: float = 0.0  # res3: first internal layer's rate times L^e (training_blocks)

    def __post_init__(self) -> None:
        if self.steps < 0 or self.n_train < 1 or self.n_test < 0 or self.input_dim < 1:
            raise ValueError(f"TrainConfig {self}: steps >= 0, n_train >= 1, n_test >= 0, input_dim >= 1 required")
        if self.loss not in LOSSES:
            raise ValueError(f"TrainConfig.loss={self.loss!r} is invalid; allowed: {', '.join(LOSSES)}")
        if not (self.lr >= 0 and math.isfinite(self.lr)):
            raise ValueError(f"TrainConfig.lr={self.lr!r} is invalid: expected a finite non-negative rate")
        if not math.isfinite(self.lr_depth_exponent):
            raise ValueError(f"TrainConfig.lr_depth_exponent={self.lr_depth_exponent!r} is invalid: expected a finite number")
        if self.post_branch_input not in ("h", "phi"):
            raise ValueError(f"TrainConfig.post_branch_input={self.post_branch_input!r} is invalid; allowed: h, phi")
        if not math.isfinite(self.first_layer_lr_exponent):
            raise ValueError(f"TrainConfig.first_layer_lr_exponent={self.first_layer_lr_exponent!r} is invalid: "
                             "expected a finite number")


@dataclass(frozen=True)
class Task:
    """Training inputs xi (B, d), targets y (B,), test inputs (Bt, d)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor


def make_task(cfg: TrainConfig) -> Task:
    """The seeded synthetic regression task: xi ~ N(0, I_d), y = sin(2 <w*, xi>) + offset, w* ~ N(0, I/d)."""
    gen = torch.Generator().manual_seed(int(cfg.task_seed))
    d = cfg.input_dim
    w = torch.randn(d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    x_train = torch.randn(cfg.n_train, d, generator=gen, dtype=torch.float64)
    x_test = torch.randn(cfg.n_test, d, generator=gen, dtype=torch.float64)
    y = torch.sin(2.0 * x_train @ w) + cfg.target_offset
    return Task(x_train, y, x_test)


@dataclass(frozen=True)
class Run:
    """One training run sharing the ensemble's initial weights: its depth, backward pass and the
    stream of its decoupling randomness (paired eps / independent copy)."""

    name: str
    depth: int
    backward: Literal["reuse", "paired", "independent"] = "reuse"
    stream: int = 0
    record_coupling: bool = False
    record_norms: bool = False  # norm ratio and first-layer updates (reference_impl.training_blocks)
    record_features: bool = False  # relative feature updates of every block (the coord check)

    def __post_init__(self) -> None:
        if self.backward not in BACKWARDS:
            raise ValueError(f"Run.backward={self.backward!r} is invalid; allowed: {', '.join(BACKWARDS)}")
        if self.depth < 1:
            raise ValueError(f"Run.depth={self.depth} is invalid: expected a positive integer")


@dataclass
class RunResult:
    """Per-network trajectories of one run (S networks, T steps, B train / Bt test inputs).

    f_train (S, T+1, B), f_test (S, T+1, Bt), loss (S, T+1): before each step and after the last.
    coupling (S, T+1, L) when recorded: c_l(t) = mean_i <q_{l,i}, M_l^T ghat_{l,i}(t)> / sqrt(n), the
    component along the initial forward feature q_{l,i} = x_{l,i}(0)/|x_{l,i}(0)| of the backward
    product with the initial matrix M_l this run's backward uses (W_l(0) for "reuse", so
    c_l = <W_l(0) q, ghat>/sqrt(n); B_l(0) for the decoupled runs, where it has mean zero);
    ghat = n dF/dh_l at the gradient of step t (T+1 entries, the last taken after the final
    update). The reused-weight part of the backward signal at layer l is a * phi'(h_{l-1}) *
    sqrt(n) q_l c_l: a per-layer increment a * c_l in O(1) coordinate units
    (claims/catalogue/nfd2025.md).
    features (S, T+1, L) when recorded: ||h_l(t) - h_l(0)|| / ||h_l(0)|| of the block outputs
    h_1..h_L at the first training input (the coord check's feature updates, ``relative_updates``).
    """

    f_train: torch.Tensor
    f_test: torch.Tensor
    loss: torch.Tensor
    coupling: torch.Tensor | None = None
    norm_ratio: torch.Tensor | None = None  # (S, T+1): |h_L|^2 / |h_0|^2, mean over train inputs
    first_update: torch.Tensor | None = None  # (S, T+1, L), res3: |dW_l h| / |W_l(0) h| (training_blocks)
    first_change: torch.Tensor | None = None  # (S, T+1, L), res3: |u_l(t) - u_l(0)| / |u_l(0)|
    features: torch.Tensor | None = None  # (S, T+1, L): relative block-output updates (relative_updates)


def relative_updates(states: list[torch.Tensor]) -> torch.Tensor:
    """Block outputs (S, L, n) at t = 0..T -> (S, T+1, L): ||h_l(t) - h_l(0)|| / ||h_l(0)||."""
    h = torch.stack(states, 1)
    return (h - h[:, :1]).norm(dim=-1) / h[:, :1].norm(dim=-1)


# ------------------------------------------------------------------------------------------------
# initial weight sources: W_l(0) u and W_l(0)^T g for a run of depth L driven by fine matrices
# ------------------------------------------------------------------------------------------------
class _DenseSource:
    def __init__(self, s: int, fine: int, n: int, gen: torch.Generator, device: str) -> None:
        # one fill, scaled in place: the stream of torch.randn
        self.w = torch.empty(s, fine, n, n, dtype=torch.float64, device=device).normal_(0.0, n ** -0.5, generator=gen)
        self.fine = fine
        self._coarse: dict[int, torch.Tensor] = {}

    def _get(self, depth: int) -> torch.Tensor:
        if depth == self.fine:
            return self.w
        if depth not in self._coarse:
            m = self.fine // depth
            s, _, n, _ = self.w.shape
            self._coarse[depth] = self.w.view(s, depth, m, n, n).sum(2) / math.sqrt(m)
        return self._coarse[depth]

    def fwd(self, depth: int, l: int, u: torch.Tensor) -> torch.Tensor:
        return self._get(depth)[:, l] @ u

    def bwd(self, depth: int, l: int, g: torch.Tensor) -> torch.Tensor:
        return self._get(depth)[:, l].transpose(1, 2) @ g


class _LazySource:
    def __init__(self, s: int, fine: int, n: int, gen: torch.Generator, device: str, capacity: int) -> None:
        self.mats = [LazyGaussian(s, n, n, 1.0 / n, gen, capacity=capacity, device=device) for _ in range(fine)]
        self.fine = fine

    def fwd(self, depth: int, l: int, u: torch.Tensor) -> torch.Tensor:
        m = self.fine // depth
        out = self.mats[l * m].matmul(u)
        for j in range(1, m):
            out = out + self.mats[l * m + j].matmul(u)
        return out / math.sqrt(m)

    def bwd(self, depth: int, l: int, g: torch.Tensor) -> torch.Tensor:
        m = self.fine // depth
        out = self.mats[l * m].rmatmul(g)
        for j in range(1, m):
            out = out + self.mats[l * m + j].rmatmul(g)
        return out / math.sqrt(m)


def draw_frozen_layers(s: int, n: int, d: int, gen: torch.Generator, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen muP input layer U (S, n, d), entries N(0, 1/d), and readout v (S, n), entries N(0, 1)
    (used with multiplier 1/n); drawn first, before the hidden weights, from the run's generator."""
    u_in = torch.randn(s, n, d, generator=gen, dtype=torch.float64, device=device) / math.sqrt(d)
    v = torch.randn(s, n, generator=gen, dtype=torch.float64, device=device)
    return u_in, v


def _coarse_eps(eps: torch.Tensor, depth: int) -> torch.Tensor:
    """Fine paired-decoupling noise (S, fine, n, B) -> (S, L, n, B) with the same law."""
    s, fine, n, b = eps.shape
    m = fine // depth
    return eps.view(s, depth, m, n, b).sum(2) / math.sqrt(m)


# ------------------------------------------------------------------------------------------------
def _check(spec: NetSpec, cfg: TrainConfig, runs: Sequence[Run], fine_depth: int) -> None:
    block_form(spec, cfg)  # raises for a block form training does not offer
    if spec.init != "gaussian" or spec.bias_var != 0:
        raise SpecError("training supports i.i.d. Gaussian weights without biases (init='gaussian', bias_var=0)")
    if spec.input_dim is not None and spec.input_dim != cfg.input_dim:
        raise SpecError(f"NetSpec.input_dim={spec.input_dim} differs from TrainConfig.input_dim={cfg.input_dim}; "
                        "the task's inputs set the input dimension (leave NetSpec.input_dim None or equal)")
    if spec.parametrization != "depth_mup":
        raise SpecError(f"NetSpec.parametrization={spec.parametrization!r}: training implements depth_mup only")
    for r in runs:
        if fine_depth % r.depth:
            raise SpecError(f"run {r.name!r}: depth {r.depth} must divide fine_depth {fine_depth}")


def train(
    spec: NetSpec,
    cfg: TrainConfig,
    n_networks: int,
    generator: torch.Generator,
    runs: Sequence[Run] | None = None,
    path: Literal["lazy", "dense"] = "lazy",
    fine_depth: int | None = None,
    chunk: int | None = None,
    threads: int | None = 1,
) -> dict[str, RunResult]:
    """Train S networks drawn from ``generator``; every run in ``runs`` starts from the same weights.

    ``spec.depth`` is the depth used when ``runs`` is None (one true run named "true"); the branch
    multiplier of a run of depth L is spec.scale * L^-spec.beta. ``fine_depth`` (default: the
    largest run depth) is the depth of the matrices that drive every run (depth coupling).
    ``chunk`` networks are simulated at a time (memory); the result does not depend on the machine.
    ``threads``: torch intra-op threads on CPU during the call (None: leave torch's setting). The
    batched products here are small (S x n x k); one thread measured 3x faster than two on the
    project's 2-core machine (n = 256, S = 4096, lazy) and leaves the other core to another cell.
    """
    _CALLS[0] += 1
    if threads is None or torch.device(spec.device).type != "cpu":
        return _train(spec, cfg, n_networks, generator, runs, path, fine_depth, chunk)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(spec, cfg, n_networks, generator, runs, path, fine_depth, chunk)
    finally:
        torch.set_num_threads(before)


def named_runs(spec: NetSpec, runs: Sequence[Run] | None, fine_depth: int | None) -> tuple[list[Run], int]:
    """The runs to train (one true run of spec.depth when None), names checked unique, and the depth
    of the matrices that drive them (default: the deepest run)."""
    runs = list(runs) if runs is not None else [Run("true", spec.depth)]
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must be unique, got {names}")
    return runs, fine_depth or max(r.depth for r in runs)


def _train(spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator, runs: Sequence[Run] | None,
           path: str, fine_depth: int | None, chunk: int | None) -> dict[str, RunResult]:
    runs, fine_depth = named_runs(spec, runs, fine_depth)
    _check(spec, cfg, runs, fine_depth)
    if path not in ("lazy", "dense"):
        raise ValueError(f"path={path!r} is invalid; allowed: lazy, dense")
    if block_form(spec, cfg) != "pre" or any(r.record_norms for r in runs):
        return train_blocks(spec, cfg, n_networks, generator, runs, path, chunk)
    chunk = chunk or auto_chunk(spec.width, fine_depth, cfg, len(runs), path)
    parts: list[dict[str, RunResult]] = []
    for start in range(0, n_networks, chunk):
        s = min(chunk, n_networks - start)
        parts.append(_train_chunk(spec, cfg, s, generator, runs, path, fine_depth))
    out = {}
    for r in runs:
        res = [p[r.name] for p in parts]
        cpl = [x.coupling for x in res]
        feat = [x.features for x in res]
        out[r.name] = RunResult(
            f_train=torch.cat([x.f_train for x in res]),
            f_test=torch.cat([x.f_test for x in res]),
            loss=torch.cat([x.loss for x in res]),
            coupling=torch.cat(cpl) if all(c is not None for c in cpl) else None,  # type: ignore[arg-type]
            features=torch.cat(feat) if all(c is not None for c in feat) else None,  # type: ignore[arg-type]
        )
    return out


def reference_train_calls() -> int:
    """How many times ``train`` has run in this process (reference_impl.plugin_training.train_with)."""
    return _CALLS[0]


# The lazy sampler's per-query products stream its (S, k, n) state: 128 to 256 networks per chunk ran
# 1.2 to 2.5x faster per network than 1024 (n = 128 and 512, one thread; docs/performance.md).
LAZY_CHUNK_MAX = 256


def auto_chunk(n: int, fine_depth: int, cfg: TrainConfig, n_runs: int, path: str, budget_bytes: float = 4e8) -> int:
    """Networks per chunk so that the weight state stays near ``budget_bytes``, and at most
    LAZY_CHUNK_MAX on the lazy path (a function of the sizes only, so results never depend on the machine)."""
    cols = ((cfg.steps + 1) * (2 * cfg.n_train + cfg.n_test)) * n_runs + 4
    per_net = fine_depth * n * (n if path == "dense" else 4 * cols) * 8.0
    per_net += n_runs * fine_depth * n * 2 * max(cfg.steps, 1) * cfg.n_train * 8.0  # update lists
    chunk = max(16, int(budget_bytes // per_net))
    return chunk if path == "dense" else min(chunk, LAZY_CHUNK_MAX)


def _train_chunk(
    spec: NetSpec, cfg: TrainConfig, s: int, gen: torch.Generator, runs: Sequence[Run], path: str, fine: int
) -> dict[str, RunResult]:
    n, d, dev = spec.width, cfg.input_dim, spec.device
    task = make_task(cfg)
    b, bt, steps = cfg.n_train, cfg.n_test, cfg.steps
    u_in, v = draw_frozen_layers(s, n, d, gen, dev)
    per_run_cols = (steps + 1) * (b + bt) + (steps + 1) * b
    cap = per_run_cols * len(runs) + 4
    make = (lambda: _DenseSource(s, fine, n, gen, dev)) if path == "dense" else (
        lambda: _LazySource(s, fine, n, gen, dev, cap))
    source = make()
    eps: dict[int, torch.Tensor] = {}
    copies: dict[int, object] = {}
    for r in runs:  # decoupling randomness, drawn up front in a fixed order
        if r.backward == "paired" and r.stream not in eps:
            eps[r.stream] = normals64((s, fine, n, b), 1.0 / math.sqrt(n), gen, dev)
        if r.backward == "independent" and r.stream not in copies:
            copies[r.stream] = make()
    xi = torch.cat([task.x_train, task.x_test]).to(dev)
    h0 = torch.einsum("snd,bd->snb", u_in, xi)  # (S, n, B + Bt)
    y = task.y_train.to(dev)
    return {
        r.name: _run(spec, cfg, r, source, eps.get(r.stream), copies.get(r.stream), h0, v, y)
        for r in runs
    }


def _run(spec, cfg, run: Run, source, eps, copy, h0, v, y) -> RunResult:  # noqa: ANN001
    phi, dphi = activation(spec.activation)
    depth, b, steps = run.depth, cfg.n_train, cfg.steps
    s, n, _ = h0.shape
    a = spec.scale * depth ** (-spec.beta)  # branch multiplier; depth-muP: beta = 1/2
    eps_l = _coarse_eps(eps, depth) if eps is not None else None
    # rank-one update lists per layer: dW_l = G_l X_l^T (columns appended each step)
    gcols = torch.zeros(s, depth, n, steps * b, dtype=torch.float64, device=h0.device)
    xcols = torch.zeros_like(gcols)
    k = 0
    q0: torch.Tensor | None = None   # (S, L, n, B) orthonormal basis of the initial train features
    wq0: torch.Tensor | None = None  # (S, L, n, B) W_l(0) q0
    unit0: torch.Tensor | None = None  # (S, L, n, B) q = x_l(0)/|x_l(0)| per input (coupling record)
    f_tr, f_te, losses, cpl, feats = [], [], [], [], []

    for t in range(steps + 1):
        # ---- forward on train + test inputs with W_l(t) = W_l(0) + G_l X_l^T ----
        hs = [h0]
        h = h0
        z0s = []
        for l in range(depth):
            x = phi(h)
            z0 = source.fwd(depth, l, x)
            z = z0 + gcols[:, l, :, :k] @ (xcols[:, l, :, :k].transpose(1, 2) @ x) if k else z0
            if t == 0 and run.backward == "paired":
                z0s.append(z0[:, :, :b])
            h = h + a * z
            hs.append(h)
        f = torch.einsum("sn,snb->sb", v, h) / n  # muP readout: multiplier 1/n
        f_tr.append(f[:, :b])
        f_te.append(f[:, b:])
        if run.record_features:
            feats.append(torch.stack([x[:, :, 0] for x in hs[1:]], 1))  # block outputs at the first train input
        if cfg.loss == "mse":
            loss = 0.5 * ((f[:, :b] - y) ** 2).mean(1)
            chi = (f[:, :b] - y) / b
        else:
            loss = -f[:, :b].mean(1)
            chi = torch.full_like(f[:, :b], -1.0 / b)
        losses.append(loss)
        if t == 0:
            x0 = torch.stack([phi(hs[l][:, :, :b]) for l in range(depth)], 1)  # (S, L, n, B)
            if run.backward == "paired":
                z0_all = torch.stack(z0s, 1)
                qm, rm = torch.linalg.qr(x0)  # x0 = Q R per network and layer
                q0 = qm
                wq0 = _right_solve(z0_all, rm)  # W(0) Q = Z R^-1
            if run.record_coupling:
                unit0 = x0 / x0.norm(dim=2, keepdim=True)  # q_{l,i} = x_{l,i}(0) / |x_{l,i}(0)|
        # ---- backward on the training inputs: ghat_l = n dF/dh_l, F = f (per input) ----
        gh = v[:, :, None].expand(s, n, b).contiguous()  # ghat_L = v (readout), per training input
        record = [] if run.record_coupling else None
        new_g = torch.empty(s, depth, n, b, dtype=torch.float64, device=h0.device)
        for l in reversed(range(depth)):
            new_g[:, l] = gh
            if run.backward == "independent":
                back = copy.bwd(depth, l, gh)  # type: ignore[union-attr]
            elif run.backward == "untransposed":
                back = source.fwd(depth, l, gh)
            else:
                back = source.bwd(depth, l, gh)
                if run.backward == "paired":  # W(0)^T g - Q (W(0)Q)^T g + Q eps^T g
                    qq, wq, el = q0[:, l], wq0[:, l], eps_l[:, l]  # type: ignore[index]
                    back = back + qq @ ((el - wq).transpose(1, 2) @ gh)
            if record is not None:  # component of the initial-weight backward product along q_l
                record.append((unit0[:, l] * back).sum(1).mean(1) / math.sqrt(n))  # type: ignore[index]
            if k and run.backward == "untransposed":  # dW g instead of dW^T g
                back = back + gcols[:, l, :, :k] @ (xcols[:, l, :, :k].transpose(1, 2) @ gh)
            elif k:
                back = back + xcols[:, l, :, :k] @ (gcols[:, l, :, :k].transpose(1, 2) @ gh)
            gh = gh + a * dphi(hs[l][:, :, :b]) * back
        if record is not None:
            cpl.append(torch.stack(record[::-1], 1))
        if t == steps:
            break
        # ---- SGD step: W_l <- W_l - lr * a / n * sum_i chi_i ghat_{l,i} x_{l,i}^T ----
        coef = -cfg.lr * depth ** (-cfg.lr_depth_exponent) * a / n * chi  # (S, B)
        for l in range(depth):
            gcols[:, l, :, k:k + b] = new_g[:, l] * coef[:, None, :]
            xcols[:, l, :, k:k + b] = phi(hs[l][:, :, :b])
        k += b

    return RunResult(
        f_train=torch.stack(f_tr, 1),
        f_test=torch.stack(f_te, 1),
        loss=torch.stack(losses, 1),
        coupling=torch.stack(cpl, 1) if run.record_coupling else None,
        features=relative_updates(feats) if run.record_features else None,
    )


def _right_solve(z: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Z R^{-1} for upper-triangular R (batched): W Q = W X R^{-1} = Z R^{-1}."""
    return torch.linalg.solve_triangular(r, z, upper=True, left=False)


def one_step_reference_grad(spec: NetSpec, cfg: TrainConfig, weights: torch.Tensor, u_in: torch.Tensor,
                            v: torch.Tensor) -> torch.Tensor:
    """dLoss/dW_l (S, L, n, n) at given dense weights by autograd: the check that "reuse" is true backprop."""
    phi, _ = activation(spec.activation)
    task = make_task(cfg)
    w = weights.clone().requires_grad_(True)
    depth, n = weights.shape[1], weights.shape[2]
    a = spec.scale * depth ** (-spec.beta)
    h = torch.einsum("snd,bd->snb", u_in, task.x_train.to(u_in.device))
    for l in range(depth):
        h = h + a * (w[:, l] @ phi(h))
    f = torch.einsum("sn,snb->sb", v, h) / n
    loss = 0.5 * ((f - task.y_train) ** 2).mean(1) if cfg.loss == "mse" else -f.mean(1)
    (grad,) = torch.autograd.grad(loss.sum(), w)
    return grad
