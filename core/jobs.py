"""Background jobs on huey: a SQLite queue by default, Redis when configured, in-line for tests."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from core.db import connection

log = logging.getLogger(__name__)


class JobQueue:
    """The app's job queue: register tasks by name, enqueue them, run a consumer."""

    def __init__(self, app: Any, huey: Huey):
        self.app = app
        self.huey = huey
        self.tasks: dict[str, Any] = {}

    def task(self, name: str, *, retries: int = 3, retry_delay: int = 30) -> Callable[[Callable[..., Any]], Any]:
        """Register a function as a job named `name`; it runs inside the app and a DB connection."""

        def register(function: Callable[..., Any]) -> Any:
            @functools.wraps(function)
            def run_in_app(*args: Any, **kwargs: Any) -> Any:
                with self.app.app_context(), connection():
                    return function(*args, **kwargs)

            wrapped = self.huey.task(retries=retries, retry_delay=retry_delay, name=name)(run_in_app)
            self.tasks[name] = wrapped
            return wrapped

        return register

    def periodic(self, name: str, schedule: Callable[[Any], bool]) -> Callable[[Callable[[], Any]], Any]:
        """Register a function the consumer runs on `schedule` (e.g. huey.crontab(minute="*/10")), in the app."""

        def register(function: Callable[[], Any]) -> Any:
            @functools.wraps(function)
            def run_in_app() -> Any:
                with self.app.app_context(), connection():
                    return function()

            wrapped = self.huey.periodic_task(schedule, name=name)(run_in_app)
            self.tasks[name] = wrapped
            return wrapped

        return register

    def enqueue(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Queue the job `name`; returns huey's result handle."""
        try:
            task = self.tasks[name]
        except KeyError:
            raise LookupError(f"no job named '{name}' is registered; known: {', '.join(sorted(self.tasks))}") from None
        return task(*args, **kwargs)

    def pending_count(self) -> int:
        """How many jobs wait in the queue."""
        return self.huey.pending_count()

    def consumer(self, workers: int) -> Consumer:
        """A consumer with worker threads; it does not install signal handlers (we own them)."""
        return _QuietConsumer(self.huey, workers=workers, worker_type="thread", periodic=True,
                              check_worker_health=True)


class _QuietConsumer(Consumer):
    """A consumer that can run beside the web server without taking over SIGINT and SIGTERM."""

    def _set_signal_handlers(self) -> None:  # huey's hook; the CLI handles signals itself
        return None


def create_huey(settings: Any, instance_file: Callable[[str], Any]) -> Huey:
    """The huey instance for the configured backend."""
    if settings.backend == "immediate":
        return MemoryHuey("oss-connect", immediate=True)
    if settings.backend == "redis":
        return RedisHuey("oss-connect", url=settings.redis_url)
    path = instance_file(settings.sqlite_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("oss-connect", filename=str(path))
