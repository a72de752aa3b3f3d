"""Controls of the learning-rate transfer claims (claims/catalogue/transfer.py; derivations in transfer.md).

Registered into reference_impl.controls.CONTROLS on import (as nfd_controls does), so ``--impl NAME``
and the control tests find them.

Negative control:

- ``standard-parametrization``: the branch multiplier a = scale L^-beta folded into the initial block
  weights (V' = a V: the same networks at initialization) and V' trained by SGD at one rate lr_SP. The
  gradient of V' is that of V divided by a, so one SGD step moves the branch a V by lr_SP G where
  depth-muP moves it by lr a^2 G: standard parametrization at lr_SP is depth-muP at lr_SP / a^2,
  exactly, with frozen input and readout layers. Here lr_SP = lr a(L0)^2 with L0 = 4 (the two agree
  at L = 4), so the reference's training at rate lr (L / L0)^(2 beta) runs: lr*_SP(L) = lr*(L) (L0 /
  L)^(2 beta), a transfer slope lower by 2 beta = 1 than the reference's. The first internal layer of
  two-layer blocks carries no multiplier: its rate stays lr_SP times its own factor.

The other negative control the claims list, ``lr-depth-factor`` (TP VI's Adam rule L^-1/2 applied to
SGD), is defined in nfd_controls.py: the rate lr L^-1/2 shifts the optimum by L^1/2, slope +1/2.

Positive control (the effect exists by construction):

- ``depth-invariant-training``: the runs of every declared depth train networks of the shallowest
  requested depth, freshly drawn per declared depth (one draw per depth from the caller's generator, so
  the curves differ by independent noise and the depths' runs differ), so the expected loss against the
  learning rate is the same curve at every depth and the optimum transfers exactly. It shows that the
  measurement says ``holds`` where transfer holds, with noise that no common random numbers remove.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from reference_impl.controls import CONTROLS, Control
from reference_impl.protocol import NetSpec
from reference_impl.training import Run, TrainConfig, train

BASE_DEPTH = 4  # the depth at which the standard-parametrization control's rate equals depth-muP's


@dataclass(frozen=True)
class FoldedMultiplier(Control):
    """Standard parametrization: branch multiplier in the initial weights, one SGD rate lr a(L0)^2."""

    base_depth: int = BASE_DEPTH

    def train_runs(self, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                   runs: list[Run], **kw: Any) -> dict:
        fold = 2.0 * spec.beta  # SGD on V' = a V is depth-muP SGD at rate lr_SP / a^2, a^2 = scale^2 L^-2beta
        cfg = replace(cfg, lr=cfg.lr * self.base_depth ** -fold, lr_depth_exponent=cfg.lr_depth_exponent - fold,
                      first_layer_lr_exponent=cfg.first_layer_lr_exponent - fold)  # W: no multiplier to fold
        return train(spec, cfg, n_networks, generator, runs, **kw)


@dataclass(frozen=True)
class DepthInvariantTraining(Control):
    """The runs of each declared depth train fresh networks of the shallowest requested depth: one
    expected loss curve at every declared depth."""

    def train_runs(self, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                   runs: list[Run], **kw: Any) -> dict:
        shallow = min(r.depth for r in runs)
        kw.pop("fine_depth", None)
        out: dict = {}
        for depth in sorted({r.depth for r in runs}):  # one draw per declared depth, in order
            group = [replace(r, depth=shallow) for r in runs if r.depth == depth]
            out.update(train(spec, cfg, n_networks, generator, group, **kw))
        return out


TRANSFER_CONTROLS: dict[str, Control] = {
    c.name: c for c in (
        FoldedMultiplier("standard-parametrization", "branch multiplier L^-1/2 folded into the initial block weights "
                         "(identical at init) and trained by SGD at one rate, equal to depth-muP's at L = 4, while "
                         "declaring depth-muP"),
    )
}
TRANSFER_POSITIVE_CONTROLS: dict[str, Control] = {
    c.name: c for c in (
        DepthInvariantTraining("depth-invariant-training", "every declared depth trains the shallowest depth's "
                               "networks: the loss-versus-rate curve is the same at every depth, so the optimal "
                               "rate transfers by construction"),
    )
}
for _name, _control in {**TRANSFER_CONTROLS, **TRANSFER_POSITIVE_CONTROLS}.items():  # resolvable by name
    CONTROLS.setdefault(_name, _control)
