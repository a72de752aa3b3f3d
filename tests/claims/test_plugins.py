"""Finding the implementation under test: flag > RESNET_CLAIMS_IMPL > reference; names, module:factory."""
import sys
import types

import pytest
import torch

from claims.plugins import ENV, BrokenImpl, PluginError, available, resolve
from reference_impl import Capability
from reference_impl.controls import CONTROLS
from reference_impl.naive import NaiveModuleImpl
from reference_impl.reference import ReferenceImpl


@pytest.fixture
def fake_module(monkeypatch):
    """A module ``fake_plugins`` with a factory, a class, a ready object and broken variants."""
    mod = types.ModuleType("fake_plugins")

    class Impl(ReferenceImpl):
        def __init__(self):
            super().__init__(fast=True)
            self.name = "fake"

    def raising():
        raise RuntimeError("no GPU driver here")

    mod.factory = lambda: Impl()
    mod.Impl = Impl
    mod.ready = Impl()
    mod.raising = raising
    mod.nameless = lambda: types.SimpleNamespace(version="1", capabilities=Capability.FORWARD_TRACE, build=print)
    mod.badcaps = lambda: types.SimpleNamespace(name="x", version="1", capabilities=3, build=print)
    monkeypatch.setitem(sys.modules, "fake_plugins", mod)
    return mod


def test_default_is_the_reference(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    impl, source = resolve(None)
    assert (impl.name, source) == ("reference", "default")


def test_environment_variable_is_used_when_no_flag(monkeypatch):
    monkeypatch.setenv(ENV, "reference-dense")
    impl, source = resolve(None)
    assert (impl.name, source) == ("reference-dense", "env")


def test_flag_beats_environment(monkeypatch):
    monkeypatch.setenv(ENV, "reference-dense")
    impl, source = resolve("naive-module")
    assert (impl.name, source) == ("naive-module", "flag")


def test_registered_names_include_naive_module_and_every_control():
    names = available()
    assert {"reference", "reference-dense", "naive-module"} <= set(names)
    assert set(CONTROLS) <= set(names)
    assert isinstance(resolve("naive-module")[0], NaiveModuleImpl)


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_controls_resolve_by_name(name):
    impl, _ = resolve(name)
    assert impl.name == name and impl is CONTROLS[name]


@pytest.mark.parametrize("attr", ["factory", "Impl", "ready"])
def test_module_colon_factory_class_or_object(fake_module, attr):
    impl, source = resolve(f"fake_plugins:{attr}")
    assert impl.name == "fake" and source == "flag"
    assert impl.build is not None and not isinstance(impl, type)


def test_module_colon_factory_through_the_environment(fake_module, monkeypatch):
    monkeypatch.setenv(ENV, "fake_plugins:factory")
    impl, source = resolve(None)
    assert (impl.name, source) == ("fake", "env")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(PluginError) as err:
        resolve("refrence")
    text = str(err.value)
    assert "unknown implementation 'refrence'" in text
    for name in ("reference", "naive-module", "scale-exponent-off", "module:factory"):
        assert name in text


@pytest.mark.parametrize("value, words", [
    ("no_such_module_xyz:factory", "cannot load implementation 'no_such_module_xyz:factory'"),
    ("fake_plugins:missing", "has no attribute 'missing'"),
    ("fake_plugins:nameless", "lacks required attribute 'name'"),
    ("fake_plugins:badcaps", "capabilities must be a reference_impl.Capability"),
])
def test_unloadable_or_contractless_plugins_are_usage_errors(fake_module, value, words):
    with pytest.raises(PluginError, match=words):
        resolve(value)


def test_a_raising_factory_becomes_a_broken_impl_whose_builds_explain_why(fake_module):
    impl, _ = resolve("fake_plugins:raising")
    assert isinstance(impl, BrokenImpl) and impl.name == "fake_plugins:raising"
    assert impl.capabilities & Capability.GRAD_TRACE  # never 'not applicable'
    with pytest.raises(PluginError, match="RuntimeError: no GPU driver here"):
        impl.build(None, 1, torch.Generator())
