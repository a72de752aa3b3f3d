from claims.spec import Sweep
from claims.sweep import cell_seed, cells


def test_seeds_depend_on_the_cell_not_on_the_order():
    a = Sweep(axes={"depth": (4, 8), "width": (16,)}, replicates=2, networks=3)
    b = Sweep(axes={"width": (16,), "depth": (8, 4)}, replicates=2, networks=3)
    seeds_a = {(c.params["depth"], c.replicate): c.seed for c in cells("x", a, 7)}
    seeds_b = {(c.params["depth"], c.replicate): c.seed for c in cells("x", b, 7)}
    assert seeds_a == seeds_b and len(set(seeds_a.values())) == 4


def test_seed_changes_with_master_seed_claim_and_replicate():
    base = cell_seed(0, "c", {"depth": 4}, 0)
    assert len({base, cell_seed(1, "c", {"depth": 4}, 0), cell_seed(0, "d", {"depth": 4}, 0),
                cell_seed(0, "c", {"depth": 4}, 1)}) == 4
    assert 0 <= base < 2**63


def test_inner_axes_do_not_change_the_seed_and_are_attached():
    s = Sweep(axes={"depth": (4,)}, inner={"beta": (0.4, 0.5)}, replicates=1, networks=1, fixed={"width": 8})
    (cell,) = cells("x", s, 0)
    assert cell.params["beta"] == (0.4, 0.5) and cell.params["width"] == 8
    assert cell.seed == cell_seed(0, "x", {"width": 8, "depth": 4}, 0)
