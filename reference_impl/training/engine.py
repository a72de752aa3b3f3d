"""The one training loop: chunks of networks, one draw per chunk, every run from that draw, step by step.

A route (reference_impl.training.routes) configures it with a draw (the weight source: dense, lazy
exact-Gaussian or a plug-in's drawn weights; reference_impl.training.sources) and a network per run,
which holds the block form, applies the update rule and the backward variant
(reference_impl.training.forms for NetSpec's blocks, reference_impl.training.plugin for a plug-in's).
Per step t = 0..T: forward pass on the training and test inputs, loss, forward records; backward pass
on the training inputs (with its records); update. After the final update a network runs the backward
pass once more only when it says so (``trailing_backward``: the coupling record's last entry).
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import torch

from ..protocol import NetSpec, SpecError
from .config import Run, RunResult, TrainConfig, loss_and_signal, make_task
from .records import Pass, Recorder, cat_results
from .sources import DRAW_GROUP, Draw

# The lazy sampler's per-query products stream its (S, k, n) state: 128 to 256 networks per chunk ran
# 1.2 to 2.5x faster per network than 1024 (n = 128 and 512, one thread; docs/performance.md).
LAZY_CHUNK_MAX = 256


class Network(Protocol):
    """One run's S networks in training: block form, weights, update rule, backward variant."""

    batch_dim: int  # 2: hidden states (S, n, B) ("columns"); 1: (S, B, n) ("rows")
    trailing_backward: bool  # also run the backward pass after the final update

    def forward(self, t: int) -> Pass:
        """Outputs and states at the current weights (step t)."""

    def backward(self, p: Pass, chi: torch.Tensor, loss: torch.Tensor, t: int, last: bool) -> torch.Tensor | None:
        """The backward pass on the training inputs (chi = dLoss/df (S, B)); the coupling record (S, L)
        when the run records it. ``last``: after the final update (nothing to update)."""

    def update(self, chi: torch.Tensor) -> None:
        """One step of the update rule from the last backward pass."""


def run_steps(net: Network, run: Run, cfg: TrainConfig, y: torch.Tensor) -> RunResult:
    """T steps of one run: the loop every route trains with."""
    rec = Recorder(run, cfg.n_train, net.batch_dim)
    for t in range(cfg.steps + 1):
        p = net.forward(t)
        loss, chi = loss_and_signal(cfg, p.f_train, y)
        rec.forward(p, loss)
        last = t == cfg.steps
        if last and not net.trailing_backward:
            break
        rec.backward(net.backward(p, chi, loss, t, last))
        if last:
            break
        net.update(chi)
        del p  # free this step's pass before the next forward: one pass in memory at a time
    return rec.result()


def train_chunks(cfg: TrainConfig, runs: Sequence[Run], n_networks: int, chunk: int,
                 draw_chunk: Callable[[int, int], Draw], network: Callable[[Run, Draw], Network]) -> dict[str, RunResult]:
    """Networks [start, stop) drawn by ``draw_chunk(start, stop)``, ``chunk`` at a time; every run trains
    the chunk's networks from that draw, in order; results concatenated over chunks, per run name."""
    y = make_task(cfg).y_train
    parts: list[list[RunResult]] = []
    for start in range(0, n_networks, chunk):
        d = draw_chunk(start, min(start + chunk, n_networks))
        parts.append([run_steps(network(r, d), r, cfg, y.to(d.v.device)) for r in runs])
        del d  # free this chunk's weights before the next chunk is drawn: one chunk in memory at a time
    return {r.name: cat_results([p[i] for p in parts]) for i, r in enumerate(runs)}


def named_runs(spec: NetSpec, runs: Sequence[Run] | None, fine_depth: int | None) -> tuple[list[Run], int]:
    """The runs to train (one true run of spec.depth named "true" when None), names checked unique, and
    the depth of the matrices that drive them (default: the deepest run), which every depth divides."""
    runs = list(runs) if runs is not None else [Run("true", spec.depth)]
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must be unique, got {names}")
    fine = fine_depth or max(r.depth for r in runs)
    for r in runs:
        if fine % r.depth:
            raise SpecError(f"run {r.name!r}: depth {r.depth} must divide fine_depth {fine}")
    return runs, fine


def auto_chunk(n: int, fine_depth: int, cfg: TrainConfig, n_runs: int, path: str, budget_bytes: float = 4e8) -> int:
    """Networks per chunk of the reference's sources (``fine_depth``: fine matrices of every trained
    weight) so that the weight state stays near ``budget_bytes``, and at most LAZY_CHUNK_MAX on the lazy
    path (a function of the sizes only, so results never depend on the machine)."""
    cols = ((cfg.steps + 1) * (2 * cfg.n_train + cfg.n_test)) * n_runs + 4
    per_net = fine_depth * n * (n if path == "dense" else 4 * cols) * 8.0
    per_net += n_runs * fine_depth * n * 2 * max(cfg.steps, 1) * cfg.n_train * 8.0  # update lists
    chunk = max(16, int(budget_bytes // per_net))
    return chunk if path == "dense" else min(chunk, LAZY_CHUNK_MAX)


def dense_chunk(n: int, fine_depth: int, cfg: TrainConfig, runs: Sequence[Run], budget_bytes: float = 4e8) -> int:
    """Networks per chunk of a plug-in's dense weights (a multiple of DRAW_GROUP) keeping the state near
    ``budget_bytes``: the fine weights and independent copies, and per run its coarse weights, trained
    weights and gradients (runs are trained one after another)."""
    copies = len({r.stream for r in runs if r.backward == "independent"})
    cols = (cfg.n_train + cfg.n_test) * (cfg.steps + 2)
    per_net = 8.0 * (fine_depth * n * n * (1 + copies) + 3 * fine_depth * n * n + 4 * fine_depth * n * cols)
    return max(1, int(budget_bytes // per_net) // DRAW_GROUP) * DRAW_GROUP
