"""Writing one nn.Module network for a NetSpec: refuse what the code cannot express, draw its block
weights from the NetSpec's law with the generator passed in (the module adapter's factories)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .init import draw_layer_weights
from .protocol import NetSpec


def require(spec: NetSpec, **allowed: Any) -> None:
    """Raise NotImplementedError naming every NetSpec field whose value the code cannot express;
    a field's allowed value is one value or a tuple / set / list of values."""
    wrong = []
    for field, ok in allowed.items():
        values = tuple(ok) if isinstance(ok, (tuple, set, list, frozenset)) else (ok,)
        if getattr(spec, field) not in values:
            wrong.append(f"{field}={getattr(spec, field)!r} (expresses {' or '.join(map(repr, values))})")
    if wrong:
        raise NotImplementedError("this network cannot express " + ", ".join(wrong))


def draw_block_weights(net: nn.Module, spec: NetSpec, generator: torch.Generator, blocks: str = "blocks",
                       names: Sequence[str] = ("V.weight",)) -> nn.Module:
    """Allocate ``net`` (built on the meta device in spec's dtype) on spec.device and draw each block's
    named n x n weights with reference_impl.init's law for spec.init (Gaussian, uniform, fBm, RBF:
    variance sigma_w2 / n, correlated across blocks as declared), block weight by block weight from
    ``generator``; every other parameter is set to NaN for the caller to set (the module adapter names
    one left unset: "parameters outside the drawn block weights are uninitialised")."""
    wrong = sorted({str(p.dtype) for p in net.parameters()} - {str(spec.torch_dtype)})
    if wrong:  # converting here would break inside torch.func (module.to mutates .data)
        raise ValueError(f"the network's parameters are {', '.join(wrong)}; build its layers with "
                         f"dtype=spec.torch_dtype ({spec.torch_dtype})")
    net = net.to_empty(device=spec.device)
    layers = net.get_submodule(blocks)
    if len(layers) != spec.depth:
        raise ValueError(f"'{blocks}' has {len(layers)} blocks; expected spec.depth = {spec.depth}")
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(float("nan"))  # to_empty leaves memory as it was (1e26, inf): make an unset parameter visible
        for name in names:
            drawn = draw_layer_weights(spec, 1, (spec.width, spec.width), generator)[0]  # (L, n, n)
            for block, w in zip(layers, drawn):
                block.get_parameter(name).copy_(w)
    return net


def stacked_block_weights(spec: NetSpec, n_networks: int, generator: torch.Generator, blocks: str = "blocks",
                          names: Sequence[str] = ("V.weight",)) -> dict[str, torch.Tensor]:
    """The weights draw_block_weights gives S networks, drawn for all of them at once: parameter name
    (``blocks.k.name``) -> (S, n, n), for ModuleImpl's ``draw``. One fill per name, network-major, so
    for a single name with L n^2 a multiple of 16 (torch's CPU normal fill works in blocks of 16) it is
    the same stream as S factory calls: bit for bit for Gaussian and uniform weights, to rounding for
    fBm / RBF (their normals are mixed by one batched GEMM); otherwise the same law."""
    out = {}
    for name in names:
        drawn = draw_layer_weights(spec, n_networks, (spec.width, spec.width), generator)  # (S, L, n, n)
        out.update({f"{blocks}.{k}.{name}": drawn[:, k] for k in range(spec.depth)})
    return out
