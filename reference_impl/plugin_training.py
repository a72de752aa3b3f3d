"""Training a plug-in's own network through the contract: its blocks, the suite's constructions.

The plug-in supplies block k of its network as a function of its weights (``impl.block(spec, k,
weights, h)``: differentiable, batched over S networks, the weights named as in ``layer_weights()``)
and its initial weights (``layer_weights()`` of an ensemble ``build`` draws: Capability.WEIGHTS).
The suite supplies what is its own construction (reference_impl.training documents each):

* the task, the frozen muP input layer U (h_0 = U xi) and readout f = <v, h_L> / n, so the plug-in's
  network is built without an input layer (``input_dim=None``);
* SGD on the weights, W <- W - lr L^-lr_depth_exponent dLoss/dW, with dLoss/dW and dLoss/dh_k taken
  through the plug-in's own block (one torch.func.vjp per block);
* depth coupling: a run of depth L uses W^(L)_l = sum_j W^(fine)_{m(l-1)+j} / sqrt(m) of the plug-in's
  fine-depth weights (the same law for i.i.d. Gaussian weights only);
* the decoupled backward passes: the plug-in's backward plus a phi'(h_l) (B_l(0) - W_l(0))^T g, with
  B_l(0) paired (construction (a)) or an independent copy drawn by the plug-in (construction (b));
* the coupling record c_l(t) from the plug-in's W_l(0) and its own backward signal.
The decoupled passes and the record use NetSpec's block formula h + a V phi(h) (res1, pre-activation);
other block forms decline them (NotImplementedError: the claim is `not applicable`, with the reason).

Memory: dense weights, chunked over networks. Networks are drawn in groups of DRAW_GROUP, each group
from its own generator seeded from the caller's, so results do not depend on the chunk size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import training
from .activations import activation
from .init import normals64
from .protocol import Capability, NetSpec, SpecError
from .training import Run, RunResult, TrainConfig, draw_frozen_layers, make_task, named_runs, relative_updates

DRAW_GROUP = 16  # networks drawn from one generator; a chunk is a whole number of groups
CONTRACT_BACKWARDS = ("reuse", "paired", "independent")
_CALLS = [0]  # times train_network ran (tells which network a plug-in's train_runs trained)

REFERENCE_NETWORK = "trained with the reference's network (reference_impl.training) by the suite's depth-muP SGD"
CONTRACT_NETWORK = "trained with the plug-in's network through the training contract by the suite's depth-muP SGD"
OWN_TRAINER = "trained with the plug-in's own train_runs"

Block = Callable[[NetSpec, int, dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


def trains_through_contract(impl: Any) -> bool:
    """TRAIN_STEP and WEIGHTS declared and a ``block`` method: the suite can train the plug-in's network."""
    caps = getattr(impl, "capabilities", Capability(0))
    return Capability.TRAIN_STEP in caps and Capability.WEIGHTS in caps and callable(getattr(impl, "block", None))


def train_with(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
               runs: Sequence[Run], **options: Any) -> tuple[dict[str, RunResult], str]:
    """Train through ``impl.train_runs`` when it has one (a fast path), else with the plug-in's optimizer
    when it has one and the runs need none of the suite's constructions (reference_impl.optim_training),
    else through the contract; returns the results and which network and optimizer were trained (a
    plug-in whose train_runs calls the reference's ``training.train`` trained the reference's network,
    whatever it declares)."""
    from .optim_training import suite_constructions, train_optimizer

    own = getattr(impl, "train_runs", None)
    if own is None:
        optimizer, needs = getattr(impl, "optimizer", None), suite_constructions(cfg, runs)
        if optimizer is not None and not needs:
            return train_optimizer(impl, spec, cfg, n_networks, generator, runs, **options)
        if trains_through_contract(impl):
            return train_network(impl, spec, cfg, n_networks, generator, runs, **options), CONTRACT_NETWORK
        if optimizer is not None:
            raise NotImplementedError(f"{needs}, which the suite builds from NetSpec's block formula through the "
                                      f"training contract; {impl.name!r} offers only training with its own optimizer")
        raise NotImplementedError(f"{getattr(impl, 'name', impl)!r} cannot train: it needs Capability.TRAIN_STEP "
                                  "and WEIGHTS with a block(spec, k, weights, h) method, or a train_runs method")
    before_ref, before_contract = training.reference_train_calls(), _CALLS[0]
    out = own(spec, cfg, n_networks, generator, runs, **options)
    if training.reference_train_calls() > before_ref:
        return out, REFERENCE_NETWORK
    return out, CONTRACT_NETWORK if _CALLS[0] > before_contract else OWN_TRAINER


def dense_chunk(n: int, fine_depth: int, cfg: TrainConfig, runs: Sequence[Run], budget_bytes: float = 4e8) -> int:
    """Networks per chunk (a multiple of DRAW_GROUP) keeping the dense weight state near ``budget_bytes``:
    the fine weights and independent copies, and per run its coarse weights, trained weights and
    gradients (runs are trained one after another)."""
    copies = len({r.stream for r in runs if r.backward == "independent"})
    cols = (cfg.n_train + cfg.n_test) * (cfg.steps + 2)
    per_net = 8.0 * (fine_depth * n * n * (1 + copies) + 3 * fine_depth * n * n + 4 * fine_depth * n * cols)
    return max(1, int(budget_bytes // per_net) // DRAW_GROUP) * DRAW_GROUP


def train_network(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                  runs: Sequence[Run] | None = None, fine_depth: int | None = None, chunk: int | None = None,
                  train_run: Callable[..., RunResult] | None = None, **_options: Any) -> dict[str, RunResult]:
    """Depth-muP SGD of S networks of ``impl`` (the reference_impl.training setting, in float64); every
    run starts from the same initial weights. ``chunk`` networks at a time (rounded to whole draw
    groups); other options of training.train (path, threads) do not apply and are ignored.
    ``train_run(impl, fine_spec, cfg, run, draw)`` trains one run from the draws (default: the contract's SGD)."""
    _CALLS[0] += train_run is None
    train_run = train_run or _run
    runs, fine = named_runs(spec, runs, fine_depth)
    _check(spec, cfg, runs, fine)
    spec = spec.with_(depth=fine, dtype="float64")  # the training setting is float64 (reference_impl.training)
    step = dense_chunk(spec.width, fine, cfg, runs) if chunk is None else max(1, chunk // DRAW_GROUP) * DRAW_GROUP
    base = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    parts = []
    for start in range(0, n_networks, step):
        stop = min(start + step, n_networks)
        draws = [_draw(impl, spec, cfg, runs, min(DRAW_GROUP, stop - g), _group_generator(base, g // DRAW_GROUP, spec))
                 for g in range(start, stop, DRAW_GROUP)]
        state = _Draw(*(_cat([getattr(d, f.name) for d in draws]) for f in fields(_Draw)))
        parts.append([train_run(impl, spec, cfg, r, state) for r in runs])
    return {r.name: RunResult(*(_cat([getattr(p[i], f.name) for p in parts]) for f in fields(RunResult)))
            for i, r in enumerate(runs)}


def _check(spec: NetSpec, cfg: TrainConfig, runs: Sequence[Run], fine: int) -> None:
    if spec.input_dim is not None:
        raise SpecError(f"NetSpec.input_dim={spec.input_dim}: training supplies the frozen muP input layer itself "
                        "(TrainConfig.input_dim); build the trained network without one (input_dim=None)")
    for r in runs:
        if fine % r.depth:
            raise SpecError(f"run {r.name!r}: depth {r.depth} must divide fine_depth {fine}")
        if r.backward not in CONTRACT_BACKWARDS:
            raise NotImplementedError(f"run {r.name!r}: backward {r.backward!r} is a defect of the reference's trainer "
                                      f"(a negative control); the contract builds {', '.join(CONTRACT_BACKWARDS)}")
        needs_formula = r.backward != "reuse" or r.record_coupling
        if needs_formula and not (spec.block == "res1" and spec.preact):
            raise NotImplementedError(
                f"run {r.name!r} needs the suite's decoupled backward or coupling record, built from the block formula "
                f"h + a V phi(h) (block='res1', preact=True); got block={spec.block!r}, preact={spec.preact}")
        if r.depth != fine and spec.init != "gaussian":
            raise NotImplementedError(f"run {r.name!r}: depth coupling (depth {r.depth} from {fine} layers) keeps the "
                                      f"weight law for i.i.d. Gaussian weights only; got init={spec.init!r}")
    if cfg.n_train < 1:
        raise ValueError(f"TrainConfig.n_train={cfg.n_train} is invalid: expected at least one training input")


def _group_generator(base: int, group: int, spec: NetSpec) -> torch.Generator:
    seed = int(np.random.SeedSequence([base, group]).generate_state(1, np.uint64)[0]) % 2**63
    gen = torch.Generator(device=spec.device if spec.device.startswith("cuda") else "cpu")
    return gen.manual_seed(seed)


def _cat(parts: list[Any]) -> Any:
    """Concatenate per-group values along the network dimension (tensors, dicts of them, None)."""
    if parts[0] is None:
        return None
    if isinstance(parts[0], dict):
        return {k: _cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)


@dataclass
class _Draw:
    """The random state of S networks: frozen layers, the plug-in's fine-depth weights, decoupling draws."""

    u_in: torch.Tensor  # (S, n, d)
    v: torch.Tensor  # (S, n)
    w0: dict[str, torch.Tensor]  # name -> (S, fine, ...)
    eps: dict[int, torch.Tensor]  # paired stream -> (S, fine, n, B)
    copies: dict[int, dict[str, torch.Tensor]]  # independent stream -> weights like w0


def _weights(impl: Any, spec: NetSpec, s: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    net = impl.build(spec, s, gen)
    return {k: w.detach().to(torch.float64).clone() for k, w in net.layer_weights().items() if k != "in"}


def _draw(impl: Any, spec: NetSpec, cfg: TrainConfig, runs: Sequence[Run], s: int, gen: torch.Generator) -> _Draw:
    """The reference's draw order: U and v, the weights, then each run's decoupling randomness."""
    n, fine, dev = spec.width, spec.depth, spec.device
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen, dev)
    w0 = _weights(impl, spec, s, gen)
    eps: dict[int, torch.Tensor] = {}
    copies: dict[int, dict[str, torch.Tensor]] = {}
    for r in runs:
        if r.backward == "paired" and r.stream not in eps:
            eps[r.stream] = normals64((s, fine, n, cfg.n_train), 1.0 / math.sqrt(n), gen, dev)  # paired decoupling noise
        if r.backward == "independent" and r.stream not in copies:
            copies[r.stream] = _weights(impl, spec, s, gen)
    return _Draw(u_in, v, w0, eps, copies)


def _coarse(w: torch.Tensor, depth: int) -> torch.Tensor:
    """(S, fine, ...) -> (S, depth, ...): sums of m = fine/depth consecutive layers / sqrt(m) (same law)."""
    s, fine = w.shape[:2]
    m = fine // depth
    if m == 1:
        return w
    return w.reshape(s, depth, m, *w.shape[2:]).sum(2) / math.sqrt(m)


def _forward(block: Block, spec: NetSpec, w: dict[str, torch.Tensor], h0: torch.Tensor
             ) -> tuple[list[torch.Tensor], list[Callable]]:
    """h_0..h_L through the plug-in's blocks, with each block's vector-Jacobian product."""
    hs, pulls = [h0], []
    for k in range(spec.depth):
        wk = {name: x[:, k] for name, x in w.items()}
        h, pull = torch.func.vjp(lambda wk_, h_, k=k: block(spec, k, wk_, h_), wk, hs[-1])
        hs.append(h)
        pulls.append(pull)
    return hs, pulls


def _run(impl: Any, fine_spec: NetSpec, cfg: TrainConfig, run: Run, d: _Draw) -> RunResult:
    phi, dphi = activation(fine_spec.activation)
    spec = fine_spec.with_(depth=run.depth)
    depth, b, steps = run.depth, cfg.n_train, cfg.steps
    a = spec.branch_multiplier  # scale * L^-beta; depth-muP: beta = 1/2
    s, n = d.v.shape
    task = make_task(cfg)
    xi = torch.cat([task.x_train, task.x_test]).to(d.v)
    h0 = torch.einsum("snd,bd->sbn", d.u_in, xi)  # (S, B + Bt, n): the frozen muP input layer
    y = task.y_train.to(d.v)
    w0 = {k: _coarse(x, depth) for k, x in d.w0.items()}
    w = dict(w0)
    rate = cfg.lr * depth ** (-cfg.lr_depth_exponent)
    corr: Callable[[int, torch.Tensor], torch.Tensor] | None = None
    unit0: torch.Tensor | None = None
    f_tr, f_te, losses, cpl, feats = [], [], [], [], []
    for t in range(steps + 1):
        hs, pulls = _forward(impl.block, spec, w, h0)
        f = torch.einsum("sn,sbn->sb", d.v, hs[-1]) / n  # muP readout: multiplier 1/n
        f_tr.append(f[:, :b])
        f_te.append(f[:, b:])
        if run.record_features:
            feats.append(torch.stack([h[:, 0].detach() for h in hs[1:]], 1))  # block outputs, first train input
        loss, chi = _loss(cfg, f[:, :b], y)
        losses.append(loss)
        if t == 0 and (run.record_coupling or run.backward != "reuse"):
            x0 = torch.stack([phi(h[:, :b]) for h in hs[:-1]], 1)  # (S, L, B, n) initial branch inputs (res1 pre-act)
            unit0 = x0 / x0.norm(dim=-1, keepdim=True)
            corr = _decoupling(run, d, w0["V"], x0, depth)
        # backward: g = dF_i/dh per training input (F = f_i), through the plug-in's blocks
        g = torch.zeros_like(hs[-1])
        g[:, :b] = d.v[:, None, :] / n
        grads: list[dict[str, torch.Tensor]] = []  # per layer, last first
        record = []
        for l in reversed(range(depth)):
            gw, gh = pulls[l](g)
            if t < steps:
                grads.append(_weight_grad(pulls[l], gw, g, chi, b))
            gt = g[:, :b]
            extra = corr(l, gt) if corr is not None else None  # (B_l(0) - W_l(0))^T g
            if run.record_coupling:  # component along q_l of the initial-weight backward product M_l^T ghat
                back = torch.bmm(gt, w0["V"][:, l]) + (extra if extra is not None else 0.0)
                record.append((unit0[:, l] * back * n).sum(-1).mean(-1) / math.sqrt(n))  # type: ignore[index]
            if extra is not None:
                gh = gh.clone()
                gh[:, :b] = gh[:, :b] + a * dphi(hs[l][:, :b]) * extra
            g = gh
        if run.record_coupling:
            cpl.append(torch.stack(record[::-1], 1))
        if t == steps:
            break
        # SGD: W <- W - lr L^-lr_depth_exponent dLoss/dW (depth-muP for SGD: exponent 0)
        w = {k: w[k] - rate * torch.stack([gl[k] for gl in grads[::-1]], 1) for k in w}
    return RunResult(f_train=torch.stack(f_tr, 1), f_test=torch.stack(f_te, 1), loss=torch.stack(losses, 1),
                     coupling=torch.stack(cpl, 1) if run.record_coupling else None,
                     features=relative_updates(feats) if run.record_features else None)


def _loss(cfg: TrainConfig, f: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-network loss (S,) and chi_i = dLoss/df_i (S, B) (TrainConfig.loss)."""
    if cfg.loss == "mse":
        return 0.5 * ((f - y) ** 2).mean(1), (f - y) / f.shape[1]
    return -f.mean(1), torch.full_like(f, -1.0 / f.shape[1])


def _weight_grad(pull: Callable, gw: dict[str, torch.Tensor], g: torch.Tensor, chi: torch.Tensor, b: int
                 ) -> dict[str, torch.Tensor]:
    """dLoss/dW of one block: sum_i chi_i dF_i/dW. ``gw`` is the vjp's weight part for the unweighted
    per-input signal g; with one training input it is rescaled, else one more vjp weights the inputs."""
    if b == 1:
        return {k: x * chi[:, 0].view(-1, *[1] * (x.dim() - 1)) for k, x in gw.items()}
    weighted = torch.zeros_like(g)
    weighted[:, :b] = g[:, :b] * chi[:, :, None]
    return pull(weighted)[0]


def _decoupling(run: Run, d: _Draw, v0: torch.Tensor, x0: torch.Tensor, depth: int
                ) -> Callable[[int, torch.Tensor], torch.Tensor] | None:
    """g (S, B, n) -> (B_l(0) - W_l(0))^T g for the run's decoupled backward (None for true backprop).

    paired, construction (a): B_l(0) = W_l(0)(I - Q Q^T) + eps Q^T, Q an orthonormal basis of the
    run's initial branch inputs x_l(0), so (B - W)^T g = Q (eps - W Q)^T g.
    independent, construction (b): B_l(0) the plug-in's independent copy (coupled across depth alike)."""
    if run.backward == "paired":
        q, _ = torch.linalg.qr(x0.transpose(-1, -2))  # (S, L, n, B)
        diff = _coarse(d.eps[run.stream], depth) - v0 @ q  # eps - W(0) Q, (S, L, n, B)
        return lambda l, g: ((g @ diff[:, l]) @ q[:, l].transpose(1, 2))
    if run.backward == "independent":
        delta = _coarse(d.copies[run.stream]["V"], depth) - v0  # (S, L, n, n)
        return lambda l, g: torch.bmm(g, delta[:, l])
    return None
