"""Negative controls of the NFD claims, and how a claim finds the training code of an implementation.

Training is part of the plug-in contract (reference_impl.protocol.Trainer): Capability.TRAIN_STEP
with the plug-in's blocks and weights, trained by the engine's contract route
(reference_impl/training/: ``train_network``), or a ``train_runs`` fast path (the reference's is the
engine's ``train``). ``trainer_for(impl)`` returns the
training function, or None for an implementation that cannot train (whose NFD claims are then
`not applicable`: they require TRAIN_STEP). The SpecDefect controls of
reference_impl.controls train their defective spec; the TrainingDefect controls below change the
training step itself.

Controls defined here (registered into reference_impl.controls.CONTROLS on import, so that
``--impl NAME`` and the control tests find them):

- ``gia-backward``: backprop through an independent copy of every W_l (construction (b) of the
  note: the gradient-independence assumption) while declaring true backprop. The init coupling then
  no longer vanishes with width (nfd.init_coupling_width fails) and no reused-weight component is
  left in the backward pass (nfd.sgd_coupling_survives_width fails).
- ``transpose-bug``: the backward pass multiplies by W_l where W_l^T belongs (square hidden layers
  make the bug shape-silent). It is a plug-in with dense weights (Capability.WEIGHTS) whose
  hand-written ``grad_trace`` has the bug and whose ``trace`` runs outside autograd (as a fast
  implementation with a manual backward does); validation's finite differences of ``trace`` reject
  it on every claim that needs ``grad_trace`` (verdict error), so nfd.init_coupling_width no longer
  lists it; its ``train_runs`` has the same bug in the reference's training step. W_l and W_l^T share only their diagonal, so the backward signal loses
  its correlation with the forward products as the gradient-independence copy does: the init
  coupling stops vanishing with width (nfd.init_coupling_width) and the surviving SGD coupling of
  true backprop is gone (nfd.sgd_coupling_survives_width). Measured, seed 0: width slope 0.019
  [0.003, 0.034] against -1 at smoke (through its grad_trace; 0.009 [0.005, 0.014] at default through
  the training step); log10 A_inf = -2.45 [-2.90, -2.23] against [-2, 0] at default.
- ``lr-depth-factor``: the SGD rate carries an extra L^-1/2 (TrainConfig.lr_depth_exponent = 1/2, the
  Adam factor of TP VI used with SGD). Each block's feature update is then O(L^-3/2), summed
  O(L^-1/2): feature learning vanishes with depth, and the gap between depths L and 2L no longer
  closes as L^-1 (nfd.depth_error; measured slope -0.20 [-0.21, -0.19] at default, seed 0).
- ``no-depth-multiplier``: the 1/sqrt(L) branch multiplier missing (beta = 0) while declaring
  depth-muP (nfd.sgd_coupling_depth and nfd.depth_error fail: no depth limit, the runs diverge;
  nfd.gia_valid_at_infinite_depth: the true-minus-decoupled gap grows with depth).
- ``first-layer-lr-boost``: the first internal layer of res3 blocks trains at rate lr * L^1/2 (the
  depth-aware correction) while declaring plain depth-muP: its feature update no longer collapses
  (nfd.two_layer_block_collapse fails).
- ``uncorrected-first-layer-lr``: the declared depth-aware correction is not applied (W's rate lr,
  constant in L): the collapse stays (nfd.depth_aware_lr_restores fails).

Positive control (an implementation in which a claimed effect exists by construction):

- ``sgd-rate-decay``: SGD rate lr (L/4)^-9/4, equal to the reference's at the smallest swept depth.
  The SGD-created reused-weight coupling A_t - A_0 scales with the update (L^-9/4, inside the
  accumulated band [-2.5, -0.5]); the output-level D_2, with the paired run decoupled from the
  second backward pass on, scales as the rate times a term between O(1) and O(rate) (about L^-2 in a
  pilot at rate L^-2, seed 1001: -1.7). nfd2025.md sections 15 and 17. Also the positive control of
  nfd.gia_valid_at_infinite_depth: every true-minus-decoupled gap is made by the updates and shrinks
  with the rate (all five readings hold at default, slopes -1.2 to -2.0; section 19). It shows the
  measurement can say holds, not that a decoupled backward pass can track true backprop.
- ``post-constant-multiplier``: post-activation blocks with the constant multiplier 1/4 in place of
  1/sqrt(L) (pre-activation blocks unchanged). Each post-activation ReLU block then multiplies
  E|h|^2 by about 1 + a^2 = 1.0625, so log E[|h_L|^2/|h_1|^2] grows like 0.06 (L - 1): exponential
  growth in depth, which nfd.preact_stable_postact_explodes must rate holds (nfd2025.md section 16).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Callable

import torch

from reference_impl.controls import CONTROLS, Control, SpecDefect
from reference_impl.protocol import Capability, Ensemble, NetSpec
from reference_impl.reference import ReferenceImpl
from reference_impl.stacked import StackedEnsemble
from reference_impl.training import Run, train, train_network, train_optimizer, trains_through_contract


@dataclass(frozen=True)
class TrainingDefect(Control):
    """The reference with one change in its training step (a defect, or for a positive control the
    change that makes a claimed effect exist); forward pass and declared spec unchanged."""

    true_backward: str | None = None  # what the runs that declare "reuse" really do (training.BACKWARDS)
    lr_depth_exponent: float | None = None  # the SGD rate's depth exponent really used
    first_layer_lr_exponent: float | None = None  # res3: W's rate factor L^e really used
    lr_scale: float | None = None  # the SGD rate really used is lr times this

    def train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator,
                   runs: list[Run], **kw: Any) -> dict:
        if self.lr_scale is not None:
            cfg = replace(cfg, lr=cfg.lr * self.lr_scale)
        if self.lr_depth_exponent is not None:
            cfg = replace(cfg, lr_depth_exponent=self.lr_depth_exponent)
        if self.first_layer_lr_exponent is not None:
            cfg = replace(cfg, first_layer_lr_exponent=self.first_layer_lr_exponent)
        if self.true_backward is not None:
            runs = [Run(r.name, r.depth, self.true_backward, stream=1000 + i, record_coupling=r.record_coupling)
                    if r.backward == "reuse" else r for i, r in enumerate(runs)]
        return train(spec, cfg, n_networks, generator, runs, **kw)


class UntransposedEnsemble(StackedEnsemble):
    """Dense weights; grad_trace multiplies by M_k where M_k^T belongs, with a forward pass autograd does not see."""

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return super().trace(x)

    def _vjp(self, k: int, name: str, delta: torch.Tensor) -> torch.Tensor:
        return self._mul(k, name, delta)  # delta M^T: the transpose is missing


@dataclass(frozen=True)
class TransposeBug(TrainingDefect):
    """A plug-in with weights whose own backward pass (grad_trace) and training step use W_l for W_l^T."""

    @property
    def capabilities(self) -> Capability:
        return self.base.capabilities | Capability.WEIGHTS

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        dense = ReferenceImpl(fast=False).build(spec, n_networks, generator)  # the dense reference's networks
        return UntransposedEnsemble(spec, dense.layer_weights(), getattr(dense, "bias", None))


def trainer_for(impl: Any) -> Callable[..., dict] | None:
    """The training function of ``impl``: its ``train_runs``, else the contract's training of its
    blocks (the engine's train_network), else training with its optimizer (the engine's train_optimizer:
    plain runs only), or None without Capability.TRAIN_STEP."""
    caps = getattr(impl, "capabilities", Capability(0))
    if Capability.TRAIN_STEP not in caps:
        return None
    if getattr(impl, "train_runs", None) is not None:
        return impl.train_runs
    if trains_through_contract(impl):
        return partial(train_network, impl)
    return partial(train_optimizer, impl) if getattr(impl, "optimizer", None) is not None else None


NFD_CONTROLS: dict[str, Any] = {
    c.name: c for c in (
        TrainingDefect("gia-backward", "backprop through an independent copy of each W_l (gradient-independence "
                       "assumption) while declaring true backprop", true_backward="independent"),
        TransposeBug("transpose-bug", "backward pass through W_l instead of W_l^T while declaring true backprop",
                     true_backward="untransposed"),
        TrainingDefect("lr-depth-factor", "SGD rate divided by sqrt(L) on top of depth-muP's 1/sqrt(L) multiplier "
                       "(TP VI's Adam factor applied to SGD) while declaring depth-muP", lr_depth_exponent=0.5),
        TrainingDefect("first-layer-lr-boost", "first internal layer of res3 blocks trained at rate lr * L^1/2 while "
                       "declaring depth-muP's rate constant in L", first_layer_lr_exponent=0.5),
        TrainingDefect("uncorrected-first-layer-lr", "depth-aware correction (first internal layer's rate times L^1/2) "
                       "declared but not applied", first_layer_lr_exponent=0.0),
        SpecDefect("no-depth-multiplier", "branch multiplier 1 (beta = 0) while declaring depth-muP's 1/sqrt(L)",
                   lambda s: s.with_(beta=0.0)),
    )
}
# Positive controls: implementations in which a claimed effect exists by construction; the claim's own
# measurement must rate them ``holds`` (it shows that the test could have said yes).
NFD_POSITIVE_CONTROLS: dict[str, Any] = {
    c.name: c for c in (
        TrainingDefect("sgd-rate-decay", "SGD rate lr (L/4)^-9/4 (the reference's rate at L = 4): every update, and "
                       "with it every SGD-created reused-weight coupling term, shrinks as L^-9/4, so the SGD-created "
                       "accumulated coupling decays as L^-9/4 and the output-level D_2 about as L^-2 (nfd2025.md "
                       "section 17)", lr_depth_exponent=2.25, lr_scale=4.0 ** 2.25),
        SpecDefect("post-constant-multiplier", "post-activation blocks built with the constant branch multiplier 1/8 "
                   "(1/sqrt(L) at L = 64, kept at every depth) while declaring 1/sqrt(L); pre-activation blocks "
                   "unchanged: each post-activation ReLU block multiplies E|h|^2 by about 1 + 1/64, so the log-norm "
                   "grows linearly in L (exponent 1)", lambda s: s if s.preact else s.with_(beta=0.0, scale=0.125)),
    )
}
for _name, _control in {**NFD_CONTROLS, **NFD_POSITIVE_CONTROLS}.items():  # resolvable by name (--impl, tests)
    CONTROLS.setdefault(_name, _control)
