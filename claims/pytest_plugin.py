"""pytest plugin (entry point ``pytest11``): one test item per claim, marked ``claims``.

Outcomes: holds -> passed; violated -> failed with estimate, CI and prediction; inconclusive ->
failed, saying a larger budget is needed; reading-dependent -> failed with every reading's verdict;
not applicable -> skipped with the missing capability;
error -> failed with the cell's error. A verdict listed in the expected-verdicts file (a finding
such as a reproduced disagreement with a paper, or a rate that only resolves at a larger budget)
is reported as xfail with its reason; if it then holds, the test fails until the line is removed.
A line may name one reading of a claim (``CLAIM_ID@READING``): the test then also fails when that
reading's verdict changes. A line naming an unknown claim, reading, budget or implementation stops
pytest with one line (claims/expected.py). Claim items are added when pytest collects its default
test paths, when ``-m`` mentions ``claims``, or with ``--claims``.
"""
from __future__ import annotations

from typing import Any

import pytest

from .expected import ExpectedFileError, load_expected
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
    g.addoption("--claims-config", default=None, metavar="JSON",
                help="JSON object of parameters overriding the claims' fixed ones (as resnet-claims verify --config); "
                     "a plug-in that declares its family needs none for its block form")
    g.addoption("--claims-expected", default=None,
                help="file of expected non-holding verdicts (default: ini claims_expected)")
    parser.addini("claims_expected", "file listing expected non-holding verdicts: "
                  "'IMPL BUDGET CLAIM_ID VERDICT  # reason' per line", default="")


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
        budget = claims_budget(cfg)
        impl, _ = resolve(cfg.getoption("--impl"))
        entry = run_claim(self.claim, impl, budget, cfg.getoption("--claims-seed"), cfg.getoption("--claims-device"),
                          config=cfg.stash[_CONFIG])
        self.user_properties.append(("verdict", entry["verdict"]))
        verdict = entry["verdict"]
        expected_all = cfg.stash[_EXPECTED]
        for sub in entry.get("readings") or []:  # a listed reading must keep its verdict
            listed = expected_all.get((impl.name, budget, f"{self.claim.id}@{sub['reading']}"))
            if listed is not None and listed[0] != sub["verdict"]:
                raise ClaimFailure(f"reading {sub['reading']!r} listed as expected {listed[0]!r} but its verdict is "
                                   f"{sub['verdict']!r} ({impl.name}, budget {budget}): {entry['message']}; "
                                   "update the expected-verdicts file")
        expected = expected_all.get((impl.name, budget, self.claim.id))
        if expected is not None:
            if verdict == expected[0]:
                pytest.xfail(f"expected {verdict} at budget {budget!r}: {expected[1]} ({entry['message']})")
            raise ClaimFailure(f"listed as expected {expected[0]!r} but the verdict is {verdict!r} "
                               f"({impl.name}, budget {budget}): {entry['message']}; update the expected-verdicts file")
        if verdict == "holds":
            return
        if verdict == "not applicable":
            pytest.skip(f"not applicable: {entry['message']}")
        if verdict == "inconclusive":
            raise ClaimFailure(f"INCONCLUSIVE at budget {budget!r}: {entry['message']}; a larger budget is needed")
        if verdict == "reading-dependent":
            raise ClaimFailure(f"READING-DEPENDENT ({impl.name}, budget {budget}): {entry['message']}")
        raise ClaimFailure(f"{verdict.upper()} ({impl.name}, budget {budget}): {entry['message']}")

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[str, int, str]:
        return self.claim.source.arxiv, 0, f"claim {self.claim.id}"


_BUDGET = pytest.StashKey[str]()
_EXPECTED = pytest.StashKey[dict]()
_CONFIG = pytest.StashKey[object]()


def claims_budget(config: pytest.Config) -> str:
    """The budget of claim tests: --claims-budget, else default under ``-m claims``, else smoke."""
    return config.getoption("--claims-budget") or config.stash[_BUDGET]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claims: executable claims from the resnet-claims catalogue")
    for paper in ("marion", "nfd", "fischer"):
        config.addinivalue_line("markers", f"{paper}: claims from the {paper} paper")
    config.addinivalue_line("markers", "init: the implementation check of the plug-in's own initialisation")
    config.stash[_BUDGET] = "default" if "claims" in (config.getoption("-m") or "") else "smoke"
    _check_options(config)
    name = config.getoption("--claims-expected") or config.getini("claims_expected")
    try:
        config.stash[_EXPECTED] = load_expected(config.rootpath / name, _known_impls(config)) if name else {}
    except ExpectedFileError as err:
        raise pytest.UsageError(str(err)) from err


def _known_impls(config: pytest.Config) -> set[str]:
    """Implementation names an expected-verdicts line may use: every --impl name (registered, controls)
    and the name of the implementation under test."""
    from .plugins import PluginError, available, resolve

    known = set(available())
    if config.getoption("--impl"):
        try:
            known.add(str(resolve(config.getoption("--impl"))[0].name))
        except PluginError as err:
            raise pytest.UsageError(f"--impl: {err}") from None
    return known


def _check_options(config: pytest.Config) -> None:
    """Bad --claims-* values stop pytest before collection with one line (pytest.UsageError)."""
    import re

    seed = config.getoption("--claims-seed")
    if seed < 0:
        raise pytest.UsageError(f"--claims-seed {seed} is not allowed; expected a non-negative integer")
    device = config.getoption("--claims-device")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise pytest.UsageError(f"--claims-device {device!r} is not allowed; choose one of: cpu, cuda, cuda:N")
    from .cli import UsageError, parse_config

    try:
        config.stash[_CONFIG] = parse_config(config.getoption("--claims-config"))
    except UsageError as err:
        raise pytest.UsageError(f"--claims-config: {err}") from None
    patterns = config.getoption("--claims-select")
    if patterns:
        from .spec import ClaimError
        from .registry import select

        try:
            select(patterns)
        except ClaimError as err:
            raise pytest.UsageError(f"--claims-select: {err}") from None


def _wanted(config: pytest.Config) -> bool:
    if config.getoption("--claims") or config.getoption("--claims-select") or "claims" in (config.getoption("-m") or ""):
        return True
    # plain `pytest` (no paths given): the claims run at smoke beside the unit tests
    return config.args_source in (pytest.Config.ArgsSource.TESTPATHS, pytest.Config.ArgsSource.INVOCATION_DIR)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _wanted(config):
        return
    from .registry import select

    from .configs import check_config
    from .spec import ClaimError

    for claim in select(config.getoption("--claims-select")):
        try:  # a field a claim does not honour stops pytest, as it stops resnet-claims verify (exit 2)
            check_config(claim, config.stash[_CONFIG], claims_budget(config))
        except ClaimError as err:
            raise pytest.UsageError(f"--claims-config: {err}") from None
        items.append(ClaimItem.from_parent(session, name=claim.id, claim=claim))
