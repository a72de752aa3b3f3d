"""What a run records at every step, from its forward pass (outputs, loss, features, norms, res3's
first internal layer) and its backward pass (the coupling), in either layout of the hidden states:
"columns" (S, n, B) or "rows" (S, B, n) (``batch_dim`` 2 or 1); field meanings in config.RunResult."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from .config import Run, RunResult
from .sources import cat


@dataclass
class Pass:
    """One forward pass of a run's networks on the training and test inputs.

    f_train (S, B), f_test (S, Bt); states h_0..h_L (all inputs, the network's layout); first, for the
    norm records of res3 blocks, per layer (W_l(0) h, (W_l(t) - W_l(0)) h or None before any update,
    u_l = W_l(t) h), h the block input; cache: what the network's backward pass needs."""

    f_train: torch.Tensor
    f_test: torch.Tensor
    states: list[torch.Tensor]
    first: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] | None = None
    cache: Any = None


def relative_updates(states: list[torch.Tensor]) -> torch.Tensor:
    """Block outputs (S, L, n) at t = 0..T -> (S, T+1, L): ||h_l(t) - h_l(0)|| / ||h_l(0)||."""
    h = torch.stack(states, 1)
    return (h - h[:, :1]).norm(dim=-1) / h[:, :1].norm(dim=-1)


class Recorder:
    """The records of one run, step by step; ``result()`` stacks them into a RunResult."""

    def __init__(self, run: Run, n_train: int, batch_dim: int) -> None:
        self.run, self.b, self.bd = run, n_train, batch_dim
        self.nd = 3 - batch_dim  # the width dimension
        self.rec: dict[str, list[torch.Tensor]] = {f.name: [] for f in fields(RunResult)}
        self.u0: list[torch.Tensor] | None = None

    def forward(self, p: Pass, loss: torch.Tensor) -> None:
        rec, b, bd, nd = self.rec, self.b, self.bd, self.nd
        rec["f_train"].append(p.f_train.detach())
        rec["f_test"].append(p.f_test.detach())
        rec["loss"].append(loss.detach())
        if self.run.record_features:  # block outputs at the first training input
            rec["features"].append(torch.stack([h.select(bd, 0).detach() for h in p.states[1:]], 1))
        if not self.run.record_norms:
            return
        h_l, h_0 = p.states[-1].detach().narrow(bd, 0, b), p.states[0].narrow(bd, 0, b)
        rec["norm_ratio"].append((h_l.pow(2).sum(nd) / h_0.pow(2).sum(nd)).mean(1))
        h_1 = p.states[1].detach().narrow(bd, 0, b)
        rec["norm_ratio_h1"].append((h_l.pow(2).sum(nd) / h_1.pow(2).sum(nd)).mean(1))
        if p.first is None:
            return
        train = [(w0h.narrow(bd, 0, b), None if dwh is None else dwh.narrow(bd, 0, b), u.narrow(bd, 0, b))
                 for w0h, dwh, u in p.first]
        if self.u0 is None:
            self.u0 = [u for _, _, u in train]
        upd = [((torch.zeros_like(w0h) if dwh is None else dwh).norm(dim=nd) / w0h.norm(dim=nd)).mean(1)
               for w0h, dwh, _ in train]
        chg = [(u - u0).norm(dim=nd).div(u0.norm(dim=nd)).mean(1) for (_, _, u), u0 in zip(train, self.u0)]
        rec["first_update"].append(torch.stack(upd, 1))
        rec["first_change"].append(torch.stack(chg, 1))

    def backward(self, coupling: torch.Tensor | None) -> None:
        """The coupling record of one backward pass (S, L), when the run records it."""
        if coupling is not None:
            self.rec["coupling"].append(coupling)

    def result(self) -> RunResult:
        out = {k: torch.stack(v, 1) if v else None for k, v in self.rec.items() if k != "features"}
        return RunResult(**out, features=relative_updates(self.rec["features"]) if self.rec["features"] else None)


def cat_results(parts: list[RunResult]) -> RunResult:
    """One run's results over consecutive chunks of networks."""
    return RunResult(**{f.name: cat([getattr(p, f.name) for p in parts]) for f in fields(RunResult)})
