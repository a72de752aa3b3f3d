"""pytest plugin (entry point ``pytest11``): one test item per claim, marked ``claims``.

Outcomes: holds -> passed; violated -> failed with estimate, CI and prediction; inconclusive ->
failed, saying a larger budget is needed; not applicable -> skipped with the missing capability;
error -> failed with the cell's error. Claim items are added when pytest collects its default
test paths, when ``-m`` mentions ``claims``, or with ``--claims``.
"""
from __future__ import annotations

from typing import Any

import pytest

from .spec import BUDGETS


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("resnet-claims")
    g.addoption("--claims", action="store_true", help="collect the claim catalogue as tests")
    g.addoption("--claims-budget", default=None, choices=BUDGETS,
                help="budget of claim tests (default: smoke for plain pytest, default with -m claims)")
    g.addoption("--claims-seed", type=int, default=0, help="master seed of claim tests")
    g.addoption("--claims-device", default="cpu", help="device for claim tests (cpu, cuda)")
    g.addoption("--claims-select", nargs="*", default=None, help="claim ids or globs to collect")
    g.addoption("--impl", default=None, help="implementation under test (name or module:factory)")


class ClaimFailure(Exception):
    """A claim that did not hold."""


class ClaimItem(pytest.Item):
    """One claim run as a test."""

    def __init__(self, *, claim: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.claim = claim
        self.add_marker(pytest.mark.claims)
        self.add_marker(getattr(pytest.mark, claim.id.split(".")[0]))

    def runtest(self) -> None:
        from .plugins import resolve
        from .run import run_claim

        cfg = self.config
        budget = cfg.getoption("--claims-budget") or self.config.stash[_BUDGET]
        impl, _ = resolve(cfg.getoption("--impl"))
        entry = run_claim(self.claim, impl, budget, cfg.getoption("--claims-seed"), cfg.getoption("--claims-device"))
        self.user_properties.append(("verdict", entry["verdict"]))
        verdict = entry["verdict"]
        if verdict == "holds":
            return
        if verdict == "not applicable":
            pytest.skip(f"not applicable: {entry['message']}")
        if verdict == "inconclusive":
            raise ClaimFailure(f"INCONCLUSIVE at budget {budget!r}: {entry['message']}; a larger budget is needed")
        raise ClaimFailure(f"{verdict.upper()} ({impl.name}, budget {budget}): {entry['message']}")

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[str, int, str]:
        return self.claim.source.arxiv, 0, f"claim {self.claim.id}"


_BUDGET = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claims: executable claims from the resnet-claims catalogue")
    for paper in ("marion", "nfd", "fischer"):
        config.addinivalue_line("markers", f"{paper}: claims from the {paper} paper")
    config.stash[_BUDGET] = "default" if "claims" in (config.getoption("-m") or "") else "smoke"


def _wanted(config: pytest.Config) -> bool:
    if config.getoption("--claims") or config.getoption("--claims-select") or "claims" in (config.getoption("-m") or ""):
        return True
    # plain `pytest` (no paths given): the claims run at smoke beside the unit tests
    return config.args_source in (pytest.Config.ArgsSource.TESTPATHS, pytest.Config.ArgsSource.INVOCATION_DIR)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _wanted(config):
        return
    from .spec import select

    for claim in select(config.getoption("--claims-select")):
        items.append(ClaimItem.from_parent(session, name=claim.id, claim=claim))
