"""Training a module plug-in's own parameters with an optimizer: torch.optim's or its library's own.

For ``ModuleImpl(..., optimizer=make)`` with ``make(params, lr) -> torch.optim.Optimizer``. The suite
supplies what reference_impl.plugin_training supplies (the same draws, chunks and depth coupling of the
initial weights, the task, the frozen muP input layer and readout f = <v, h_L> / n, the records); the
plug-in's optimizer steps on every parameter of its blocks (one network's parameters per tensor, so a
library's per-parameter rules see the shapes and attributes it set), with lr = TrainConfig.lr *
L^-lr_depth_exponent and the gradients of the plug-in's own backward (``loss.backward()``: for a library
whose backward rescales weight gradients, such as unit_scaling, the library's gradients, which its
optimizer expects). The forward pass on the training inputs is the one trained; test inputs are a
separate pass without gradients, so a library that scales by the batch size sees the training batch.

Runs that need the suite's own constructions (decoupled backward, coupling or norm records, a
first-layer rate factor) are not trained here: plugin_training.train_with sends them to the contract.
With torch.optim.SGD this route reproduces the contract's training (tests/reference_impl/test_optim_training.py).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .module_adapter import networks_states
from .plugin_training import _coarse, _Draw, _loss, train_network
from .protocol import NetSpec
from .training import Run, RunResult, TrainConfig, make_task, relative_updates


def suite_constructions(cfg: TrainConfig, runs: Sequence[Run]) -> str:
    """What of the suite's own training constructions ``runs`` need, in words ("" when nothing)."""
    needs = [f"run {r.name!r} needs the {r.backward} decoupled backward" for r in runs if r.backward != "reuse"]
    needs += [f"run {r.name!r} records the init coupling" for r in runs if r.record_coupling]
    needs += [f"run {r.name!r} records norms and first-layer updates" for r in runs if r.record_norms]
    if cfg.first_layer_lr_exponent:
        needs.append(f"a first-layer rate factor L^{cfg.first_layer_lr_exponent}")
    return "; ".join(needs)


def train_optimizer(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                    runs: Sequence[Run], fine_depth: int | None = None, chunk: int | None = None,
                    **_options: Any) -> tuple[dict[str, RunResult], str]:
    """S networks of ``impl`` trained with ``impl.optimizer``; the results and which network and optimizer."""
    needs = suite_constructions(cfg, runs)
    if needs:
        raise NotImplementedError(f"{needs}: the optimizer route trains plain runs only")
    names: set[str] = set()

    def run(impl_: Any, fine_spec: NetSpec, cfg_: TrainConfig, r: Run, draw: _Draw) -> RunResult:
        result, name = _run(impl_, fine_spec, cfg_, r, draw)
        names.add(name)
        return result

    out = train_network(impl, spec, cfg, n_networks, generator, runs, fine_depth, chunk, train_run=run)
    return out, f"trained with the plug-in's network by its optimizer {', '.join(sorted(names))}"


def optimizer_name(make: Any, optimizer: torch.optim.Optimizer) -> str:
    """The factory's qualified name, and the optimizer's class where that differs (e.g. mup.MuSGD gives an SGD)."""
    made = f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"
    name = f"{getattr(make, '__module__', '')}.{getattr(make, '__qualname__', repr(make))}".lstrip(".")
    return name if name == made else f"{name} ({made})"


def _run(impl: Any, fine_spec: NetSpec, cfg: TrainConfig, run: Run, d: _Draw) -> tuple[RunResult, str]:
    spec = fine_spec.with_(depth=run.depth)
    b, n = cfg.n_train, spec.width
    nets = impl.trainable_blocks(spec, {k: _coarse(x, run.depth) for k, x in d.w0.items()})
    optimizer = impl.optimizer([p for net in nets for p in net.parameters()],
                               cfg.lr * run.depth ** (-cfg.lr_depth_exponent))
    task = make_task(cfg)
    h0 = torch.einsum("snd,bd->sbn", d.u_in, torch.cat([task.x_train, task.x_test]).to(d.v))  # frozen input layer
    y = task.y_train.to(d.v)
    f_tr, f_te, losses, feats = [], [], [], []
    for t in range(cfg.steps + 1):
        hs = networks_states(nets, h0[:, :b])
        f = torch.einsum("sn,sbn->sb", d.v, hs[-1]) / n  # muP readout: multiplier 1/n
        with torch.no_grad():
            test = networks_states(nets, h0[:, b:])[-1] if cfg.n_test else h0[:, b:]
        f_tr.append(f.detach())
        f_te.append(torch.einsum("sn,sbn->sb", d.v, test) / n)
        if run.record_features:
            feats.append(torch.stack([h[:, 0].detach() for h in hs[1:]], 1))  # block outputs, first train input
        loss, _ = _loss(cfg, f, y)
        losses.append(loss.detach())
        if t == cfg.steps:
            break
        optimizer.zero_grad()
        loss.sum().backward()  # networks are independent: each one's gradient of its own loss
        optimizer.step()
    return RunResult(f_train=torch.stack(f_tr, 1), f_test=torch.stack(f_te, 1), loss=torch.stack(losses, 1),
                     coupling=None, features=relative_updates(feats) if run.record_features else None), \
        optimizer_name(impl.optimizer, optimizer)
