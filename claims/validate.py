"""Check a plug-in against the contract on one small network before a claim spends time on it.

``validate(impl, spec, grad=...)`` builds a few networks from ``spec`` and checks, in order: that
``build`` returns without raising; that ``trace`` (and ``grad_trace`` when the claim needs it)
returns tensors of the contract's shape, dtype and device, finite, and leaves its inputs unchanged
(compared with a private copy taken before the call); that the result is a function of the
generator's seed alone (the same seed twice, with the global RNGs moved and another seed built in
between, gives the same numbers: the message names which global RNG, torch's, numpy's or Python's,
changed the result) and that the other seed gives other networks (a plug-in ignoring the
generator fails here); h_0 = x when the spec has no input layer and dLoss/dh_L = g_out; and
``grad_trace`` against central differences of ``trace`` (``check_grad_by_differences``: forward
calls only, so however trace is written). The first problem found raises :class:`ValidationError`
whose message names the plug-in, the spec and what was expected against what came back.
``check_plugin`` (validation, then the independence probe) gives the claim's verdict ``error``;
a build raising NotImplementedError (the plug-in declines that spec) gives ``not applicable``.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Iterator, Mapping

import numpy as np
import torch

from reference_impl.training import trains_through_contract
from reference_impl.protocol import Capability, NetSpec, SpecError

PROBE_NETWORKS = 2  # S of the probe ensembles
PROBE_BATCH = 2  # B of the probe inputs
MAX_PROBE_DEPTH = 8  # the probe network is at most this deep (checks do not depend on depth)


class ValidationError(RuntimeError):
    """A plug-in broke the contract on a probe network; the message says how."""


class Unsupported(ValidationError):
    """The plug-in's build raised NotImplementedError: it declines this spec (verdict 'not applicable')."""


@dataclass(frozen=True)
class Problem:
    """What validation found: the claim's verdict ('error' or 'not applicable') and why."""

    verdict: str
    message: str


def impl_name(impl: Any) -> str:
    return str(getattr(impl, "name", None) or type(impl).__name__)


def describe(spec: NetSpec) -> str:
    """The spec as ``NetSpec(width=.., depth=.., <fields differing from the defaults>, dtype, device)``."""
    default = NetSpec(width=1, depth=1)
    keep = {"width", "depth", "dtype", "device"}
    parts = [f"{f.name}={getattr(spec, f.name)!r}" for f in fields(spec)
             if f.name in keep or getattr(spec, f.name) != getattr(default, f.name)]
    return f"NetSpec({', '.join(parts)})"


def contract_error(impl: Any, spec: NetSpec, what: str) -> ValidationError:
    return ValidationError(f"plug-in {impl_name(impl)!r} failed validation on {describe(spec)}: {what}")


def _generator(spec: NetSpec, seed: int) -> torch.Generator:
    gen = torch.Generator(device=spec.device if spec.device.startswith("cuda") else "cpu")
    gen.manual_seed(seed)
    return gen


def check_tensor(impl: Any, spec: NetSpec, call: str, value: Any, shape: tuple[int, ...],
                  dims: str = "(S, L+1, B, n)") -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise contract_error(impl, spec, f"{call} returned {type(value).__name__}; expected a torch.Tensor of shape {shape}")
    if tuple(value.shape) != shape:
        raise contract_error(impl, spec, f"{call} returned shape {tuple(value.shape)}; expected {dims} = {shape}")
    if value.dtype != spec.torch_dtype:
        raise contract_error(impl, spec, f"{call} returned dtype {value.dtype}; expected {spec.torch_dtype} (spec.dtype)")
    want = torch.device(spec.device)
    if value.device.type != want.type or (want.index is not None and value.device.index != want.index):
        raise contract_error(impl, spec, f"{call} returned a tensor on device {value.device}; expected {spec.device} (spec.device)")
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        kind = "NaN" if bool(torch.isnan(value).any()) else "Inf"
        raise contract_error(impl, spec, f"{call} returned {kind} ({int((~finite).sum())} of {value.numel()} entries non-finite, "
                                f"first at index {tuple(bad)}); expected finite values")
    return value


def close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> tuple[bool, float]:
    """Equal up to floating-point reassociation: max |a - b| relative to max |a|."""
    rtol = 1e-4 if dtype == torch.float32 else 1e-9
    diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
    scale = max(float(a.double().abs().max()) if a.numel() else 0.0, 1e-30)
    return diff <= rtol * scale, diff / scale


def check_weights(impl: Any, spec: NetSpec, net: Any, s: int) -> None:
    """Capability.WEIGHTS: layer_weights() has "V" (and "W" for res3, "in" with an input layer) of
    the contract's shapes, dtype, device and finite values."""
    try:
        weights = net.layer_weights()
    except Exception as exc:
        raise contract_error(impl, spec, f"declares Capability.WEIGHTS but layer_weights() raised {type(exc).__name__}: {exc}") from exc
    n = spec.width
    want = {"V": ((s, spec.depth, n, n), "(S, L, n, n)")}
    if spec.block == "res3":
        want["W"] = ((s, spec.depth, n, n), "(S, L, n, n)")
    if spec.input_dim is not None:
        want["in"] = ((s, n, spec.input_dim), "(S, n, d)")
    if not isinstance(weights, dict) or not set(want) <= set(weights):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise contract_error(impl, spec, f"layer_weights() returned {got}; expected a dict with keys {sorted(want)}")
    for name, (shape, dims) in want.items():
        check_tensor(impl, spec, f"layer_weights()[{name!r}]", weights[name], shape, dims)


def check_unchanged(impl: Any, spec: NetSpec, call: str, name: str, before: torch.Tensor, after: torch.Tensor) -> None:
    """A plug-in must not modify its inputs in place: ``after`` (the tensor the plug-in received) still
    equals ``before`` (a private copy taken before the call). The suite reuses its inputs (the next
    inner value of a cell, the h_0 = x check), so an in-place change would corrupt what it measures."""
    if not torch.equal(before, after):
        changed = int((before != after).sum())
        raise contract_error(impl, spec, f"{call} modified its input {name} in place ({changed} of {after.numel()} "
                                         f"entries changed); expected {name} unchanged (work on a copy, e.g. no "
                                         "in-place operations such as x.mul_() or nn.ReLU(inplace=True) on the input "
                                         "or the residual stream)")


def build_probe(impl: Any, spec: NetSpec, s: int, seed: int) -> Any:
    """``impl.build(spec, s, generator(seed))``: NotImplementedError -> Unsupported (the plug-in
    declines the spec), any other exception -> ValidationError."""
    try:
        return impl.build(spec, s, _generator(spec, seed))
    except NotImplementedError as exc:
        raise Unsupported(f"plug-in {impl_name(impl)!r} does not support {describe(spec)}: "
                          f"build raised NotImplementedError: {exc}") from exc
    except Exception as exc:
        raise contract_error(impl, spec, f"build(spec, {s}, generator) raised {type(exc).__name__}: {exc}; "
                                         "expected an Ensemble") from exc


def _run(impl: Any, spec: NetSpec, seed: int, x: torch.Tensor, g_out: torch.Tensor | None) -> list[torch.Tensor]:
    s, b = x.shape[0], x.shape[1]
    shape = (s, spec.depth + 1, b, spec.width)
    net = build_probe(impl, spec, s, seed)
    x_before = x.clone()
    try:
        trace = net.trace(x)
    except Exception as exc:
        raise contract_error(impl, spec, f"trace(x) with x of shape {tuple(x.shape)} raised {type(exc).__name__}: {exc}") from exc
    check_unchanged(impl, spec, "trace(x)", "x", x_before, x)
    out = [check_tensor(impl, spec, "trace(x)", trace, shape)]
    if Capability.WEIGHTS in getattr(impl, "capabilities", Capability(0)):
        check_weights(impl, spec, net, s)
    if g_out is not None:
        g_before = g_out.clone()
        try:
            result = net.grad_trace(x, g_out)
        except Exception as exc:
            raise contract_error(impl, spec, f"grad_trace(x, g_out) raised {type(exc).__name__}: {exc}") from exc
        check_unchanged(impl, spec, "grad_trace(x, g_out)", "x", x_before, x)
        check_unchanged(impl, spec, "grad_trace(x, g_out)", "g_out", g_before, g_out)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise contract_error(impl, spec, f"grad_trace(x, g_out) returned {type(result).__name__}; expected a pair (trace, grads)")
        out.append(check_tensor(impl, spec, "grad_trace(x, g_out)[0]", result[0], shape))
        out.append(check_tensor(impl, spec, "grad_trace(x, g_out)[1]", result[1], shape))
    return out


def _check_blocks(impl: Any, spec: NetSpec, x: torch.Tensor, trace: torch.Tensor, seed: int) -> None:
    """The training contract: block(spec, k, weights, h) with layer_weights()' layer-k slices
    reproduces trace(x) block by block (it is what the suite trains)."""
    net = impl.build(spec, x.shape[0], _generator(spec, seed))
    weights = {k: w for k, w in net.layer_weights().items() if k != "in"}
    h = x
    for k in range(spec.depth):
        try:
            h = impl.block(spec, k, {name: w[:, k] for name, w in weights.items()}, h)
        except Exception as exc:
            raise contract_error(impl, spec, f"block(spec, {k}, weights, h) raised {type(exc).__name__}: {exc}") from exc
        same, rel = close(trace[:, k + 1], h, spec.torch_dtype)
        if not same:
            raise contract_error(impl, spec, f"block(spec, {k}, weights, h) differs from trace(x)[:, {k + 1}] by {rel:.3g} "
                                    "(relative); expected the block of the built network, functional in layer_weights()")


def _check_trainable(impl: Any, spec: NetSpec, x: torch.Tensor, trace: torch.Tensor, seed: int) -> None:
    """The optimizer route: the blocks it trains, ``trainable_blocks(spec, layer_weights())``, reproduce trace(x)."""
    from reference_impl.module_adapter import networks_states

    net = impl.build(spec, x.shape[0], _generator(spec, seed))
    nets = impl.trainable_blocks(spec, {k: w for k, w in net.layer_weights().items() if k != "in"})
    with torch.no_grad():
        same, rel = close(trace[:, -1], networks_states(nets, x)[-1], spec.torch_dtype)
    if not same:
        raise contract_error(impl, spec, f"the blocks its optimizer trains (trainable_blocks with layer_weights()) differ from "
                                f"trace(x)[:, -1] by {rel:.3g} (relative); expected the built network: a block's "
                                "parameters other than its weights must not be random")


def validate(impl: Any, spec: NetSpec, grad: bool = False, seed: int = 12345, train: bool = False) -> None:
    """Raise ValidationError at the first way ``impl`` breaks the contract on ``spec``; ``train``: also
    the training contract's blocks, for a plug-in the suite trains through them."""
    from .plugins import BrokenImpl

    if isinstance(impl, BrokenImpl):
        raise contract_error(impl, spec, f"its factory raised {impl.error}; no network could be built")
    s, b, d = PROBE_NETWORKS, PROBE_BATCH, spec.input_dim or spec.width
    gen = _generator(spec, seed + 1)
    x = torch.randn(s, b, d, generator=gen, dtype=spec.torch_dtype, device=spec.device)
    g_out = torch.randn(s, b, spec.width, generator=gen, dtype=spec.torch_dtype, device=spec.device) if grad else None
    with global_rngs_kept(spec):
        other, first = _seeded_run(impl, spec, seed, x, g_out, ())
        found = _difference(first, _seeded_run(impl, spec, seed, x, g_out, GLOBAL_RNGS)[1], spec)
        if found is not None:
            culprits = [rng for rng in GLOBAL_RNGS
                        if _difference(first, _seeded_run(impl, spec, seed, x, g_out, (rng,))[1], spec) is not None]
    if found is not None:
        name, rel = found
        which = " and ".join(culprits) or "a source outside torch's, numpy's and Python's global RNGs"
        raise contract_error(impl, spec, f"{name} is not deterministic: two builds from generators with the same seed "
                                f"({seed}) differ by {rel:.3g} (max relative difference) when {which} moved "
                                "between them; expected equal results. Draw every random number from the generator "
                                "passed to build(); code that needs global RNGs can run inside "
                                "reference_impl.rng.seeded_global_rngs(generator)")
    if spec.branch_multiplier != 0 and _difference(first, other, spec) is None:
        raise contract_error(impl, spec, f"two builds from generators with different seeds ({seed + OTHER_SEED} and "
                                         f"{seed}) give the same networks (every output equal); expected different "
                                         "networks: draw every random number from the generator passed to build() (a "
                                         "fixed internal seed, or a generator that is never used, gives this)")
    if train and spec.input_dim is None and trains_through_contract(impl):
        _check_blocks(impl, spec, x, first[0], seed)
    if train and spec.input_dim is None and getattr(impl, "optimizer", None) is not None:
        _check_trainable(impl, spec, x, first[0], seed)
    if spec.input_dim is None:
        same, rel = close(x, first[0][:, 0], spec.torch_dtype)
        if not same:
            raise contract_error(impl, spec, f"trace(x)[:, 0] differs from x by {rel:.3g} (relative); expected h_0 = x "
                                    "because spec.input_dim is None (no input layer)")
    if grad:
        same, rel = close(g_out, first[2][:, -1], spec.torch_dtype)
        if not same:
            raise contract_error(impl, spec, f"grad_trace(x, g_out)[1][:, -1] differs from g_out by {rel:.3g} (relative); "
                                    "expected dLoss/dh_L = g_out for Loss = sum <g_out, h_L>")
        same, rel = close(first[0], first[1], spec.torch_dtype)
        if not same:
            raise contract_error(impl, spec, f"grad_trace(x, g_out)[0] differs from trace(x) by {rel:.3g} (relative); "
                                    "expected the same forward trace")
        check_grad_by_differences(impl, spec, seed, x, g_out)


GLOBAL_RNGS = ("torch's global RNG", "numpy's global RNG", "Python's random module")


@contextmanager
def global_rngs_kept(spec: NetSpec) -> Iterator[None]:
    """Restore torch's, numpy's and Python's global RNG states after the probe moved them."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[spec.device] if spec.device.startswith("cuda") else []):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


OTHER_SEED = 7  # offset of the seed of the build made before each probe build (another network)


def _seeded_run(impl: Any, spec: NetSpec, seed: int, x: torch.Tensor, g_out: torch.Tensor | None,
                moved: tuple[str, ...]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(a run from seed + OTHER_SEED, _run from ``seed`` with the global RNGs named in ``moved`` seeded
    differently (2) from the others (1)): the first build evicts a replay cache (reference_impl/replay.py),
    so the second is real, and tells whether another seed gives other networks."""
    other = _run(impl, spec, seed + OTHER_SEED, x, g_out)
    torch.manual_seed(2 if GLOBAL_RNGS[0] in moved else 1)
    np.random.seed(2 if GLOBAL_RNGS[1] in moved else 1)
    random.seed(2 if GLOBAL_RNGS[2] in moved else 1)
    return other, _run(impl, spec, seed, x, g_out)


def _difference(first: list[torch.Tensor], second: list[torch.Tensor], spec: NetSpec) -> tuple[str, float] | None:
    """The first output that differs between two runs, with its max relative difference, or None."""
    names = ["trace(x)", "grad_trace(x, g_out)[0]", "grad_trace(x, g_out)[1]"]
    for name, a, c in zip(names, first, second):
        same, rel = close(a, c, spec.torch_dtype)
        if not same:
            return name, rel
    return None


FD_DIRECTIONS = 3  # random directions of the finite-difference check
# central-difference step (inputs have entries ~ N(0, 1)) and tolerated relative disagreement. Measured
# on the dense reference, 30 seeds, ReLU, depth 8: float64 agrees to 1e-9; float32 (step 1e-4: smaller
# steps lose to rounding, larger ones cross ReLU kinks) to 0.016 at worst; a transpose bug is off by
# 0.03 (branch multiplier 0.3 / 8) to 0.7 (multiplier 1).
FD_STEP = {torch.float64: 1e-6, torch.float32: 1e-4}
FD_RTOL = {torch.float64: 1e-5, torch.float32: 5e-2}
FD_FLOAT64_BYTES = 2e9  # the float64 probe is built when its dense weights (S L n^2 doubles) fit in this


def _grad_probe(impl: Any, spec: NetSpec, seed: int, x: torch.Tensor,
                g_out: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(network, x, g_out, dLoss/dh_0) for the finite-difference check: in float64 when the plug-in
    builds a float64 network that answers grad_trace with finite float64 tensors (and its dense
    weights would take at most FD_FLOAT64_BYTES), else in ``spec.dtype``."""
    shape = (x.shape[0], spec.depth + 1, x.shape[1], spec.width)
    if spec.torch_dtype != torch.float64 and x.shape[0] * spec.depth * spec.width ** 2 * 8 <= FD_FLOAT64_BYTES:
        wide = spec.with_(dtype="float64")
        try:
            net = impl.build(wide, x.shape[0], _generator(wide, seed))
            x64, g64 = x.double(), g_out.double()
            h, grads = net.grad_trace(x64, g64)
            ok = all(isinstance(t, torch.Tensor) and t.dtype == torch.float64 and tuple(t.shape) == shape
                     and bool(torch.isfinite(t).all()) for t in (h, grads))
            if ok:
                return net, x64, g64, grads[:, 0]
        except Exception:  # noqa: BLE001 - no float64 network: check in the run's own dtype
            pass
    net = build_probe(impl, spec, x.shape[0], seed)
    return net, x, g_out, net.grad_trace(x, g_out)[1][:, 0]


def check_grad_by_differences(impl: Any, spec: NetSpec, seed: int, x: torch.Tensor, g_out: torch.Tensor) -> None:
    """grad_trace's dLoss/dh_0 against central differences of ``trace`` (Loss = sum <g_out, h_L>) along
    FD_DIRECTIONS random directions v of x: (Loss(x + eps v) - Loss(x - eps v)) / 2 eps must equal
    <dLoss/dh_0, dh_0> with dh_0 the matching change of trace's own h_0 (so an input layer needs no
    declared weights). Only forward calls of ``trace``: it holds however trace is written (under
    no_grad, a C extension). In float64 where the plug-in builds float64 networks (tolerance 1e-5),
    else in the run's dtype (float32: 5e-2, so a wrong backward of a network with a small branch
    multiplier, off by less than that, can pass). Left unchecked: a trace that refuses a second input
    (the reference's exact init sampler draws its networks for one input batch: a sampling map, not
    a fixed network)."""
    net, x, g_out, g0 = _grad_probe(impl, spec, seed, x, g_out)
    gen = _generator(spec, seed + 3)
    eps = FD_STEP[x.dtype]
    fd, an = [], []
    for _ in range(FD_DIRECTIONS):
        v = torch.randn(x.shape, generator=gen, dtype=torch.float64, device=x.device).to(x.dtype)
        try:
            plus, minus = net.trace(x + eps * v), net.trace(x - eps * v)
        except Exception:  # noqa: BLE001 - not a fixed network of its input (see the docstring)
            return
        fd.append(((plus[:, -1] - minus[:, -1]).double() * g_out.double()).sum((1, 2)) / (2 * eps))
        an.append(((plus[:, 0] - minus[:, 0]).double() * g0.double()).sum((1, 2)) / (2 * eps))
    fd_t, an_t = torch.stack(fd), torch.stack(an)
    rel = float((fd_t - an_t).norm() / an_t.norm().clamp_min(1e-30))
    if not rel <= FD_RTOL[x.dtype]:
        raise contract_error(impl, spec, f"grad_trace(x, g_out) disagrees with finite differences of trace(x) in "
                                         f"{str(x.dtype).removeprefix('torch.')}: the derivative of Loss = sum <g_out, "
                                         f"h_L> along {FD_DIRECTIONS} random directions differs by {rel:.3g} (relative); "
                                         "expected dLoss/dh_0 (a backward pass through W_l instead of W_l^T, or a "
                                         "missing phi', gives this)")


def probe_spec(params: Mapping[str, Any], device: str, dtype: str) -> NetSpec:
    """A small NetSpec from a claim's parameters: the NetSpec fields among them, sequences -> first
    value (depth -> smallest, capped at MAX_PROBE_DEPTH), run device and dtype."""
    known = {f.name for f in fields(NetSpec)}
    chosen: dict[str, Any] = {}
    for key, value in params.items():
        if key not in known:
            continue
        if isinstance(value, (list, tuple)):
            value = min(value) if key == "depth" else value[0]
        chosen[key] = value
    chosen["depth"] = min(int(chosen.get("depth", MAX_PROBE_DEPTH)), MAX_PROBE_DEPTH)
    chosen.setdefault("width", 16)
    chosen.update(device=device, dtype=dtype)
    return NetSpec(**chosen)


def claim_probe_spec(claim: Any, budget: str, device: str, dtype: str,
                     config: Mapping[str, Any] | None = None) -> NetSpec:
    """The small network a claim's checks build: ``probe_spec`` of its sweep and config (a training
    claim's network has no input layer: training supplies it), in the claim's first declared block
    form unless the sweep or config sets one."""
    sweep = claim.sweep(budget)
    params = {**sweep.fixed, **dict(config or {}), **sweep.axes, **sweep.inner}
    if claim.requires & Capability.TRAIN_STEP:
        params.pop("input_dim", None)
    params.setdefault("block", claim.blocks[0])  # a claim derived for res3 only builds res3 blocks
    return probe_spec(params, device, dtype)


def _swept(sweep: Any, name: str) -> list[Any]:
    """The values a sweep gives ``name`` (an axis or an inner axis), or [] when it is not swept."""
    values = {**sweep.axes, **sweep.inner}.get(name)
    return list(values) if isinstance(values, (list, tuple)) else []


def check_beta_used(impl: Any, spec: NetSpec, betas: list[Any]) -> None:
    """For a claim that sweeps beta: the probe network with the smallest and the largest beta (same seed)
    must differ. Equal outputs mean the plug-in never applies spec.branch_multiplier (a = scale L^-beta),
    and the claim would fit a growth that does not depend on beta at all."""
    values = sorted({float(b) for b in betas})
    if len(values) < 2 or spec.depth < 2 or spec.scale == 0:
        return
    lo, hi = (spec.with_(beta=b) for b in (values[0], values[-1]))
    gen = _generator(spec, 12345 + 5)
    x = torch.randn(PROBE_NETWORKS, PROBE_BATCH, spec.input_dim or spec.width, generator=gen, dtype=spec.torch_dtype,
                    device=spec.device)
    traces = [build_probe(impl, s, PROBE_NETWORKS, 12345).trace(x) for s in (lo, hi)]
    if close(traces[0], traces[1], spec.torch_dtype)[0]:
        raise contract_error(impl, spec, f"the network's growth does not depend on spec.beta: is the multiplier applied? "
                                         f"trace(x) is the same at beta = {values[0]:g} and beta = {values[-1]:g} (depth "
                                         f"{spec.depth}); expected the branch multiplier a = spec.branch_multiplier "
                                         "= scale L^-beta on every residual branch")


def validate_for_claim(claim: Any, impl: Any, budget: str, device: str, dtype: str,
                       config: Mapping[str, Any] | None = None) -> Problem | None:
    """What is wrong with ``impl`` for ``claim`` (verdict and message), or None if the probe passes.

    A build that raises NotImplementedError means "this plug-in does not offer that network":
    verdict 'not applicable' with the plug-in's reason (never a pass); anything else is 'error'."""
    try:
        spec = claim_probe_spec(claim, budget, device, dtype, config)
    except (SpecError, TypeError, ValueError):  # parameters that do not form a NetSpec: the cells will say why
        return None
    try:
        validate(impl, spec, grad=bool(claim.requires & Capability.GRAD_TRACE),
                 train=bool(claim.requires & Capability.TRAIN_STEP))
        check_beta_used(impl, spec, _swept(claim.sweep(budget), "beta"))
    except Unsupported as exc:
        return Problem("not applicable", str(exc))
    except ValidationError as exc:
        return Problem("error", str(exc))
    return None


def check_plugin(claim: Any, impl: Any, budget: str, device: str, dtype: str,
                 config: Mapping[str, Any] | None = None) -> Problem | None:
    """Everything checked before a claim's cells run: ``validate_for_claim``, then
    ``independence_problem``; plug-in code that escapes them (sys.exit in build) is an error too."""
    try:
        return validate_for_claim(claim, impl, budget, device, dtype, config) or \
            independence_problem(claim, impl, budget, device, dtype, config)
    except (Exception, SystemExit) as exc:
        return Problem("error", f"plug-in {impl_name(impl)!r} raised {type(exc).__name__}: {exc} during validation")


MAX_INDEPENDENCE_NETWORKS = 64  # S of the independence probe: the claim's own, up to this


def check_independent(impl: Any, spec: NetSpec, networks: int, seed: int = 12345) -> None:
    """Raise ValidationError when two of the ``networks`` networks of one build give identical hidden
    states on one shared input: the S networks must be independent draws (a batching bug that reuses
    one network's weights for all S gives a zero-spread ensemble and a falsely narrow CI). Skipped
    when the spec implies no spread (branch multiplier 0: every network is the identity)."""
    s = min(networks, MAX_INDEPENDENCE_NETWORKS)
    if s < 2 or spec.branch_multiplier == 0:
        return
    gen = _generator(spec, seed + 2)
    x = torch.randn(1, PROBE_BATCH, spec.input_dim or spec.width, generator=gen, dtype=spec.torch_dtype,
                    device=spec.device).expand(s, -1, -1).contiguous()
    h_last = _run(impl, spec, seed, x, None)[0][:, -1].reshape(s, -1)
    distinct = torch.unique(h_last, dim=0).shape[0]
    if distinct < s:
        raise contract_error(impl, spec, f"only {distinct} of the {s} networks of one build differ (identical hidden states "
                                "h_L on one shared input); expected S independent networks drawn from the generator")


def independence_problem(claim: Any, impl: Any, budget: str, device: str, dtype: str,
                         config: Mapping[str, Any] | None = None) -> Problem | None:
    """``check_independent`` on the claim's probe network with the claim's S, as a verdict 'error'."""
    try:
        spec = claim_probe_spec(claim, budget, device, dtype, config)
    except (SpecError, TypeError, ValueError):
        return None
    try:
        check_independent(impl, spec, claim.sweep(budget).networks)
    except Unsupported as exc:
        return Problem("not applicable", str(exc))
    except ValidationError as exc:
        return Problem("error", str(exc))
    return None
