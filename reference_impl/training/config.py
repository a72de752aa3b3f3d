"""What one training call trains: its settings, its task, its runs, their results and the loss.

Network and parametrization (every route; reference_impl.training.forms writes out the reference's):
S networks of width n and depth L, float64,

    h_0 = U xi                          U (n x d), entries N(0, 1/d): muP input layer, frozen
    h_l = block_l(h_{l-1})              e.g. h + a V_l phi(h), a = scale * L^-beta, V_l entries N(0, 1/n)
    f   = <v, h_L> / n                  v ~ N(0, I_n): muP readout (multiplier 1/n), frozen

trained by SGD on the block weights with rate lr * L^-lr_depth_exponent (reference_impl.training.updates:
depth-muP for SGD is exponent 0), or by a plug-in's own optimizer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping

import torch

LOSSES = ("mse", "linear")
BACKWARDS = ("reuse", "paired", "independent", "untransposed")
LR_GROUPS = ("V", "W")  # trained weight groups: the block's output matrix V, res3's first internal layer W


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the task (inputs, targets) is drawn from ``task_seed`` alone, so every
    network, depth and width in a sweep sees the same task.

    loss "mse": mean_i (f_i - y_i)^2 / 2; "linear": -mean_i f_i (the note's prototype: a constant
    output gradient, so the dynamics never stall). A run of depth L uses the SGD rate
    lr * L^-lr_depth_exponent: 0 is depth-muP for SGD (reference_impl.training.forms); 1/2 is TP VI's
    Adam-style factor, which for SGD divides the update by sqrt(L) a second time.
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
    first_layer_lr_exponent: float = 0.0  # res3: the first internal layer's rate times L^e (training.updates)

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
    """One training run sharing the call's initial weights: its depth, backward pass, the stream of its
    decoupling randomness (paired eps / independent copy), its records and its rate factor.

    Backward passes (reference_impl.training.forms writes each out):
      "reuse"        true backprop: the forward weights reused.
      "paired"       construction (a): B_l(0) = W_l(0)(I - Q Q^T) + eps Q^T, Q an orthonormal basis of
                     this run's initial training features: a fresh matrix in law, paired with W_l(0).
      "independent"  construction (b): B_l(0) an independent copy.
      "untransposed" the transpose bug (W where W^T belongs); exists for the ``transpose-bug`` control.
    ``decouple_from`` = s > 0 backprops through the forward weights at steps t < s and through the run's
    backward matrix from step s on (B_l(0) is still built from the initial features): with s = 1 the
    first update equals the true run's, so a difference between the runs is made from the second
    backward pass on, without the initial pass's coupling carried forward.
    ``lr_factor`` multiplies the SGD rate of every trained group (a number), or of the groups named in a
    mapping (LR_GROUPS: "V", the block's output matrix; "W", res3's first internal layer); input and
    readout layers are frozen. Runs that differ only in ``lr_factor`` train the same initial networks
    at several rates (one draw).
    """

    name: str
    depth: int
    backward: Literal["reuse", "paired", "independent", "untransposed"] = "reuse"
    stream: int = 0
    record_coupling: bool = False
    record_norms: bool = False  # norm ratio and, for res3, the first internal layer's updates
    record_features: bool = False  # relative feature updates of every block (the coord check)
    lr_factor: float | Mapping[str, float] = 1.0
    decouple_from: int = 0  # first step whose backward pass uses ``backward``; earlier ones reuse the weights

    def __post_init__(self) -> None:
        if self.backward not in BACKWARDS:
            raise ValueError(f"Run.backward={self.backward!r} is invalid; allowed: {', '.join(BACKWARDS)}")
        if not (isinstance(self.decouple_from, int) and self.decouple_from >= 0):
            raise ValueError(f"Run.decouple_from={self.decouple_from!r} is invalid: expected a step number >= 0")
        if self.depth < 1:
            raise ValueError(f"Run.depth={self.depth} is invalid: expected a positive integer")
        factors = self.lr_factor if isinstance(self.lr_factor, Mapping) else {"every group": self.lr_factor}
        unknown = sorted(set(factors) - set(LR_GROUPS)) if isinstance(self.lr_factor, Mapping) else []
        if unknown:
            raise ValueError(f"Run.lr_factor names {unknown}; allowed groups: {', '.join(LR_GROUPS)} "
                             "(input and readout layers are frozen)")
        for group, x in factors.items():
            if not (isinstance(x, (int, float)) and x >= 0 and math.isfinite(x)):
                raise ValueError(f"Run.lr_factor for {group}: {x!r} is invalid: expected a finite non-negative factor")

    def group_factor(self, group: str) -> float:
        """The rate factor of one trained weight group (1 for a group a mapping leaves out)."""
        if isinstance(self.lr_factor, Mapping):
            return float(self.lr_factor.get(group, 1.0))
        return float(self.lr_factor)


@dataclass
class RunResult:
    """Per-network trajectories of one run (S networks, T steps, B train / Bt test inputs).

    f_train (S, T+1, B), f_test (S, T+1, Bt), loss (S, T+1): before each step and after the last
    (loss[:, -1] is the final training loss), for every route.
    coupling (S, T+1, L) when recorded: c_l(t) = mean_i <q_{l,i}, M_l^T ghat_{l,i}(t)> / sqrt(n), the
    component along the initial forward feature q_{l,i} = x_{l,i}(0)/|x_{l,i}(0)| of the backward
    product with the initial matrix M_l this run's backward uses (W_l(0) for "reuse", so
    c_l = <W_l(0) q, ghat>/sqrt(n); B_l(0) for the decoupled runs, where it has mean zero);
    ghat = n dF/dh_l at the gradient of step t (T+1 entries, the last taken after the final
    update). The reused-weight part of the backward signal at layer l is a * phi'(h_{l-1}) *
    sqrt(n) q_l c_l: a per-layer increment a * c_l in O(1) coordinate units
    (claims/catalogue/nfd2025.md).
    norm_ratio (S, T+1) with the norm records: |h_L|^2 / |h_0|^2, mean over training inputs.
    norm_ratio_h1 (S, T+1) with the norm records: |h_L|^2 / |h_1|^2 (from the first block's output, so
    that a post-activation network's first nonlinearity is not counted as depth growth), the same means.
    first_update, first_change (S, T+1, L) with the norm records of res3 blocks h + a V phi(W h):
    |(W_l(t) - W_l(0)) h_{l-1}(t)| / |W_l(0) h_{l-1}(t)| and |u_l(t) - u_l(0)| / |u_l(0)|, u_l = W_l h_{l-1},
    means over training inputs.
    features (S, T+1, L) when recorded: ||h_l(t) - h_l(0)|| / ||h_l(0)|| of the block outputs
    h_1..h_L at the first training input (the coord check's feature updates, ``relative_updates``).
    """

    f_train: torch.Tensor
    f_test: torch.Tensor
    loss: torch.Tensor
    coupling: torch.Tensor | None = None
    norm_ratio: torch.Tensor | None = None
    norm_ratio_h1: torch.Tensor | None = None
    first_update: torch.Tensor | None = None
    first_change: torch.Tensor | None = None
    features: torch.Tensor | None = None


def loss_and_signal(cfg: TrainConfig, f: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-network loss (S,) of the training outputs f (S, B) and chi_i = dLoss/df_i (S, B) (TrainConfig.loss)."""
    if cfg.loss == "mse":
        return 0.5 * ((f - y) ** 2).mean(1), (f - y) / f.shape[1]
    return -f.mean(1), torch.full_like(f, -1.0 / f.shape[1])
