"""The one place where recorder catches what plugin code raises.

Hooks are called through pluggy (so wrappers, ``tryfirst``/``trylast`` and
hook-call monitoring work); each implementation is registered wrapped, so
that one that raises is reported with its plugin's name and the others still
run. Calls into components (a guard's ``start``, a notifier's ``notify``)
go through ``Isolation.around`` for the same report.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import attrs
from recorder.errors import describe

log = logging.getLogger("recorder.plugins")

# Which plugin's code is running on this thread: lets ``register`` know whose
# component it is, and lets events raised by a plugin be attributed to it.
running_plugin: contextvars.ContextVar[str] = contextvars.ContextVar("recorder_running_plugin",
                                                                     default="recorder")


@attrs.frozen
class Failure:
    plugin: str
    where: str  # a hook's name, or "guard 'disk-space'"
    exc: BaseException

    @property
    def message(self) -> str:
        return f'plugin "{self.plugin}" failed in {self.where}: {describe(self.exc)}'


@contextmanager
def running(plugin: str) -> Iterator[None]:
    token = running_plugin.set(plugin)
    try:
        yield
    finally:
        running_plugin.reset(token)


class Isolation:
    """Runs plugin code so that an exception becomes a ``Failure`` report."""

    def __init__(self, report: Callable[[Failure], None]):
        self.report = report

    @contextmanager
    def around(self, plugin: str, where: str) -> Iterator[None]:
        with running(plugin):
            try:
                yield
            except Exception as exc:
                log.debug("plugin %s failed in %s", plugin, where, exc_info=exc)
                self.report(Failure(plugin, where, exc))

    def hookimpl(self, function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
        """``function`` wrapped so that pluggy can call it as before (same
        signature and marker) but a failure is reported, not raised."""
        if inspect.isgeneratorfunction(function):
            return self._wrapper(function, plugin, hook)

        @functools.wraps(function)
        def call(*args: Any) -> Any:
            with self.around(plugin, hook):
                return function(*args)
            return None  # it failed: as if it had no opinion (firstresult hooks ask the next)

        return call

    def _wrapper(self, function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
        """A ``wrapper=True`` implementation: its code before and after ``yield``
        runs; if it raises, the call goes on as if it were not there."""
        fail = functools.partial(self._fail, plugin, hook)

        @functools.wraps(function)
        def call(*args: Any):
            generator = None
            try:
                with running(plugin):
                    generator = function(*args)
                    next(generator)
            except StopIteration:
                fail(RuntimeError("the wrapper did not yield"))
                generator = None
            except Exception as exc:
                fail(exc)
                generator = None
            if generator is None:
                return (yield)
            result, raised = None, None
            try:
                result = yield
            except BaseException as exc:  # what the wrapped call raised: the wrapper may handle it
                raised = exc
            try:
                with running(plugin):
                    generator.throw(raised) if raised is not None else generator.send(result)
            except StopIteration as stop:
                return stop.value
            except Exception as exc:
                if exc is not raised:
                    fail(exc)
            else:
                generator.close()
                fail(RuntimeError("the wrapper yielded more than once"))
            if raised is not None:
                raise raised
            return result

        return call

    def _fail(self, plugin: str, hook: str, exc: BaseException) -> None:
        log.debug("plugin %s failed in %s", plugin, hook, exc_info=exc)
        self.report(Failure(plugin, hook, exc))
