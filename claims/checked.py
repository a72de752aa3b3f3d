"""Every tensor a cell receives from a plug-in, checked where it is used.

Validation (claims/validate.py) probes one small network per claim; a plug-in can still break the
contract only on the networks a sweep builds (deeper, wider, other S). :class:`CheckedImpl` wraps
the plug-in a measurement sees (``ctx.impl``): ``build`` returns a :class:`CheckedEnsemble` whose
``trace``, ``grad_trace`` and ``layer_weights`` check shape, dtype, device and finiteness, h_0 = x
(no input layer), dLoss/dh_L = g_out and that the inputs x and g_out come back unchanged (against
a private copy taken before the call: an in-place change would also change the x that h_0 is
compared with, and the x the measurement reuses), on the tensors the cell already has: no extra
forward pass, a few elementwise passes over the trace. ``train_runs`` results are checked against
the runs requested (every run present, S networks, T+1 steps, the run's own depth). A failure
raises ValidationError naming the plug-in, the spec and what was wrong; ``run.measure_cell`` adds
the cell's parameters.

Declining: a NotImplementedError from ``build`` is the plug-in declining the spec (raised on as
:class:`Declined`: verdict ``not applicable``); one from any other plug-in method (trace,
grad_trace, layer_weights, block, trainable_blocks, train_runs: a missing kernel, an unfinished
code path) is a failure of the plug-in (:class:`PluginFault`: verdict ``error`` naming the cell).
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Mapping, Sequence

import torch

from reference_impl.protocol import NetSpec

from .validate import ValidationError, check_tensor, check_unchanged, check_weights, close, contract_error, impl_name

PLUGIN_METHODS = ("block", "trainable_blocks", "train_runs")  # optional plug-in methods the suite calls


class Declined(Exception):
    """The plug-in's ``build`` raised NotImplementedError: it does not offer that network."""


class PluginFault(RuntimeError):
    """A plug-in method other than ``build`` raised NotImplementedError (a failure, not a decline)."""


def _no_decline(impl: Any, call: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with a NotImplementedError it raises turned into PluginFault naming ``call``."""
    @wraps(method)
    def call_it(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except NotImplementedError as exc:
            raise PluginFault(f"plug-in {impl_name(impl)!r}: {call} raised NotImplementedError: {exc} (only build "
                              "may decline a network; anywhere else it is a failure)") from exc
    return call_it


class CheckedEnsemble:
    """An Ensemble whose outputs are checked against the contract before the measurement sees them."""

    def __init__(self, impl: Any, spec: NetSpec, networks: int, net: Any) -> None:
        self.impl, self.spec, self.networks, self.net = impl, spec, networks, net

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], self.spec.depth + 1, x.shape[1], self.spec.width)

    def _check_start(self, x: torch.Tensor, h: torch.Tensor, call: str) -> None:
        if self.spec.input_dim is None:
            same, rel = close(x, h[:, 0], self.spec.torch_dtype)
            if not same:
                raise contract_error(self.impl, self.spec, f"{call}[:, 0] differs from x by {rel:.3g} (relative); expected "
                                                  "h_0 = x because spec.input_dim is None (no input layer)")

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states h_0..h_L (S, L+1, B, n), checked; x must come back unchanged."""
        before = x.clone()
        h = _no_decline(self.impl, "trace(x)", self.net.trace)(x)
        check_unchanged(self.impl, self.spec, "trace(x)", "x", before, x)
        h = check_tensor(self.impl, self.spec, "trace(x)", h, self._shape(x))
        self._check_start(before, h, "trace(x)")
        return h

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(trace, dLoss/dh_k), both (S, L+1, B, n), checked; dLoss/dh_L must be g_out; x and g_out
        must come back unchanged."""
        x_before, g_before = x.clone(), g_out.clone()
        result = _no_decline(self.impl, "grad_trace(x, g_out)", self.net.grad_trace)(x, g_out)
        check_unchanged(self.impl, self.spec, "grad_trace(x, g_out)", "x", x_before, x)
        check_unchanged(self.impl, self.spec, "grad_trace(x, g_out)", "g_out", g_before, g_out)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise contract_error(self.impl, self.spec, f"grad_trace(x, g_out) returned {type(result).__name__}; "
                                              "expected a pair (trace, grads)")
        shape = self._shape(x)
        h = check_tensor(self.impl, self.spec, "grad_trace(x, g_out)[0]", result[0], shape)
        g = check_tensor(self.impl, self.spec, "grad_trace(x, g_out)[1]", result[1], shape)
        self._check_start(x_before, h, "grad_trace(x, g_out)[0]")
        same, rel = close(g_before, g[:, -1], self.spec.torch_dtype)
        if not same:
            raise contract_error(self.impl, self.spec, f"grad_trace(x, g_out)[1][:, -1] differs from g_out by {rel:.3g} "
                                              "(relative); expected dLoss/dh_L = g_out for Loss = sum <g_out, h_L>")
        return h, g

    def layer_weights(self) -> dict[str, torch.Tensor]:
        """The declared weights, checked (Capability.WEIGHTS)."""
        check_weights(self.impl, self.spec, self.net, self.networks)
        return _no_decline(self.impl, "layer_weights()", self.net.layer_weights)()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.net, name)


# RunResult fields that are (S, T+1, L) when present, L the run's depth (reference_impl.training.RunResult)
PER_LAYER = ("coupling", "first_update", "first_change", "features")


def check_train_runs(impl: Any, spec: NetSpec, cfg: Any, n_networks: int, runs: Sequence[Any] | None,
                     out: Any) -> None:
    """``train_runs`` returned one result per requested run with S = n_networks networks and T+1 =
    cfg.steps + 1 entries per trajectory, f_train with cfg.n_train inputs, and every per-layer record
    with the run's own depth; raise ValidationError naming the run and what came back otherwise."""
    def fail(what: str) -> ValidationError:
        return contract_error(impl, spec, f"train_runs {what}")

    if not isinstance(out, Mapping):
        raise fail(f"returned {type(out).__name__}; expected a dict of run name -> RunResult")
    wanted = list(runs) if runs is not None else []
    missing = [r.name for r in wanted if r.name not in out]
    if missing:
        raise fail(f"returned runs {sorted(out)}; the runs {missing} requested are missing")
    steps = int(getattr(cfg, "steps", 0)) + 1
    for run in wanted:
        result = out[run.name]
        expect = {"f_train": (n_networks, steps, getattr(cfg, "n_train", None)),
                  "f_test": (n_networks, steps, getattr(cfg, "n_test", None)), "loss": (n_networks, steps),
                  "norm_ratio": (n_networks, steps), "norm_ratio_h1": (n_networks, steps), **{name: (n_networks, steps, run.depth) for name in PER_LAYER}}
        for name, shape in expect.items():
            value = getattr(result, name, None)
            if value is None:
                continue
            got = tuple(getattr(value, "shape", ()))
            if len(got) != len(shape) or any(w is not None and g != w for g, w in zip(got, shape)):
                dims = "(S, T+1, L)" if name in PER_LAYER else "(S, T+1, B)" if len(shape) == 3 else "(S, T+1)"
                raise fail(f"run {run.name!r} (depth {run.depth}): {name} has shape {got}; expected {dims} = "
                           f"{tuple('?' if w is None else w for w in shape)} for S = {n_networks} networks, "
                           f"T = {steps - 1} steps" + (f", L = {run.depth} (the run's depth)" if name in PER_LAYER else ""))
    if spec.branch_multiplier == 0:  # every depth is the identity network: equal outputs are right
        return
    for i, a in enumerate(wanted):
        for b in wanted[i + 1:]:
            fa, fb = getattr(out[a.name], "f_train", None), getattr(out[b.name], "f_train", None)
            if a.depth != b.depth and isinstance(fa, torch.Tensor) and isinstance(fb, torch.Tensor) \
                    and fa.shape == fb.shape and torch.equal(fa, fb):
                raise fail(f"returned the same f_train for run {a.name!r} (depth {a.depth}) and run {b.name!r} "
                           f"(depth {b.depth}); expected each run trained at its own depth (Run.depth)")


class CheckedImpl:
    """A plug-in whose every built ensemble is a :class:`CheckedEnsemble` and whose ``train_runs``
    results are checked; all else passes through."""

    def __init__(self, impl: Any) -> None:
        self.impl = impl

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> CheckedEnsemble:
        try:
            net = self.impl.build(spec, n_networks, generator)
        except NotImplementedError as exc:
            raise Declined(f"plug-in {impl_name(self.impl)!r} declined a network this claim builds: "
                           f"NotImplementedError: {exc}") from exc
        if not callable(getattr(net, "trace", None)):
            raise contract_error(self.impl, spec, f"build returned {type(net).__name__}, which has no trace method; "
                                         "expected an Ensemble")
        return CheckedEnsemble(self.impl, spec, n_networks, net)

    def _train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator,
                    runs: Sequence[Any] | None = None, **options: Any) -> Any:
        runs = list(runs) if runs is not None else None
        out = _no_decline(self.impl, "train_runs", self.impl.train_runs)(spec, cfg, n_networks, generator, runs,
                                                                          **options)
        check_train_runs(self.impl, spec, cfg, n_networks, runs, out)
        return out

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.impl, name)
        if name == "train_runs" and value is not None:
            return self._train_runs
        if name in PLUGIN_METHODS and callable(value):
            return _no_decline(self.impl, name, value)
        return value
