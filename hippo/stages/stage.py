"""The stage base class and its settings checks.

A stage is a dataclass subclass of `Stage`: its fields are its settings, with defaults a
pipeline spec may override. Field types are checked when the stage is made (so when a
pipeline loads): `bool`, `int`, `float` (an int is accepted), `str`, `Literal[...]` (the
allowed choices) and unions of them; `setting(default, ge=, gt=, le=, lt=)` adds a range.

    @dataclass
    class MyStage(Stage):
        name = "mine"
        boost: float = setting(0.5, gt=0, lt=1)
        mode: Literal["fast", "exact"] = "fast"

        def apply(self, state, ctx):
            ...
            return {"what the trace should show": ...}
"""

from __future__ import annotations

import dataclasses
import time
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from hippo.errors import HippoError

if TYPE_CHECKING:
    from hippo.stages.context import RetrievalContext
    from hippo.stages.state import RetrievalState


class SettingError(HippoError):
    """A stage setting is unknown, missing, or out of its type, choices or range."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(f"stage {stage!r}: {detail}")
        self.detail = detail


def setting(
    default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A dataclass field with `default` whose value must lie in the given bounds."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


class Stage:
    """A pipeline step: a dataclass of settings plus `apply` (see the module doc).

    `name` is the stage's type in pipeline specs; `answers = True` marks stages that
    `--retrieve-only` skips.
    """

    name: ClassVar[str]
    answers: ClassVar[bool] = False

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            problem = _check(getattr(self, field.name), hints[field.name], field.metadata)
            if problem:
                raise SettingError(self.name, f"setting {field.name} = {getattr(self, field.name)!r}: {problem}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Stage:
        """The stage with `settings` (from a pipeline spec) over its defaults, all checked."""
        known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise SettingError(cls.name, f"unknown setting(s) {', '.join(unknown)}; "
                                         f"known: {', '.join(known) or 'none'}")
        missing = [n for n, f in known.items() if n not in settings and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise SettingError(cls.name, f"setting(s) {', '.join(missing)} must be given")
        return cls(**settings)

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        """Updates `state` in place; returns what the trace should record about it."""
        raise NotImplementedError

    def run(self, state: RetrievalState, ctx: RetrievalContext) -> RetrievalState:
        """Applies the stage and appends its trace entry (with wall time in seconds)."""
        started = time.perf_counter()
        details = self.apply(state, ctx)
        self.record(state, details, time.perf_counter() - started)
        return state

    def record(self, state: RetrievalState, details: dict[str, Any], seconds: float) -> None:
        state.trace.append({"stage": self.name, "seconds": round(seconds, 6), **details})

    def run_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[RetrievalState]:
        """Runs the stage over many questions; stages with a batched kernel override this."""
        return [self.run(state, ctx) for state in states]


def _check(value: Any, hint: Any, metadata: Mapping[str, Any]) -> str | None:
    """Why `value` does not fit type `hint` and the field's bounds; None when it does."""
    if not _fits(value, hint):
        return f"must be {_describe(hint)}"
    bounds = metadata.get("bounds", {})
    failed = [(op, limit) for op, limit in bounds.items() if not _OPS[op][0](value, limit)]
    if failed:
        return "must be " + " and ".join(f"{_OPS[op][1]} {limit}" for op, limit in bounds.items())
    return None


_OPS = {
    "ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="), "lt": (lambda v, b: v < b, "<"),
}


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in typing.get_args(hint))
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "absent"}
