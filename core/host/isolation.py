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
import queue
import threading
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
    def slow(self) -> bool:
        return isinstance(self.exc, NotResponding)

    @property
    def message(self) -> str:
        if self.slow:
            return f'plugin "{self.plugin}" did not return from {self.where} {self.exc}'
        return f'plugin "{self.plugin}" failed in {self.where}: {describe(self.exc)}'


class NotResponding(Exception):
    """A bounded call that took longer than its budget (it goes on, unwaited for)."""


# How long recorder waits for one call into a third-party plugin before it goes on
# without it. Capture starts, the end and sealing keep their bounds whatever a
# plugin does (a network call without a timeout, a sleep).
BUDGET = 1.0
# Hooks whose answer is the point (the user is being asked, or waits for a fetch): waited for.
UNBOUNDED_HOOKS = {"recorder_prompt_save_location", "recorder_prompt_consent", "recorder_find_session"}


class PluginThread:
    """One daemon thread per third-party plugin: its calls run there in order, and
    the caller waits at most a budget. While one call is overdue, later calls
    are queued behind it and not waited for at all."""

    def __init__(self, plugin: str):
        self.calls: queue.SimpleQueue = queue.SimpleQueue()
        self.overdue = False
        self.overdue_in = ""  # the call it is late with
        threading.Thread(target=self._serve, name=f"recorder-plugin-{plugin}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            call, done = self.calls.get()
            call()
            done.set()
            if self.calls.empty():
                self.overdue = False

    def run(self, call: Callable[[], Any], budget: float) -> tuple[bool, bool, Any]:
        """(finished in time, newly overdue, its result)."""
        result: list[Any] = []
        done = threading.Event()
        already = self.overdue
        self.calls.put((lambda: result.append(call()), done))
        finished = done.wait(0 if already else budget)
        if not finished:
            self.overdue = True
        return finished, not finished and not already, (result[0] if result else None)


@contextmanager
def running(plugin: str) -> Iterator[None]:
    token = running_plugin.set(plugin)
    try:
        yield
    finally:
        running_plugin.reset(token)


class Isolation:
    """Runs plugin code so that an exception becomes a ``Failure`` report."""

    def __init__(self, report: Callable[[Failure], None], bounded: Callable[[str], bool] = lambda plugin: False):
        self.report = report
        self.bounded = bounded  # which plugins are waited for at most BUDGET (third-party ones)
        self.threads: dict[str, PluginThread] = {}
        self._lock = threading.Lock()

    def run(self, plugin: str, where: str, function: Callable[..., Any], *args: Any,
            budget: float | None = BUDGET) -> Any:
        """Call plugin code: a failure is reported, never raised; a third-party plugin
        is waited for at most ``budget`` seconds (None: as long as it takes)."""
        def call() -> Any:
            with self.around(plugin, where):
                return function(*args)
            return None

        finished, result = self._bounded(plugin, where, call, budget)
        return result if finished else None

    def _bounded(self, plugin: str, where: str, call: Callable[[], Any],
                 budget: float | None = BUDGET) -> tuple[bool, Any]:
        """(finished in time, result) of ``call``, on the plugin's own thread if it is bounded."""
        if budget is None or not self.bounded(plugin):
            return True, call()
        with self._lock:
            thread = self.threads.get(plugin) or self.threads.setdefault(plugin, PluginThread(plugin))
        finished, newly_overdue, result = thread.run(call, budget)
        if newly_overdue:
            thread.overdue_in = where  # said once: calls queued behind it are not waited for, nor reported
            self.report(Failure(plugin, where, NotResponding(
                f"within {budget:g} s: recording goes on without waiting for it")))
        return finished, result

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

        budget = None if hook in UNBOUNDED_HOOKS else BUDGET

        @functools.wraps(function)
        def call(*args: Any) -> Any:
            # None when it failed or is overdue: as if it had no opinion (firstresult hooks ask the next)
            return self.run(plugin, hook, function, *args, budget=budget)

        return call

    def _wrapper(self, function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
        """A ``wrapper=True`` implementation: its code before and after ``yield``
        runs (each part within the budget, for a third-party plugin); if it raises or
        is late, the call goes on as if it were not there."""
        fail = functools.partial(self._fail, plugin, hook)
        budget = None if hook in UNBOUNDED_HOOKS else BUDGET

        def step(advance: Callable[[], Any]) -> tuple[str, Any]:
            """One stretch of the wrapper's code: ("yielded" | "returned" | "raised" | "late", value)."""
            def attempt() -> tuple[str, Any]:
                with running(plugin):
                    try:
                        return "yielded", advance()
                    except StopIteration as stop:
                        return "returned", stop.value
                    except BaseException as exc:
                        return "raised", exc

            finished, outcome = self._bounded(plugin, hook, attempt, budget)
            return outcome if finished else ("late", None)

        @functools.wraps(function)
        def call(*args: Any):
            generator = function(*args)  # a generator function runs nothing until advanced
            kind, value = step(lambda: next(generator))
            if kind != "yielded":
                if kind == "returned":
                    fail(RuntimeError("the wrapper did not yield"))
                elif kind == "raised":
                    if not isinstance(value, Exception):
                        raise value
                    fail(value)
                return (yield)
            result, raised = None, None
            try:
                result = yield
            except BaseException as exc:  # what the wrapped call raised: the wrapper may handle it
                raised = exc
            kind, value = step((lambda: generator.throw(raised)) if raised is not None else
                               (lambda: generator.send(result)))
            if kind == "returned":
                return value
            if kind == "raised" and value is not raised:
                if not isinstance(value, Exception):
                    raise value
                fail(value)
            elif kind == "yielded":
                generator.close()
                fail(RuntimeError("the wrapper yielded more than once"))
            if raised is not None:
                raise raised
            return result

        return call

    def overdue(self) -> list[Failure]:
        """Plugins still busy with a call they were not waited for, and which."""
        return [Failure(plugin, thread.overdue_in, NotResponding("yet: recording goes on without waiting for it"))
                for plugin, thread in sorted(self.threads.items()) if thread.overdue]

    def _fail(self, plugin: str, hook: str, exc: BaseException) -> None:
        log.debug("plugin %s failed in %s", plugin, hook, exc_info=exc)
        self.report(Failure(plugin, hook, exc))
