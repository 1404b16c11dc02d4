"""Modules a library imports at start but uses only on rare paths, loaded when first used.

WeasyPrint imports fontTools' font subsetter and its variable-font instancer when it is imported
(about 110 modules, 10 MiB resident in every process that renders a PDF), and calls them only for
fonts a receipt never has: a variable font, or a system without HarfBuzz's own subsetter, which
WeasyPrint prefers. `defer(name)` puts a stand-in for the module in `sys.modules` before the
library is imported. The library binds the stand-in (`from fontTools import subset`) or one of
its functions (`from fontTools.varLib.instancer import instantiateVariableFont`, named in
`callables`); the first attribute read or call imports the real module and goes on with it, so
every path still works, only later. The documents worker (vpos/documents_worker.py) defers
those two modules and fontTools' WOFF2 decoder (a receipt uses no web font); other processes
import them as usual.

This is `importlib.util.LazyLoader` for the names imported from the module: LazyLoader's module
loads itself on the first attribute read, which `from module import name` does at once.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ["DeferredModule", "defer"]

_loading = threading.RLock()


class DeferredModule(types.ModuleType):
    """Stands in for the module `name` until something in it is used."""

    def __init__(self, name: str, callables: tuple[str, ...] = ()) -> None:
        super().__init__(name, f"Stands in for {name} until it is used (vpos.deferred).")
        self.__dict__["_vpos_real"] = None
        for attribute in callables:
            self.__dict__[attribute] = self._forward(attribute)

    def _forward(self, attribute: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(self.loaded(), attribute)(*args, **kwargs)

        call.__name__ = call.__qualname__ = attribute
        call.__module__ = self.__name__
        return call

    def loaded(self) -> types.ModuleType:
        """The real module, imported on the first call: it replaces this one in sys.modules."""
        real = self.__dict__["_vpos_real"]
        if real is not None:
            return real
        with _loading:
            real = self.__dict__["_vpos_real"]
            if real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                real = importlib.import_module(self.__name__)
                self.__dict__["_vpos_real"] = real
        return real

    def __getattr__(self, attribute: str) -> Any:
        # Only for what the stand-in itself does not have. Dunder names (`__path__`, `__file__`)
        # are what the import system and tools probe: they stay missing, so nothing loads then.
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        return getattr(self.loaded(), attribute)


def defer(name: str, *, callables: tuple[str, ...] = ()) -> DeferredModule | None:
    """Stand in for the module `name` until it is used; None if it is imported already (it stays
    as it is). `callables`: the functions that importers take by name, which get stand-ins too."""
    if name in sys.modules:
        return None
    module = DeferredModule(name, callables)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:  # `import a.b` then `a.b.x` finds it (a heavy parent is not loaded)
        setattr(sys.modules[parent], child, module)
    return module
