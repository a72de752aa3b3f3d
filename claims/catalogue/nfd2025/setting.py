"""The NFD claims' setting: the network and task fields every cell fixes, the sweep builder, and the
training calls that run the implementation under test.

Setting (nfd2025.md section 1): one-layer-block pre-activation ResNet, tanh, muP input and readout
layers (frozen), depth-muP branch multiplier L^-1/2 and an SGD learning rate constant in n and L,
full-batch SGD on a seeded one-input regression task. Training goes through the engine
reference_impl/training/ (``train_with``: the implementation's own ``train_runs``, or the training
contract on its blocks, or its optimizer); an implementation that cannot train declines the cell
(NotImplementedError: the claim is not applicable to it).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from reference_impl.protocol import Capability
from reference_impl.training import Run, TrainConfig, train_with

from ...spec import CellContext, Sweep
from ..nfd_controls import trainer_for

PAPER = "Yao, Wu, Gao (2025), Feature Learning Dynamics in Infinite-Depth Neural Networks (NFD)"
ARXIV = "2512.21075"
SRC_ABS = "abstract (v2/v3)"
REQUIRES = Capability.TRAIN_STEP  # the claims train networks (the Trainer protocol: a train_runs method)
BASE = {"activation": "tanh", "beta": 0.5, "parametrization": "depth_mup", "lr": 1.0, "loss": "mse",
        "n_train": 1, "n_test": 0, "input_dim": 4, "task_seed": 0}
TRAIN_KEYS = ("steps", "lr", "n_train", "n_test", "input_dim", "loss", "task_seed")
FEATURE_KEYS = TRAIN_KEYS + ("post_branch_input", "first_layer_lr_exponent")


def sweep(axes: Mapping[str, Sequence[Any]], nets: int, reps: int = 1, inner: Mapping[str, Sequence[Any]] | None = None,
          **fixed: Any) -> Sweep:
    """A sweep over ``axes`` in the setting's BASE fields, ``fixed`` overriding them."""
    return Sweep(axes=axes, replicates=reps, networks=nets, inner=inner or {}, fixed={**BASE, **fixed})


def train_cell(ctx: CellContext, depth_runs: Sequence[int], steps: int, decoupled: bool, fine: int | None = None,
               record: bool = True, features: bool = False, decouple_from: int = 0) -> tuple[dict, str]:
    """Train the cell's ensemble through the training contract (the plug-in's network): a true run
    (coupling recorded when ``record``) and optionally a paired decoupled run at every depth in
    ``depth_runs`` (decoupled from step ``decouple_from`` on: Run.decouple_from), all from one set of
    (depth-coupled) initial weights; also says which network."""
    p = ctx.params
    if trainer_for(ctx.impl) is None:
        raise NotImplementedError(f"{getattr(ctx.impl, 'name', ctx.impl)!r} has no training step (Capability.TRAIN_STEP with "
                                  "block and WEIGHTS, or a train_runs method); the NFD claims train networks")
    spec = ctx.spec(width=int(p["width"]), depth=max(depth_runs), activation=p["activation"], beta=float(p["beta"]),
                    parametrization="depth_mup")
    cfg = TrainConfig(steps=steps, **{k: p[k] for k in TRAIN_KEYS if k in p and k != "steps"})
    runs = []
    for d in depth_runs:
        runs.append(Run(f"true{d}", d, "reuse", record_coupling=record, record_features=features))
        if decoupled:
            runs.append(Run(f"dec{d}", d, "paired", decouple_from=decouple_from))
    path = p.get("path") or default_path(int(p["width"]), cfg, len(runs))
    return train_with(ctx.impl, spec, cfg, ctx.networks, ctx.generator(0), runs, path=path,
                      fine_depth=fine or max(depth_runs))


def default_path(n: int, cfg: TrainConfig, n_runs: int) -> str:
    """Lazy sampling costs about 5 n k^2 per matrix for k queried columns, dense about n^2 k."""
    cols = (cfg.steps + 1) * (2 * cfg.n_train + cfg.n_test) * n_runs
    return "lazy" if 5 * cols < n else "dense"


def run_training(ctx: CellContext, depth: int, runs: Sequence[Run], generator: torch.Generator | None = None,
                 **spec_fields: Any) -> tuple[dict, str]:
    """``runs`` of ``depth`` blocks through the implementation's training (train_with: its own network,
    or the contract on its blocks), NetSpec and TrainConfig from the cell's params (``spec_fields``
    override the block); also says which network was trained. An implementation that cannot train
    declines the network (NotImplementedError: the claim or reading is not applicable to it)."""
    p = ctx.params
    if trainer_for(ctx.impl) is None:
        raise NotImplementedError(f"{getattr(ctx.impl, 'name', ctx.impl)!r} has no training step; this "
                                  "measurement trains networks")
    spec = ctx.spec(width=int(p["width"]), depth=depth, activation=p["activation"], beta=float(p["beta"]),
                    parametrization="depth_mup", **spec_fields)
    cfg = TrainConfig(**{k: p[k] for k in FEATURE_KEYS if k in p})
    path = p.get("path") or default_path(int(p["width"]), cfg, len(runs) * (2 if spec.block == "res3" else 1))
    return train_with(ctx.impl, spec, cfg, ctx.networks, generator or ctx.generator(0), list(runs), path=path)
