"""A bounded amount of work per rendered message.

The sandbox keeps a template away from Python's internals, but not from running for ever:
`{% for i in range(100000) %}{% for j in range(100000) %}` is 10^10 steps, and one such
template would hang `templates check` and the send run. Every loop step, call, attribute or
item lookup and multiplication in a template counts against a budget; past MAX_STEPS (or
MAX_SECONDS of wall time, checked every few hundred steps) rendering stops with an error that
names the template and line, so `templates check` reports it before anything is sent. A
real letter takes a few hundred steps.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_STEPS = 250_000
MAX_SECONDS = 5.0
MAX_ITEMS = 1_000_000  # longest string or list a `*` may build
TOO_MUCH = "stopped: this template does too much work for one message"


class RenderBudgetExceeded(SecurityError):
    """A template ran past its budget for one message (a loop that runs too long)."""


class Budget:
    """Steps left for one message; `clock` is injectable so tests need not wait."""

    def __init__(self, steps: int = MAX_STEPS, seconds: float = MAX_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.steps, self.left, self.seconds, self.clock = steps, steps, seconds, clock
        self.deadline = clock() + seconds

    def tick(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise RenderBudgetExceeded(f"{TOO_MUCH} (more than {self.steps:,} steps: loops, calls and lookups); "
                                       f"check the loops' ranges")
        if self.left % 256 == 0 and self.clock() > self.deadline:
            raise RenderBudgetExceeded(f"{TOO_MUCH} (more than {self.seconds:g} s); check its loops")

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item


_current: ContextVar[Budget | None] = ContextVar("outreach_render_budget", default=None)


@contextmanager
def budget(steps: int = MAX_STEPS, seconds: float = MAX_SECONDS) -> Iterator[Budget]:
    """Render everything inside this block (one message) within one budget."""
    token = _current.set(current := Budget(steps, seconds))
    try:
        yield current
    finally:
        _current.reset(token)


def _tick() -> None:
    current = _current.get()
    if current is not None:
        current.tick()


def _counted(iterable: Any) -> Any:
    current = _current.get()
    return iterable if current is None else current.counted(iterable)


class BudgetedSandbox(SandboxedEnvironment):
    """SandboxedEnvironment whose every loop step and call counts against the current budget."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters["_counted"] = _counted

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):  # every {% for %} iterates through the budget
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        return tree

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        return SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        _tick()
        if operator_name == "*":
            sequence, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sequence, (str, list, tuple)) and isinstance(times, int) and len(sequence) * times > MAX_ITEMS:
                raise RenderBudgetExceeded(f"{TOO_MUCH} (a string or list of more than {MAX_ITEMS:,} items)")
            return operator.mul(left, right)
        if isinstance(left, int) and isinstance(right, int) and abs(right) > 4096 and abs(left) > 1:
            raise RenderBudgetExceeded(f"{TOO_MUCH} (a power too large to compute)")
        return operator.pow(left, right)
