"""vpos.deferred: a module that a library imports at start is loaded only when first used, and
then everything in it works as if it had been imported at once."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from vpos.deferred import DeferredModule, defer

PACKAGE = "vpos_deferred_probe"


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package with a heavy submodule that counts its imports in `package.imports`."""
    root = tmp_path / PACKAGE
    root.mkdir()
    (root / "__init__.py").write_text("imports = []\n")
    (root / "heavy.py").write_text(
        textwrap.dedent(
            f"""
            import {PACKAGE}
            {PACKAGE}.imports.append(__name__)
            RATE = 22

            def taxed(amount):
                return amount * (100 + RATE) // 100

            class Error(Exception):
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_a_function_taken_by_name_loads_the_module_at_its_first_call(package):
    defer(f"{PACKAGE}.heavy", callables=("taxed",))
    from vpos_deferred_probe.heavy import taxed

    assert package.imports == []
    assert taxed(10000) == 12200
    assert taxed(500) == 610
    assert package.imports == [f"{PACKAGE}.heavy"]  # once
    assert not isinstance(sys.modules[f"{PACKAGE}.heavy"], DeferredModule)


def test_a_module_taken_whole_loads_at_its_first_attribute(package):
    defer(f"{PACKAGE}.heavy")
    from vpos_deferred_probe import heavy

    assert package.imports == []
    assert heavy.RATE == 22
    with pytest.raises(heavy.Error):
        raise heavy.Error
    assert package.imports == [f"{PACKAGE}.heavy"]
    assert sys.modules[f"{PACKAGE}.heavy"].taxed(100) == 122


def test_probing_it_as_the_import_system_does_loads_nothing(package):
    stand_in = defer(f"{PACKAGE}.heavy")
    assert not hasattr(stand_in, "__path__")
    assert not hasattr(stand_in, "__file__")
    importlib.import_module(f"{PACKAGE}.heavy")
    assert package.imports == []


def test_a_missing_name_is_the_real_modules_error(package):
    stand_in = defer(f"{PACKAGE}.heavy")
    with pytest.raises(AttributeError, match="no attribute 'untaxed'"):
        stand_in.untaxed  # noqa: B018 - the read is the test
    assert package.imports == [f"{PACKAGE}.heavy"]


def test_a_module_imported_already_stays_as_it_is(package):
    heavy = importlib.import_module(f"{PACKAGE}.heavy")
    assert defer(f"{PACKAGE}.heavy", callables=("taxed",)) is None
    assert sys.modules[f"{PACKAGE}.heavy"] is heavy
    assert package.imports == [f"{PACKAGE}.heavy"]
