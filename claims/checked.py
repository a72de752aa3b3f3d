"""Every tensor a cell receives from a plug-in, checked where it is used.

Validation (claims/validate.py) probes one small network per claim; a plug-in can still break the
contract only on the networks a sweep builds (deeper, wider, other S). :class:`CheckedImpl` wraps
the plug-in a measurement sees (``ctx.impl``): ``build`` returns a :class:`CheckedEnsemble` whose
``trace``, ``grad_trace`` and ``layer_weights`` check shape, dtype, device and finiteness, h_0 = x
(no input layer) and dLoss/dh_L = g_out on the tensors the cell already has: no extra forward
pass, a few elementwise passes over the trace. A failure raises ValidationError naming the plug-in,
the spec and what was wrong; ``run.measure_cell`` adds the cell's parameters. Everything else
(name, capabilities, ``train_runs``) passes through unchanged.
"""
from __future__ import annotations

from typing import Any

import torch

from reference_impl.protocol import NetSpec

from .validate import _check_tensor, _check_weights, _close, _fail


class CheckedEnsemble:
    """An Ensemble whose outputs are checked against the contract before the measurement sees them."""

    def __init__(self, impl: Any, spec: NetSpec, networks: int, net: Any) -> None:
        self.impl, self.spec, self.networks, self.net = impl, spec, networks, net

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], self.spec.depth + 1, x.shape[1], self.spec.width)

    def _check_start(self, x: torch.Tensor, h: torch.Tensor, call: str) -> None:
        if self.spec.input_dim is None:
            same, rel = _close(x, h[:, 0], self.spec.torch_dtype)
            if not same:
                raise _fail(self.impl, self.spec, f"{call}[:, 0] differs from x by {rel:.3g} (relative); expected "
                                                  "h_0 = x because spec.input_dim is None (no input layer)")

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states h_0..h_L (S, L+1, B, n), checked."""
        h = _check_tensor(self.impl, self.spec, "trace(x)", self.net.trace(x), self._shape(x))
        self._check_start(x, h, "trace(x)")
        return h

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(trace, dLoss/dh_k), both (S, L+1, B, n), checked; dLoss/dh_L must be g_out."""
        result = self.net.grad_trace(x, g_out)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise _fail(self.impl, self.spec, f"grad_trace(x, g_out) returned {type(result).__name__}; "
                                              "expected a pair (trace, grads)")
        shape = self._shape(x)
        h = _check_tensor(self.impl, self.spec, "grad_trace(x, g_out)[0]", result[0], shape)
        g = _check_tensor(self.impl, self.spec, "grad_trace(x, g_out)[1]", result[1], shape)
        self._check_start(x, h, "grad_trace(x, g_out)[0]")
        same, rel = _close(g_out, g[:, -1], self.spec.torch_dtype)
        if not same:
            raise _fail(self.impl, self.spec, f"grad_trace(x, g_out)[1][:, -1] differs from g_out by {rel:.3g} "
                                              "(relative); expected dLoss/dh_L = g_out for Loss = sum <g_out, h_L>")
        return h, g

    def layer_weights(self) -> dict[str, torch.Tensor]:
        """The declared weights, checked (Capability.WEIGHTS)."""
        _check_weights(self.impl, self.spec, self.net, self.networks)
        return self.net.layer_weights()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.net, name)


class CheckedImpl:
    """A plug-in whose every built ensemble is a :class:`CheckedEnsemble`; all else passes through."""

    def __init__(self, impl: Any) -> None:
        self.impl = impl

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> CheckedEnsemble:
        net = self.impl.build(spec, n_networks, generator)
        if not callable(getattr(net, "trace", None)):
            raise _fail(self.impl, spec, f"build returned {type(net).__name__}, which has no trace method; "
                                         "expected an Ensemble")
        return CheckedEnsemble(self.impl, spec, n_networks, net)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.impl, name)
