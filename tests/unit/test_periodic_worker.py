"""A periodic worker's job runs in a thread, which cancelling the worker cannot stop."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from motcua.runtime.workers import PeriodicWorker


def test_cancelling_the_worker_tells_its_running_job_to_stop() -> None:
    started, stopped = threading.Event(), threading.Event()

    def job() -> int:  # a long round, ended only by its stop signal
        started.set()
        stopped.wait(10)
        return 0

    async def run_then_cancel() -> None:
        worker = PeriodicWorker("long", 0.01, job, stop=stopped.set)
        task = asyncio.create_task(worker.run())
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_then_cancel())  # would wait the job's full 10 s at exit otherwise

    assert stopped.is_set()
