"""The reliability table marks a listed control whose calibrated power is below 95% as not
demonstrated (it is not counted as a control the claim can reject)."""
import types

from claims.calibrate import summarise
from claims.reliability_table import TARGETS_TEXT, render_markdown, table_rows

CLAIM = types.SimpleNamespace(id="toy.claim", controls=("weak-control", "strong-control"), declaration=lambda: "d1",
                              prediction=0.0, tolerance=1.0)


def _runs() -> list[dict]:
    runs = []
    for seed in range(20):
        runs.append({"claim": "toy.claim", "impl": "reference", "seed": seed, "verdict": "holds", "estimate": 0.0,
                     "ci": [-0.1, 0.1], "seconds": 1.0, "declaration": "d1"})
        runs.append({"claim": "toy.claim", "impl": "weak-control", "seed": seed,
                     "verdict": "violated" if seed < 2 else "inconclusive", "estimate": 1.0, "ci": [0.5, 1.5],
                     "seconds": 1.0, "declaration": "d1"})
        runs.append({"claim": "toy.claim", "impl": "strong-control", "seed": seed, "verdict": "violated",
                     "estimate": 3.0, "ci": [2.5, 3.5], "seconds": 1.0, "declaration": "d1"})
    return runs


def test_a_control_below_95_percent_power_is_not_demonstrated() -> None:
    data = {"summary": summarise(_runs(), [CLAIM], "reference"), "runs": _runs(),
            "settings": {"budget": "default", "impl": "reference", "impl_version": "0", "device": "cpu",
                         "dtype": "float32", "torch": "2", "platform": "p", "started": "now"}}
    rows = {r["impl"]: r for r in table_rows(data)}
    assert rows["weak-control"]["status"].startswith("not demonstrated: MISSED power")
    assert rows["strong-control"]["status"] == "met"
    assert "not demonstrated" in render_markdown(data) and "not demonstrated" in TARGETS_TEXT
