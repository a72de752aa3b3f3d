"""Running code that draws from global RNGs as if it drew from the generator passed to ``build``.

Research code often initializes weights with ``torch.nn.init`` (torch's global RNG), ``np.random``
(numpy's global RNG) or ``random``. The contract asks every random number to come from the
generator given to ``build`` (so a cell's networks depend on its seed alone). Wrap such code in
``seeded_global_rngs(generator)``: it draws one 64-bit seed from the generator, seeds torch's,
numpy's and Python's global RNGs from it, runs the body, and restores the three previous states::

    def build(self, spec, n_networks, generator):
        nets = []
        for _ in range(n_networks):                 # one network at a time, as the research code does
            with seeded_global_rngs(generator):
                nets.append(ResearchResNet(spec.width, spec.depth))   # uses nn.init / np.random inside
        ...

Every network then depends on the generator's state alone, and drawing the seed advances the
generator, so the next network gets another one.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def draw_seed(generator: torch.Generator) -> int:
    """A 63-bit seed drawn from ``generator`` (advances it)."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator, device=generator.device).item())


@contextmanager
def seeded_global_rngs(generator: torch.Generator) -> Iterator[int]:
    """Seed torch's (CPU and CUDA), numpy's and Python's global RNGs from one draw of ``generator``
    for the body, then restore their previous states; yields the seed used."""
    seed = draw_seed(generator)
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # also seeds every CUDA device
        np.random.seed(seed % 2**32)  # numpy's legacy global RNG takes 32-bit seeds
        random.seed(seed)
        try:
            yield seed
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
