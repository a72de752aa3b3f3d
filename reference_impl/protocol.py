"""The contract a ResNet implementation meets so that every claim can run against it.

Tensor dimensions in docstrings: S networks, B inputs, n width, L depth, d input dimension.
An implementation is a factory-made object with a ``name``, a ``version``, the
``capabilities`` it offers and a ``build`` method that draws S independent networks
from one seeded ``torch.Generator``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from enum import Flag, auto
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

import torch

ACTIVATIONS = ("relu", "tanh", "erf", "gelu")
INITS = ("gaussian", "uniform", "fbm", "rbf")
BLOCKS = ("res1", "res3", "res1w")
INPUT_SCALES = ("unit", "sigma_w2")
PARAMETRIZATIONS = ("standard", "depth_mup")
DTYPES = ("float32", "float64")


class SpecError(ValueError):
    """A network specification with a value outside what the contract allows."""


@dataclass(frozen=True)
class NetSpec:
    """What network to build: the same object describes it to every implementation.

    Residual update (pre-activation, ``preact=True``):
      res1: h_{k+1} = h_k + a * V_{k+1} phi(h_k)
      res3: h_{k+1} = h_k + a * V_{k+1} phi(W_{k+1} h_k)
      res1w: h_{k+1} = h_k + a * phi(V_{k+1} h_k + b_{k+1})   (the weight inside the nonlinearity)
    post-activation (``preact=False``): h_{k+1} = phi(h_k + a * V_{k+1} h_k) for res1,
    phi(h_k + a * V_{k+1} phi(W_{k+1} h_k)) for res3, phi(h_k + a * phi(V_{k+1} h_k + b_{k+1})) for res1w.
    Branch multiplier a = scale * depth**(-beta) (Marion et al.'s alpha_L = L^-beta; Fischer
    et al.'s alpha is ``scale`` with beta = 0). Weight entries have variance sigma_w2 / n;
    a bias of variance bias_var is added inside the branch, after V (inside phi for res1w).
    ``input_dim=None`` means no input layer: the input x is h_0 itself; otherwise h_0 = U x with
    U entries N(0, 1/d) (``input_scale="unit"``) or N(0, sigma_w2/d) (``input_scale="sigma_w2"``).

    Weight families (``init``): each entry of V_k (and W_k) has variance s^2 = sigma_w2 / n, entries
    are independent across (i, j) and networks, and one entry's sequence over the tensor index
    k = 0..L-1 (layer k + 1) is, with z_k i.i.d. N(0, 1) and d = k - m the layer lag,
      gaussian: s z_k;  uniform: s sqrt(3) u_k, u_k i.i.d. U[-1, 1];
      fbm (init_param = Hurst index H in (0, 1)): s xi_k, unit-variance fBm increments,
        corr(xi_k, xi_m) = (|d+1|^2H - 2|d|^2H + |d-1|^2H) / 2;
      rbf (init_param = kernel variance v > 0, Marion et al.'s "regularity"): s xi_k with
        xi_k = (Z((k+1)/L) - Z(k/L)) / sqrt(2 (1 - K(1))), Z a GP on [0, 1] with kernel
        exp(-(t - t')^2 / (2 v)) on linspace(0, 1, L + 1), K(m) = exp(-m^2 / (2 v L^2)), so
        corr(xi_k, xi_m) = (2 K(d) - K(d+1) - K(d-1)) / (2 (1 - K(1))).
    """

    width: int
    depth: int
    block: Literal["res1", "res3"] = "res1"
    beta: float = 0.5
    scale: float = 1.0
    activation: str = "relu"
    init: Literal["gaussian", "uniform", "fbm", "rbf"] = "gaussian"
    init_param: float | None = None
    sigma_w2: float = 1.0
    bias_var: float = 0.0
    preact: bool = True
    input_dim: int | None = None
    input_scale: Literal["unit", "sigma_w2"] = "unit"
    parametrization: Literal["standard", "depth_mup"] = "standard"
    dtype: Literal["float32", "float64"] = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        def bad(field: str, allowed: str) -> SpecError:
            return SpecError(f"NetSpec.{field}={getattr(self, field)!r} is invalid: {allowed}")

        if not isinstance(self.width, int) or self.width < 1:
            raise bad("width", "expected a positive integer")
        if not isinstance(self.depth, int) or self.depth < 1:
            raise bad("depth", "expected a positive integer (number of residual blocks)")
        if self.block not in BLOCKS:
            raise bad("block", f"allowed: {', '.join(BLOCKS)}")
        if self.activation not in ACTIVATIONS:
            raise bad("activation", f"allowed: {', '.join(ACTIVATIONS)}")
        if self.init not in INITS:
            raise bad("init", f"allowed: {', '.join(INITS)}")
        if self.init == "fbm" and not (self.init_param is not None and 0 < self.init_param < 1):
            raise bad("init_param", "fbm needs a Hurst index in (0, 1)")
        if self.init == "rbf" and not (self.init_param is not None and self.init_param > 0):
            raise bad("init_param", "rbf needs a positive bandwidth")
        if not (math.isfinite(self.beta) and math.isfinite(self.scale)):
            raise bad("beta", "beta and scale must be finite")
        if not (self.sigma_w2 > 0 and math.isfinite(self.sigma_w2)):
            raise bad("sigma_w2", "expected a positive finite weight variance")
        if not (self.bias_var >= 0 and math.isfinite(self.bias_var)):
            raise bad("bias_var", "expected a non-negative finite bias variance")
        if self.input_dim is not None and (not isinstance(self.input_dim, int) or self.input_dim < 1):
            raise bad("input_dim", "expected None or a positive integer")
        if self.input_scale not in INPUT_SCALES:
            raise bad("input_scale", f"allowed: {', '.join(INPUT_SCALES)}")
        if self.input_scale != "unit" and self.input_dim is None:
            raise bad("input_scale", "an input-layer variance needs an input layer (set input_dim)")
        if self.parametrization not in PARAMETRIZATIONS:
            raise bad("parametrization", f"allowed: {', '.join(PARAMETRIZATIONS)}")
        if self.dtype not in DTYPES:
            raise bad("dtype", f"allowed: {', '.join(DTYPES)}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise bad("device", "allowed: cpu, cuda, cuda:N")

    @property
    def branch_multiplier(self) -> float:
        """a = scale * L^-beta: the residual-branch scaling (Marion et al.'s alpha_L)."""
        return self.scale * self.depth ** (-self.beta)

    @property
    def input_variance(self) -> float:
        """d times the variance of an input-layer entry: 1, or sigma_w2 (``input_scale="sigma_w2"``)."""
        return self.sigma_w2 if self.input_scale == "sigma_w2" else 1.0

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NetSpec":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown NetSpec field(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def with_(self, **changes: Any) -> "NetSpec":
        return replace(self, **changes)


@dataclass(frozen=True)
class Family:
    """The networks a plug-in implements, declared as ``impl.family`` (optional).

    A claim runs on the plug-in in its family: a claim derived for one of ``blocks`` builds its probe
    and sweep with that block form (claims.families); a claim derived for other block forms only is
    `not applicable`, with that reason, never run outside its derivation. ``preact``: the pre- (True)
    and post-activation (False) forms it builds; ``activations``: the activations it builds;
    ``input_layer``: the network has its own input layer (applied when a NetSpec has ``input_dim``;
    without one the suite supplies its frozen N(0, 1/d) input layer, reference_impl.module_adapter);
    ``bias``: its blocks can carry branch biases (``bias_var > 0``).
    """

    blocks: tuple[str, ...] = ("res1",)
    preact: tuple[bool, ...] = (True,)
    activations: tuple[str, ...] = ACTIVATIONS
    input_layer: bool = False
    bias: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("blocks", BLOCKS), ("preact", (True, False)), ("activations", ACTIVATIONS)):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values or any(v not in allowed for v in values):
                raise SpecError(f"Family.{name}={values!r} is invalid: expected a non-empty tuple of {allowed}")

    def describe(self) -> str:
        """One phrase: ``res3 pre-activation blocks (relu, tanh), own input layer, no biases``."""
        forms = " or ".join({True: "pre-activation", False: "post-activation"}[p] for p in self.preact)
        return (f"{' and '.join(self.blocks)} {forms} blocks ({', '.join(self.activations)}), "
                f"{'own' if self.input_layer else 'no'} input layer, {'with' if self.bias else 'no'} biases")


class Capability(Flag):
    """What an implementation can do; a claim needing more is reported `not applicable`."""

    FORWARD_TRACE = auto()
    GRAD_TRACE = auto()
    TRAIN_STEP = auto()
    WEIGHTS = auto()


class Ensemble(Protocol):
    """S networks built from one NetSpec. ``trace`` is required; the other methods belong to the
    capability named in their docstring and are only called when the implementation declares it."""

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states h_0..h_L: x (S, B, d) -> (S, L+1, B, n)."""

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward trace and dLoss/dh_k for Loss = sum <g_out, h_L>: g_out (S, B, n) ->
        ((S, L+1, B, n), (S, L+1, B, n)). Needs Capability.GRAD_TRACE."""

    def layer_weights(self) -> dict[str, torch.Tensor]:
        """The weights the networks use, by name: "V" (S, L, n, n), for res3 also "W" (S, L, n, n),
        with an input layer "in" (S, n, d); layer k of the NetSpec formulas is index k - 1.
        Read-only for callers. Needs Capability.WEIGHTS."""


class Trainer(Protocol):
    """Training (Capability.TRAIN_STEP): the plug-in's network, the suite's training.

    The contract (reference_impl.training.train_network): with Capability.WEIGHTS, ``block(spec, k, weights,
    h)`` applies block k (0-based) of a network of ``spec`` to h (S, B, n) with the given weights,
    named and shaped as the layer-k slices of ``layer_weights()`` ("V" (S, n, n), "W" for res3):
    differentiable, batched over S, every other parameter of the block at its built value. The suite
    draws the initial weights through ``build`` and adds the task, the frozen muP input and readout
    layers, SGD, depth coupling, the decoupled backward passes and the coupling records.
    ``train_runs`` is an optional fast path that replaces all of it (the reference's exact lazy
    sampler); a train_runs that calls reference_impl.training.train trains the reference's network,
    and results say so."""

    def block(self, spec: NetSpec, k: int, weights: Mapping[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """h_{k+1} (S, B, n) from h_k (S, B, n) with block k's weights."""

    def train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator,
                   runs: Sequence[Any], **options: Any) -> dict[str, Any]:
        """Train S networks drawn from ``generator`` with SGD under ``cfg`` (reference_impl.training's
        TrainConfig: the task, the depth-muP learning rate, frozen input and readout layers); every
        run (a training.Run) starts from the same initial weights; returns a training.RunResult per
        run name. The reference's ``training.train`` is the specification; ``options`` (path,
        fine_depth, chunk, threads) may be ignored. (Annotated Any: the protocol does not import the
        training engine, which imports it.)"""


@runtime_checkable
class ResNetImpl(Protocol):
    """A plug-in: ``build`` must draw every random number from ``generator``.

    ``capabilities`` says which optional parts exist: GRAD_TRACE (Ensemble.grad_trace), WEIGHTS
    (Ensemble.layer_weights), TRAIN_STEP (a ``block`` method with WEIGHTS, or
    ``train_runs``: the Trainer protocol). A claim that needs a capability the implementation lacks is `not applicable`. ``build`` raises
    NotImplementedError for a NetSpec the implementation does not support (a block form, an init
    family): the claims that need it are `not applicable`, the others run.
    """

    name: str
    version: str
    capabilities: Capability

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble: ...
