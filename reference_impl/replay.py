"""A one-entry replay cache for slow ``build`` methods.

Claims rebuild identical networks many times: they sweep beta (and other forward-only fields) on the
same networks, re-seeding the generator identically for every value (common random numbers). A
plug-in whose weight draw is slow can replay its last draw instead::

    replay = ReplayCache(draw)                       # draw(spec, n_networks, generator) -> weights

    def build(self, spec, n_networks, generator):
        weights = replay(spec, n_networks, generator, key=(spec.width, spec.depth, spec.init, ...))
        ...

``key`` must hold every NetSpec field the draw depends on (not beta, scale, activation or preact
when those act only in the forward pass). A replay is exact: it happens only when the key, S and
the generator's state equal those of the last draw, and it leaves the generator in the state the
draw left it, so results are unchanged. The draw's return value is returned as is (shared, not
copied): do not modify it in place.

The plug-in validation (claims/validate.py) builds another seed between its two builds of the same
seed, so a one-entry cache is evicted and its determinism probe still checks the real draw.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

import torch


class ReplayCache:
    """Replays the last ``draw(spec, n_networks, generator)`` when key, S and generator state repeat."""

    def __init__(self, draw: Callable[[Any, int, torch.Generator], Any]) -> None:
        self.draw = draw
        self._key: tuple | None = None
        self._value: Any = None
        self._state_after: torch.Tensor | None = None

    def __call__(self, spec: Any, n_networks: int, generator: torch.Generator, key: Hashable) -> Any:
        full = (key, n_networks, str(generator.device), bytes(generator.get_state().cpu().numpy()))
        if full == self._key:
            generator.set_state(self._state_after)
            return self._value
        self._key = None  # a failed draw leaves no stale entry
        self._value = self.draw(spec, n_networks, generator)
        self._state_after, self._key = generator.get_state(), full
        return self._value
