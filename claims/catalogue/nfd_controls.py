"""Negative controls of the NFD claims, and how a claim finds the training code of an implementation.

Training enters the plug-in contract through Capability.TRAIN_STEP and a ``train_runs`` method.
``trainer_for(impl)`` returns the training function a claim uses for ``impl``:

- an implementation with a ``train_runs(spec, cfg, n_networks, generator, runs, path, fine_depth,
  chunk)`` method (signature of reference_impl.training.train) trains itself;
- the reference (``reference`` / ``reference-dense``) has ``train_runs`` (reference_impl.training.train);
  the SpecDefect controls of reference_impl.controls train the defective spec with it (the declared
  spec is wrong in the same way for training as for the forward pass);
- anything else cannot train: the claim's measurement raises and the claim is an ``error``
  (``not applicable`` once the Protocol's TRAIN_STEP capability is declared by trainers).

Controls defined here (registered into reference_impl.controls.CONTROLS on import, so that
``--impl NAME`` and the control tests find them):

- ``gia-backward``: backprop through an independent copy of every W_l (construction (b) of the
  note: the gradient-independence assumption) while declaring true backprop. The init coupling then
  no longer vanishes with width (nfd.init_coupling_width fails) and no reused-weight component is
  left in the backward pass (nfd.sgd_coupling_survives_width fails).
- ``no-depth-multiplier``: the 1/sqrt(L) branch multiplier missing (beta = 0) while declaring
  depth-muP (nfd.sgd_coupling_depth and nfd.depth_error fail: no depth limit, the runs diverge).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from reference_impl.controls import CONTROLS, Control, SpecDefect
from reference_impl.protocol import NetSpec
from reference_impl.training import Run, train

Trainer = Callable[..., dict]


@dataclass(frozen=True)
class TrainingDefect(Control):
    """The reference with one defect in its training step; forward pass and declared spec unchanged."""

    true_backward: str = "independent"  # what the "reuse" runs really do ("independent" | "paired")

    def train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator,
                   runs: list[Run], **kw: Any) -> dict:
        # each run that declares reuse backpropagates through its own decoupled copy instead
        fake = [Run(r.name, r.depth, self.true_backward, stream=1000 + i, record_coupling=r.record_coupling)
                if r.backward == "reuse" else r for i, r in enumerate(runs)]
        return train(spec, cfg, n_networks, generator, fake, **kw)


def _spec_defect_trainer(defect: Callable[[NetSpec], NetSpec]) -> Trainer:
    def run(spec: NetSpec, *args: Any, **kw: Any) -> dict:
        return train(defect(spec), *args, **kw)
    return run


def trainer_for(impl: Any) -> Trainer | None:
    """The training function for ``impl`` (see the module docstring), or None if it cannot train."""
    if hasattr(impl, "train_runs"):
        return impl.train_runs
    if isinstance(impl, SpecDefect):
        return _spec_defect_trainer(impl.defect)
    return None


NFD_CONTROLS: dict[str, Any] = {
    c.name: c for c in (
        TrainingDefect("gia-backward", "backprop through an independent copy of each W_l (gradient-independence "
                       "assumption) while declaring true backprop", "independent"),
        SpecDefect("no-depth-multiplier", "branch multiplier 1 (beta = 0) while declaring depth-muP's 1/sqrt(L)",
                   lambda s: s.with_(beta=0.0)),
    )
}
for _name, _control in NFD_CONTROLS.items():  # make them resolvable by name (--impl, control tests)
    CONTROLS.setdefault(_name, _control)
