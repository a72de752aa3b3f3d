"""The routes into the training engine: which source, network and update rule a call trains with.

* ``train``: the reference's network (NetSpec's block forms, reference_impl.training.forms) on dense
  or exact lazy Gaussian weights drawn from the caller's generator, by the suite's depth-muP SGD.
* ``train_network``: the training contract, a plug-in's blocks on its own drawn weights by the same SGD
  (reference_impl.training.plugin.ContractNetwork).
* ``train_optimizer``: a module plug-in's blocks by its own optimizer (plugin.OptimizerNetwork).
* ``train_with``: the route a plug-in takes: its own ``train_runs`` when it has one, else its
  optimizer for runs that need none of the suite's constructions, else the contract.

Every route runs engine.train_chunks: the same runs, draws and records, so a claim's measurement
reads the same RunResult whichever network was trained.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Any, Iterator, Literal, Sequence

import torch

from ..protocol import Capability, NetSpec, SpecError
from .config import Run, RunResult, TrainConfig
from .engine import auto_chunk, dense_chunk, named_runs, train_chunks
from .forms import NetSpecNetwork, block_form, check_form
from .plugin import ContractNetwork, OptimizerNetwork, plugin_weights
from .sources import DRAW_GROUP, DenseSource, LazySource, cat_draws, draw, group_generator

CONTRACT_BACKWARDS = ("reuse", "paired", "independent")
REFERENCE_NETWORK = "trained with the reference's network (reference_impl.training) by the suite's depth-muP SGD"
CONTRACT_NETWORK = "trained with the plug-in's network through the training contract by the suite's depth-muP SGD"
OWN_TRAINER = "trained with the plug-in's own train_runs"
CALLS = {"reference": 0, "contract": 0}  # calls per route in this process: which network a train_runs trained


# ------------------------------------------------------------------------------------------------
# the reference's network
# ------------------------------------------------------------------------------------------------
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
    CALLS["reference"] += 1
    with _threads(threads if torch.device(spec.device).type == "cpu" else None):
        runs, fine = named_runs(spec, runs, fine_depth)
        form = _check_reference(spec, cfg, runs, path)
        mats = ("V", "W") if form == "res3" else ("V",)
        chunk = chunk or auto_chunk(spec.width, fine * len(mats), cfg, len(runs), path)
        cols = ((cfg.steps + 1) * (cfg.n_train + cfg.n_test) + (cfg.steps + 1) * cfg.n_train) * len(runs) + 4
        n, dev = spec.width, spec.device

        def draw_chunk(start: int, stop: int) -> Any:
            s = stop - start
            source = partial(DenseSource, s, fine, n, generator, dev) if path == "dense" else \
                partial(LazySource, s, fine, n, generator, dev, cols)
            return draw(s, fine, n, cfg, runs, generator, dev, lambda: {m: source() for m in mats})

        return train_chunks(cfg, runs, n_networks, chunk, draw_chunk, partial(NetSpecNetwork, spec, cfg, form))


@contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_reference(spec: NetSpec, cfg: TrainConfig, runs: Sequence[Run], path: str) -> str:
    form = block_form(spec, cfg)  # raises for a block form training does not offer
    if spec.init != "gaussian" or spec.bias_var != 0:
        raise SpecError("training supports i.i.d. Gaussian weights without biases (init='gaussian', bias_var=0)")
    if spec.input_dim is not None and spec.input_dim != cfg.input_dim:
        raise SpecError(f"NetSpec.input_dim={spec.input_dim} differs from TrainConfig.input_dim={cfg.input_dim}; "
                        "the task's inputs set the input dimension (leave NetSpec.input_dim None or equal)")
    if spec.parametrization != "depth_mup":
        raise SpecError(f"NetSpec.parametrization={spec.parametrization!r}: training implements depth_mup only")
    if path not in ("lazy", "dense"):
        raise ValueError(f"path={path!r} is invalid; allowed: lazy, dense")
    for r in runs:
        check_form(form, r)
    return form


# ------------------------------------------------------------------------------------------------
# a plug-in's network
# ------------------------------------------------------------------------------------------------
def train_network(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                  runs: Sequence[Run] | None = None, fine_depth: int | None = None, chunk: int | None = None,
                  **_options: Any) -> dict[str, RunResult]:
    """Depth-muP SGD of S networks of ``impl`` through the training contract (the setting of ``train``,
    in float64); every run starts from the same initial weights. ``chunk`` networks at a time (rounded
    to whole draw groups); other options of ``train`` (path, threads) do not apply and are ignored."""
    CALLS["contract"] += 1
    return _train_plugin(impl, spec, cfg, n_networks, generator, runs, fine_depth, chunk, ContractNetwork)


def train_optimizer(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                    runs: Sequence[Run], fine_depth: int | None = None, chunk: int | None = None,
                    **_options: Any) -> tuple[dict[str, RunResult], str]:
    """S networks of ``impl`` trained with ``impl.optimizer`` from the contract's draws (plain runs
    only); the results and which network and optimizer were trained."""
    needs = suite_constructions(cfg, runs)
    if needs:
        raise NotImplementedError(f"{needs}: the optimizer route trains plain runs only")
    names: set[str] = set()

    def network(*args: Any) -> OptimizerNetwork:
        net = OptimizerNetwork(*args)
        names.add(net.trained_by)
        return net

    out = _train_plugin(impl, spec, cfg, n_networks, generator, runs, fine_depth, chunk, network)
    return out, f"trained with the plug-in's network by its optimizer {', '.join(sorted(names))}"


def _train_plugin(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
                  runs: Sequence[Run] | None, fine_depth: int | None, chunk: int | None, network: Any
                  ) -> dict[str, RunResult]:
    """The plug-in routes: the plug-in's weights drawn in groups of DRAW_GROUP networks."""
    runs, fine = named_runs(spec, runs, fine_depth)
    _check_plugin(spec, cfg, runs, fine)
    spec = spec.with_(depth=fine, dtype="float64")  # the training setting is float64
    step = dense_chunk(spec.width, fine, cfg, runs) if chunk is None else max(1, chunk // DRAW_GROUP) * DRAW_GROUP
    base = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))

    def group(g: int, stop: int) -> Any:
        s, gen = min(DRAW_GROUP, stop - g), group_generator(base, g // DRAW_GROUP, spec.device)
        return draw(s, fine, spec.width, cfg, runs, gen, spec.device, lambda: plugin_weights(impl, spec, s, gen))

    def draw_chunk(start: int, stop: int) -> Any:
        return cat_draws([group(g, stop) for g in range(start, stop, DRAW_GROUP)])

    return train_chunks(cfg, runs, n_networks, step, draw_chunk, partial(network, impl, spec, cfg))


def _check_plugin(spec: NetSpec, cfg: TrainConfig, runs: Sequence[Run], fine: int) -> None:
    if spec.input_dim is not None:
        raise SpecError(f"NetSpec.input_dim={spec.input_dim}: training supplies the frozen muP input layer itself "
                        "(TrainConfig.input_dim); build the trained network without one (input_dim=None)")
    if spec.block == "res1" and not spec.preact and cfg.post_branch_input == "phi":
        raise NotImplementedError("post_branch_input='phi' trains phi(h + a V phi(h)), a block NetSpec does not describe "
                                  "(its post-activation res1 block is phi(h + a V h)); the plug-in's blocks compute NetSpec's")
    for r in runs:
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


# ------------------------------------------------------------------------------------------------
# which route a plug-in takes
# ------------------------------------------------------------------------------------------------
def trains_through_contract(impl: Any) -> bool:
    """TRAIN_STEP and WEIGHTS declared and a ``block`` method: the suite can train the plug-in's network."""
    caps = getattr(impl, "capabilities", Capability(0))
    return Capability.TRAIN_STEP in caps and Capability.WEIGHTS in caps and callable(getattr(impl, "block", None))


def suite_constructions(cfg: TrainConfig, runs: Sequence[Run]) -> str:
    """What of the suite's own training constructions ``runs`` need, in words ("" when nothing): what
    the optimizer route does not build."""
    needs = [f"run {r.name!r} needs the {r.backward} decoupled backward" for r in runs if r.backward != "reuse"]
    needs += [f"run {r.name!r} records the init coupling" for r in runs if r.record_coupling]
    needs += [f"run {r.name!r} records norms and first-layer updates" for r in runs if r.record_norms]
    needs += [f"run {r.name!r} sets rate factors per weight group" for r in runs if not isinstance(r.lr_factor, (int, float))]
    if cfg.first_layer_lr_exponent:
        needs.append(f"a first-layer rate factor L^{cfg.first_layer_lr_exponent}")
    return "; ".join(needs)


def train_with(impl: Any, spec: NetSpec, cfg: TrainConfig, n_networks: int, generator: torch.Generator,
               runs: Sequence[Run], **options: Any) -> tuple[dict[str, RunResult], str]:
    """Train through ``impl.train_runs`` when it has one (a fast path), else with the plug-in's optimizer
    when it has one and the runs need none of the suite's constructions, else through the contract;
    returns the results and which network and optimizer were trained (a plug-in whose train_runs calls
    the reference's ``train`` trained the reference's network, whatever it declares)."""
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
    before = dict(CALLS)
    out = own(spec, cfg, n_networks, generator, runs, **options)
    if CALLS["reference"] > before["reference"]:
        return out, REFERENCE_NETWORK
    return out, CONTRACT_NETWORK if CALLS["contract"] > before["contract"] else OWN_TRAINER
