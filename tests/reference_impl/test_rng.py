"""seeded_global_rngs: global-RNG code becomes a function of the passed generator, states restored."""
import random

import numpy as np
import torch

from reference_impl.rng import seeded_global_rngs


def _draw_all() -> tuple[float, float, float]:
    return float(torch.rand(())), float(np.random.random_sample()), random.random()


def test_the_same_generator_state_gives_the_same_global_draws_whatever_the_global_state():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    with seeded_global_rngs(torch.Generator().manual_seed(7)):
        first = _draw_all()
    torch.manual_seed(2), np.random.seed(2), random.seed(2)
    with seeded_global_rngs(torch.Generator().manual_seed(7)):
        second = _draw_all()
    assert first == second
    with seeded_global_rngs(torch.Generator().manual_seed(8)):
        assert _draw_all() != first


def test_previous_global_states_are_restored_and_the_generator_advances():
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    expected = _draw_all()
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    gen = torch.Generator().manual_seed(0)
    before = gen.get_state()
    with seeded_global_rngs(gen) as seed:
        _draw_all()
    assert _draw_all() == expected
    assert not torch.equal(gen.get_state(), before) and isinstance(seed, int)
