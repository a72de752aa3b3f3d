"""docs/plugins.md's research-code example works as printed: global-RNG code wrapped in under 40 lines."""
import re
from pathlib import Path

import pytest

from claims.run import run_claim
from claims.registry import select
from claims.validate import ValidationError, validate
from reference_impl import NetSpec

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
SPEC = NetSpec(width=8, depth=4, init="uniform", activation="tanh")


def _block(name: str) -> str:
    found = re.search(r'```python\n("""' + re.escape(name) + r':.*?)```', GUIDE.read_text(), re.S)
    assert found, f"docs/plugins.md lost its {name} example"
    return found.group(1)


@pytest.fixture(scope="module")
def research(tmp_path_factory, import_written):
    """research.py and research_plugin.py from the guide, written out and imported."""
    sources = {name: _block(name) for name in ("research.py", "research_plugin.py")}
    with import_written(tmp_path_factory.mktemp("research"), sources, "research_plugin") as module:
        yield module


def test_the_wrapper_is_under_40_lines():
    assert len(_block("research_plugin.py").strip().splitlines()) < 40


def test_the_wrapped_research_model_passes_validation(research):
    validate(research.ResearchImpl(), SPEC, grad=True)


def test_without_the_seeding_recipe_validation_names_numpy(research, monkeypatch):
    monkeypatch.setattr(research, "seeded_global_rngs", lambda generator: _Nothing())
    with pytest.raises(ValidationError, match="numpy's global RNG moved"):
        validate(research.ResearchImpl(), SPEC)


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_the_wrapped_model_holds_the_gradient_claim_with_its_uniform_weights(research):
    entry = run_claim(select(["marion.gradient_dichotomy"])[0], research.ResearchImpl(), "smoke", seed=0,
                      config={"init": "uniform"})
    assert entry["verdict"] == "holds", entry["message"]
