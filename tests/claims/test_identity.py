"""What names an implementation's code (docs/cache.md): this package's by its source digest, a token,
an installed distribution's version, and nothing else across runs."""
import dataclasses
import functools
import importlib
import shutil
import sys
import threading
from pathlib import Path

import pytest

import claims.catalogue
from claims import digest as digest_mod
from claims import identity as identity_mod
from claims.identity import claim_identity, plugin_identity, suite_digest
from claims.plugins import available, resolve
from claims.registry import all_claims, select
from claims.run import run_claim
from reference_impl import make_reference
from reference_impl.controls import CONTROLS, SpecDefect

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from cache_plugins import plugin_folder  # noqa: E402


def test_every_shipped_implementation_and_control_is_named_by_its_value_and_the_source_digest():
    for name in available():
        try:
            impl = resolve(name)[0]
        except Exception:  # an optional third-party library that is not installed
            continue
        identity = plugin_identity(impl)
        assert identity.kind == "shipped" and identity.who["impl"] == name, name
        assert identity.code == {"suite": suite_digest()}


@pytest.fixture
def suite_copy(tmp_path, monkeypatch):
    """A copy of both packages' sources that the digests read instead of the installed ones."""
    roots = []
    for package in identity_mod.SUITE_PACKAGES:
        source = Path(__import__(package).__file__).parent
        shutil.copytree(source, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        roots.append(tmp_path / package)
    monkeypatch.setattr(identity_mod, "_suite_roots", lambda: tuple(roots))
    return roots


def test_the_source_digest_covers_every_py_file_of_both_packages(suite_copy):
    roots = suite_copy
    digest = identity_mod.suite_digest.__wrapped__
    before = digest()
    for path in sorted(roots[1].rglob("*.py"))[-1:] + sorted(roots[0].rglob("catalogue/*.py"))[:1]:
        text = path.read_text()
        path.write_text(text + "# edited\n")
        assert digest() != before, path
        path.write_text(text)
    assert digest() == before


def test_a_control_registered_by_other_code_is_not_taken_for_this_packages(monkeypatch):
    monkeypatch.setitem(CONTROLS, "mine", SpecDefect("mine", "user's", defect=lambda spec: spec))
    local = plugin_identity(resolve("mine")[0])
    assert local.kind == "run" and not local.shared


def test_an_object_passed_directly_is_shipped_only_with_plain_data_of_a_shipped_class():
    assert plugin_identity(make_reference()).kind == "shipped"
    assert plugin_identity(make_reference()).digest != plugin_identity(resolve("reference-dense")[0]).digest
    copy = dataclasses.replace(CONTROLS["scale-exponent-off"])  # not what resolve returned
    assert plugin_identity(copy).kind == "run"  # a lambda in its data: its name cannot tell two apart


def test_partials_ready_objects_and_factories_of_one_class_have_different_identities(tmp_path):
    with plugin_folder(tmp_path / "plugins"):
        values = ["cw_partial:good", "cw_partial:bad", "cw_partial:good_obj", "cw_partial:bad_obj", "cw_wrapper:good",
                  "cw_wrapper:bad"]
        identities = [plugin_identity(resolve(v)[0]) for v in values]
    assert all(i.kind == "run" and not i.shared for i in identities)
    assert len({i.digest for i in identities}) == len(values)


def _distribution(site, version):
    """An installed distribution ``cw_installed`` (module and dist-info) in the folder ``site``."""
    (site / "cw_installed").mkdir(parents=True, exist_ok=True)
    (site / "cw_installed" / "__init__.py").write_text(
        "import functools\nfrom reference_impl.reference import ReferenceImpl\n"
        "def factory():\n    return ReferenceImpl()\n"
        "dense = functools.partial(ReferenceImpl, fast=False)\n")
    info = site / "cw_installed-1.dist-info"
    shutil.rmtree(info, ignore_errors=True)
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: cw-installed\nVersion: {version}\n")
    (info / "top_level.txt").write_text("cw_installed\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("cw_installed", None)


def _fresh_identity(value):
    identity_mod._distributions_of.cache_clear()
    sys.modules.pop("cw_installed", None)
    return plugin_identity(resolve(value)[0])


def test_an_installed_distribution_is_named_by_its_version_and_the_factorys_arguments(site):
    _distribution(site, "1.0")
    one = _fresh_identity("cw_installed:factory")
    assert one.kind == "installed" and one.code["distributions"] == [["cw-installed", "1.0"]]
    assert _fresh_identity("cw_installed:dense").digest != one.digest
    _distribution(site, "1.1")
    assert _fresh_identity("cw_installed:factory").digest != one.digest


def test_an_editable_or_working_folder_module_is_not_named_by_a_version(tmp_path, monkeypatch):
    _distribution(tmp_path, "1.0")  # a dist-info, but the module is not in site-packages
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert _fresh_identity("cw_installed:factory").kind == "run"
    finally:
        sys.modules.pop("cw_installed", None)


def test_readings_that_share_a_measurement_share_the_claims_declaration():
    claim = next(c for c in all_claims() if c.readings)
    parts = {claim_identity(claim.under(r))[0] for r in claim.readings}
    assert parts == {claim.declaration()}
    assert all(claim_identity(claim.under(r))[2] for r in claim.readings)
    assert claim_identity(claim.under(claim.readings[0]))[1] == identity_mod.describe(claim.under(claim.readings[0]).measure)
    assert claim_identity(dataclasses.replace(claim, id="not.registered")) == ("", claim_identity(claim)[1], False)


def test_describe_names_partials_with_their_arguments():
    assert identity_mod.describe(functools.partial(make_reference)) != identity_mod.describe(make_reference)
    assert identity_mod.describe(functools.partial(dict, a=1)) != identity_mod.describe(functools.partial(dict, a=2))


def test_the_computation_digest_ignores_presentation_and_catalogue_files_and_no_other(suite_copy, tmp_path):
    """A calibration run stays reusable across an edit to the report, the command line or a claim's
    catalogue module (its declaration digest covers that), and not across an edit to the engine."""
    digest = identity_mod.computation_digest.__wrapped__
    before = digest()
    for rel, counted in [("claims/cli.py", False), ("claims/report/__init__.py", False),
                         ("claims/catalogue/measures.py", False), ("claims/calibrate.py", False),
                         ("claims/sweep.py", True), ("claims/run.py", True), ("reference_impl/reference.py", True)]:
        path = tmp_path / rel
        text = path.read_text()
        path.write_text(text + "# edited\n")
        assert (digest() != before) is counted, rel
        path.write_text(text)
    assert digest() == before


def test_a_shipped_implementations_computation_differs_from_its_digest_and_others_equal_it(tmp_path):
    shipped = plugin_identity(resolve("reference")[0])
    assert shipped.computation != shipped.digest
    with plugin_folder(tmp_path / "plugins"):
        local = plugin_identity(resolve("cw_wrapper:good")[0])
    assert local.computation == local.digest


# The computation digest leaves the catalogue out because each claim's declaration digest covers the
# catalogue code its measurement reaches; what the digest cannot see (docs/preregistration.md) is code
# reached through an instance's attribute or a name built at run time. Every catalogue function a run
# calls is traced and must lie inside what its claim's digest covers.
CATALOGUE = Path(claims.catalogue.__file__).resolve().parent
SUITE_ROOT = CATALOGUE.parents[1]
RUN_PAIRS = [(c.id, name) for c in all_claims() for name in ("reference", *c.controls, *c.positive_controls)]


def _catalogue_calls(run) -> set[str]:
    """Qualified names (module.qualname) of the catalogue functions called while ``run()`` runs."""
    codes = set()
    root = str(CATALOGUE)

    def profile(frame, event, arg):  # noqa: ANN001, ANN202
        if event == "call" and frame.f_code.co_filename.startswith(root):
            codes.add(frame.f_code)

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    names = set()
    for code in codes:
        if code.co_name != "<module>":  # an import, not a call the measurement makes
            rel = Path(code.co_filename).resolve().relative_to(SUITE_ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.add(".".join(parts) + "." + code.co_qualname)
    return names


def _digest_covers(claim) -> set[str]:  # noqa: ANN001
    """Qualified names whose source is in ``claim``'s declaration digest: the closure of its and its
    readings' measure, estimate and configuration space, the verdict rules, and each listed control."""
    roots = [getattr(o, f, None) for o in (claim, *claim.readings) for f in ("measure", "estimate", "config_space")]
    names = set(digest_mod.code_closure(*roots, *digest_mod.VERDICT_RULES))
    for control in (*claim.controls, *claim.positive_controls):
        definition = digest_mod.control_definition(control)
        names |= set(definition["class"])
        names |= {n for field in definition["fields"].values() if isinstance(field, dict) for n in field}
    return names


def _outside(called: set[str], covered: set[str]) -> list[str]:
    """The called names not covered: neither listed nor inside a listed function, class or module."""
    def inside(name: str) -> bool:
        parts = name.split(".")
        return any(".".join(parts[:i]) in covered for i in range(1, len(parts) + 1))
    return sorted(n for n in called if not inside(n))


def test_a_called_name_is_covered_by_itself_or_what_encloses_it():
    covered = {"claims.catalogue.measures.slope", "claims.catalogue.fit.Fit", "claims.catalogue.consts"}
    called = {"claims.catalogue.measures.slope", "claims.catalogue.measures.slope.<locals>.inner",
              "claims.catalogue.fit.Fit.run", "claims.catalogue.consts.anything",
              "claims.catalogue.measures.slope_helper", "claims.catalogue.fit.fit_all"}
    assert _outside(called, covered) == ["claims.catalogue.fit.fit_all", "claims.catalogue.measures.slope_helper"]


def _estimate_by_built_name(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    """nfd.depth_error's estimator, found through a name built at run time: invisible to the digest."""
    module = importlib.import_module("claims.catalogue.nfd2025." + "depth_error")
    return getattr(module, "estimate_" + "depth_error")(*args, **kwargs)


def test_the_tracer_finds_catalogue_code_the_digest_cannot_see():
    claim = dataclasses.replace(select(["nfd.depth_error"])[0], estimate=_estimate_by_built_name)
    called = _catalogue_calls(lambda: run_claim(claim, resolve("reference")[0], "smoke", 0))
    assert "claims.catalogue.nfd2025.depth_error.estimate_depth_error" in _outside(called, _digest_covers(claim))


@pytest.mark.parametrize("claim_id, impl_name", RUN_PAIRS)
def test_every_catalogue_function_a_run_calls_is_in_its_claims_declaration_digest(claim_id, impl_name):
    """A calibration run is reused while its claim's declaration digest and the computation digest are
    unchanged: an edit to catalogue code that a run reaches outside the digest would go unnoticed."""
    claim = select([claim_id])[0]
    impl = resolve(impl_name)[0]
    called = _catalogue_calls(lambda: run_claim(claim, impl, "smoke", 0))
    assert called, f"{claim_id} on {impl_name} called no catalogue code: the tracer saw nothing"
    assert _outside(called, _digest_covers(claim)) == [], (
        f"{claim_id} on {impl_name} calls catalogue code its declaration digest does not cover")
