"""Stage types for pipeline specs: `type = "NAME"` or `type = "package.module:Class"`.

A NAME is looked up among the built-in stages (every module of `hippo.stages` that
registers one with `@register_stage`, so a new built-in stage is one new file), then in the
`hippo.stages` entry-point group of the installed packages, e.g. in a plugin's pyproject.toml:

    [project.entry-points."hippo.stages"]
    mine = "my_package.stages:MyStage"

A `package.module:Class` type is imported directly (the module must be importable).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from hippo.errors import HippoError
from hippo.stages.stage import Stage

ENTRY_POINT_GROUP = "hippo.stages"

_STAGES: dict[str, type[Stage]] = {}


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator making a stage available to pipeline specs under `cls.name`."""
    _check_stage_class(cls, cls.__qualname__)
    other = _STAGES.get(cls.name)
    if other is not None and other.__qualname__ != cls.__qualname__:
        raise HippoError(f"stage name {cls.name!r} is taken by {other.__module__}.{other.__qualname__}")
    _STAGES[cls.name] = cls
    return cls


def stage_class(kind: str) -> type[Stage]:
    """The stage class for a spec's `type`; HippoError listing the known stages otherwise."""
    if ":" in kind:
        return _import_stage(kind)
    _import_builtins()
    if kind in _STAGES:
        return _STAGES[kind]
    plugin = _entry_points().get(kind)
    if plugin is not None:
        return _load_entry_point(plugin)
    raise HippoError(f"unknown stage {kind!r}; known stages: {', '.join(known_stages())} "
                     "(or give `type = \"package.module:Class\"`)")


def known_stages() -> list[str]:
    """Names of the built-in stages and of those installed packages register."""
    _import_builtins()
    return sorted({*_STAGES, *_entry_points()})


@cache
def _import_builtins() -> None:
    package = importlib.import_module("hippo.stages")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"hippo.stages.{module.name}")


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _import_stage(kind: str) -> type[Stage]:
    module_name, _, class_name = kind.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as err:
        raise HippoError(f"stage type {kind!r}: cannot import {module_name} ({err}); "
                         "put its folder on PYTHONPATH or install its package") from None
    except AttributeError:
        raise HippoError(f"stage type {kind!r}: module {module_name} has no {class_name}") from None
    return _check_stage_class(cls, kind)


def _load_entry_point(plugin: EntryPoint) -> type[Stage]:
    label = f"entry point {plugin.name!r} ({plugin.value})"
    try:
        cls = plugin.load()
    except (ImportError, AttributeError) as err:
        raise HippoError(f"stage {label}: cannot load it ({err})") from None
    return _check_stage_class(cls, label)


def _check_stage_class(cls: object, label: str) -> type[Stage]:
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise HippoError(f"stage {label}: not a subclass of hippo.stages.Stage")
    if not dataclasses.is_dataclass(cls) or not isinstance(getattr(cls, "name", None), str):
        raise HippoError(f"stage {label}: a stage must be a @dataclass with a class attribute `name = \"...\"`")
    return cls
