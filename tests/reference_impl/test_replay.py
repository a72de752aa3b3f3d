"""ReplayCache: replays exactly what drawing would return and leaves the generator where drawing would."""
import torch

from reference_impl.replay import ReplayCache


def _draw(spec, s, gen):
    return torch.randn(s, spec, generator=gen)


def test_replay_equals_a_fresh_draw_and_moves_the_generator_the_same_way():
    calls = []
    cache = ReplayCache(lambda spec, s, gen: calls.append(1) or _draw(spec, s, gen))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    first = cache(3, 2, g1, key=3)
    replayed = cache(3, 2, g2, key=3)
    assert len(calls) == 1 and torch.equal(first, replayed)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_another_key_size_or_generator_state_draws_again():
    calls = []
    cache = ReplayCache(lambda spec, s, gen: calls.append(1) or _draw(spec, s, gen))
    cache(3, 2, torch.Generator().manual_seed(5), key=3)
    cache(4, 2, torch.Generator().manual_seed(5), key=4)
    cache(4, 3, torch.Generator().manual_seed(5), key=4)
    cache(4, 3, torch.Generator().manual_seed(6), key=4)
    assert len(calls) == 4
