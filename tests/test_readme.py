"""The README's promises: its plug-in example works as printed; the control table it links is the catalogue's."""
import re
from pathlib import Path

import pytest
import torch

from claims.run import run_claim
from claims.registry import all_claims, select
from claims.validate import validate
from reference_impl import Capability, NetSpec

README = Path(__file__).resolve().parents[1] / "README.md"
RELIABILITY = README.parent / "docs" / "reliability.md"


@pytest.fixture(scope="module")
def example(tmp_path_factory, import_written):
    """The README's ``my_resnet.py``, written out and imported as a module."""
    text = README.read_text()
    block = re.search(r"A complete example \(`my_resnet.py`.*?```python\n(.*?)```", text, re.S)
    assert block, "README lost its complete plug-in example"
    with import_written(tmp_path_factory.mktemp("example"), {"my_resnet.py": block.group(1)}, "my_resnet") as module:
        yield module


def test_the_example_passes_validation_and_an_iid_claim(example):
    impl = example.factory()
    assert Capability.WEIGHTS in impl.capabilities
    validate(impl, NetSpec(width=8, depth=4, activation="tanh"), grad=True)
    entry = run_claim(select(["marion.gradient_dichotomy"])[0], impl, "smoke", seed=0)
    assert entry["verdict"] == "holds", entry["message"]


def test_the_example_declines_what_it_does_not_build(example):
    impl = example.factory()
    with pytest.raises(NotImplementedError):
        impl.build(NetSpec(width=4, depth=2, preact=False), 1, torch.Generator())
    for claim_id in ("marion.smooth_critical_beta", "nfd.depth_error"):
        assert run_claim(select([claim_id])[0], impl, "smoke", seed=0)["verdict"] == "not applicable"


def test_the_control_table_lists_what_each_claim_rejects():
    """docs/reliability.md's table of negative controls names exactly the claims that list each one."""
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| [^|]+ \| (.+) \|$", RELIABILITY.read_text(), re.M)
    table = {name: set(re.findall(r"`([a-z0-9_.]+)`", claims)) for name, claims in rows}
    expected: dict[str, set] = {}
    for claim in all_claims():
        for name in claim.controls:
            expected.setdefault(name, set()).add(claim.id)
    assert table == expected


def test_the_claims_table_quotes_the_calibration_table():
    """Each claim's calibration cell in the README is what the committed reliability table says under
    the claim's current declaration (scripts/readme_calibration.py writes it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_calibration", README.parent / "scripts" / "readme_calibration.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = README.read_text()
    assert f"{script.HEADER} {script.COLUMN} |" in text, "README's claims table lost its calibration column"
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \| (?:[^|]+ \| ){4}([^|]+) \|$", text, re.M)
    assert dict(rows) == script.calibration_cells()
