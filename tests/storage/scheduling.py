"""Step-by-step interleavings of threads over one storage, chosen by the test.

Each operation runs in a thread of its own, but only one thread moves at a
time: every storage call is a point where the thread stops, and the test
(hypothesis, or a fixed schedule) picks which stopped thread makes its next
call. So interleavings are explored, and shrunk, deterministically.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ScheduledStorage", "Scheduler", "Worker", "no_sleep", "replay"]


def no_sleep(_: float) -> None:
    """Retries never wait: the schedule, not the clock, orders the threads."""


@dataclass
class Worker:
    """One thread of a run: where it is, and what it raised."""

    state: str = "running"  # running | paused | done
    error: BaseException | None = None


class Scheduler:
    """Lets one thread at a time run from one storage call to its next."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._local = threading.local()
        self._workers: list[Worker] = []

    def pause(self) -> None:
        """Called before every storage call: wait until chosen to make it."""
        me: Worker | None = getattr(self._local, "worker", None)
        if me is None:
            return  # the test's own thread, setting up or checking
        with self._cond:
            me.state = "paused"
            self._cond.notify_all()
            self._cond.wait_for(lambda: me.state == "running")

    def run(
        self, operations: list[Callable[[], None]], choose: Callable[[int], tuple[int, int]]
    ) -> list[Worker]:
        """Run every operation; ``choose(n)`` picks one of ``n`` paused threads and a run length.

        The chosen thread makes up to that many storage calls in a row: races
        need one write to go a few steps while another waits, which runs of
        single random steps rarely produce.
        """
        self._workers = [Worker() for _ in operations]
        current: Worker | None = None
        left = 0

        def body(worker: Worker, operation: Callable[[], None]) -> None:
            self._local.worker = worker
            self.pause()  # everyone starts stopped
            try:
                operation()
            except BaseException as error:
                worker.error = error
            finally:
                with self._cond:
                    worker.state = "done"
                    self._cond.notify_all()

        threads = [
            threading.Thread(target=body, args=(w, op), daemon=True)
            for w, op in zip(self._workers, operations, strict=True)
        ]
        for thread in threads:
            thread.start()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: all(w.state != "running" for w in self._workers))
                paused = [w for w in self._workers if w.state == "paused"]
                if not paused:
                    break
                if current is None or current.state != "paused" or left == 0:
                    index, left = choose(len(paused))
                    current = paused[index]
                left -= 1
                current.state = "running"
                self._cond.notify_all()
        for thread in threads:
            thread.join()
        return self._workers


class _Paused:
    """A repository or storage whose every method first waits for the scheduler."""

    def __init__(self, inner: Any, scheduler: Scheduler) -> None:
        self._inner = inner
        self._scheduler = scheduler

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def paused(*args: Any, **kwargs: Any) -> Any:
            self._scheduler.pause()
            return attribute(*args, **kwargs)

        return paused


class ScheduledStorage(_Paused):
    """A storage whose every repository call and transaction first waits for the scheduler."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if callable(attribute):
            return super().__getattr__(name)  # transact, ...
        return _Paused(attribute, self._scheduler)


def replay(schedule: Iterable[tuple[int, int]]) -> Callable[[int], tuple[int, int]]:
    """A ``choose`` for :meth:`Scheduler.run` that follows a fixed schedule.

    ``schedule`` is what hypothesis drew: (paused thread, calls in a row), in
    turn; once it is used up, the first paused thread goes on, two calls at a time.
    """
    steps = iter(schedule)

    def choose(paused: int) -> tuple[int, int]:
        index, calls = next(steps, (0, 2))
        return min(index, paused - 1), calls

    return choose
