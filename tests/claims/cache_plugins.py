"""Plug-ins whose identity is hard to guess from source files, for the cell cache's and calibrate's tests.

Each is the reference with one switch: ``twist`` builds beta = 0.25 whatever the spec declares, so
``marion.iid_sqrt_l_unique`` is violated. The switch sits in a factory's arguments (``cw_partial``),
in a ready object (``cw_partial:*_obj``), in a helper imported by a computed name (``cw_dyn``), in a
module shipped only as a .pyc (``cw_pyc``), or behind a ``cache_token`` (``cw_token``).
``plugin_folder`` writes them into a folder on sys.path and forgets them afterwards, so a second
import reads the files again (as a new process would).
"""
import contextlib
import importlib
import py_compile
import sys
from pathlib import Path
from typing import Iterator

WRAPPER = '''
import dataclasses
from reference_impl import make_reference
from reference_impl.protocol import Capability


class Impl:
    name, version = "wrapped", "1"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def __init__(self, twist=False):
        self.ref, self.twist = make_reference(), twist

    def build(self, spec, n, g):
        return self.ref.build(dataclasses.replace(spec, beta=spec.beta - 0.25) if self.twist else spec, n, g)


def good():
    return Impl()


def bad():
    return Impl(twist=True)
'''

SOURCES = {
    "cw_wrapper.py": WRAPPER,
    "cw_partial.py": '''
import functools
from cw_wrapper import Impl

good = functools.partial(Impl, twist=False)
bad = functools.partial(Impl, twist=True)
good_obj = Impl()
bad_obj = Impl(twist=True)
''',
    "cw_dyn.py": '''
import importlib
from cw_wrapper import Impl


class Dyn(Impl):
    def build(self, spec, n, g):
        self.twist = importlib.import_module("cw_dyn_" + "helper").TWIST  # a config-driven registry
        return super().build(spec, n, g)


def factory():
    return Dyn()
''',
    "cw_dyn_helper.py": "TWIST = False\n",
    "cw_token.py": '''
from cw_wrapper import Impl


class Tokened(Impl):
    cache_token = "cw_token 1"


def good():
    return Tokened()


def bad():
    return Tokened(twist=True)
''',
    "cw_pyc.py": WRAPPER.replace("def good():\n    return Impl()", "TWIST = False\n\n\ndef good():\n    return Impl(TWIST)"),
}


def write(folder: Path, name: str, text: str) -> None:
    """Write module ``name`` (a file name) and forget any loaded copy, as a new process would."""
    (folder / name).write_text(text)
    sys.modules.pop(Path(name).stem, None)
    importlib.invalidate_caches()


def write_pyc(folder: Path, twist: bool) -> None:
    """``cw_pyc`` shipped as a .pyc only (no source beside it), with TWIST as given."""
    source = folder / "cw_pyc_src.py"
    source.write_text(SOURCES["cw_pyc.py"].replace("TWIST = False", f"TWIST = {twist}"))
    py_compile.compile(str(source), cfile=str(folder / "cw_pyc.pyc"), doraise=True)
    source.unlink()
    (folder / "cw_pyc.py").unlink(missing_ok=True)
    sys.modules.pop("cw_pyc", None)
    importlib.invalidate_caches()


@contextlib.contextmanager
def plugin_folder(folder: Path) -> Iterator[Path]:
    """Every plug-in above written into ``folder``, importable while the context lasts."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SOURCES.items():
        if name != "cw_pyc.py":
            write(folder, name, text)
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        for name in list(SOURCES) + ["cw_tripwire.py"]:
            sys.modules.pop(Path(name).stem, None)
