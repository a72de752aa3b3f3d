"""Where sweep cells run: in-process, a pool of worker processes, or a Dask distributed cluster.

All are ``concurrent.futures.Executor``s (Dask through ``Client.get_executor``), so the run loop
has one code path; seeds are derived per cell, so results do not depend on scheduling.

:class:`WorkerPool` runs ``processes:N`` and, with ``--cell-timeout``, the inline executor (one
worker). Its workers are forked from a forkserver that has imported the suite once (a new worker
costs a fork, not a Python start), so a worker can be thrown away cheaply: a task that runs past its
limit (plus KILL_GRACE_S, in which a cell stops itself: run.measure_cell) has its worker killed
(SIGKILL, which no plug-in code can catch or ignore) and raises :class:`TaskTimeout`; a worker that ends while running a task (``os._exit`` in a C extension, a
crash, the OOM killer) fails that task with :class:`WorkerDied`; and when the consumer of ``map``
stops early (a cell of the claim failed), the tasks not yet returned are cancelled: queued ones never
start, running ones are stopped with their workers. The plug-in and the claim travel to the workers
by pickling, once per task.
"""
from __future__ import annotations

import multiprocessing
import pickle
import signal
import time
import traceback
import weakref
from collections import deque
from concurrent.futures import Executor, Future
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit


class ExecutorError(ValueError):
    """An --executor value that is not understood or cannot be reached."""


class TaskTimeout(RuntimeError):
    """A task ran past the pool's time limit; its worker process was killed."""


class WorkerDied(RuntimeError):
    """The worker process running a task ended before returning its result."""


PRELOAD = ["claims.run", "claims.registry"]  # what the forkserver imports once for every worker
_POLL_S = 1.0  # longest wait between checks of the workers when no task has a limit
KILL_GRACE_S = 2.0  # a task's worker is killed this long after its limit: a cell's own timer goes first


def _serve(conn: Connection, single_thread: bool) -> None:
    """A worker: run (fn, args) tasks from ``conn`` one at a time and send back (ok, result or exception)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    if single_thread:
        import torch

        torch.set_num_threads(1)  # N workers on N cores: one thread each, no oversubscription
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        fn, args = task
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - the task's failure is its result
            reply = (False, _portable(exc))
        try:
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
            conn.send((False, RuntimeError(f"the task's result could not be sent back: {type(exc).__name__}: {exc}")))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` with the worker's traceback as a note, or a RuntimeError with its text if it cannot be pickled."""
    try:
        exc.add_note("in the worker process:\n" + "".join(traceback.format_exception(exc, limit=-6)))
        pickle.dumps(exc)
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class _Worker:
    """One worker process and the parent's end of its pipe; ``task`` is what it runs (None: idle)."""

    def __init__(self, ctx: Any, single_thread: bool) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, single_thread), name="resnet-claims-worker")
        self.process.start()
        child.close()
        self.task: Any = None
        self.started = 0.0

    def stop(self) -> None:
        """Kill the process (SIGKILL) and reap it."""
        self.process.kill()
        self.process.join()
        self.conn.close()

    def ended(self) -> str:
        self.process.join(timeout=5)  # its pipe closed: the process is ending
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"the worker process running it was killed by signal {signal.Signals(-code).name}"
        return f"the worker process running it ended with exit status {code} before returning a result"


class WorkerPool(Executor):
    """``workers`` processes, each running one task at a time; a task running longer than ``timeout``
    seconds (None: no limit) is stopped with its worker (module docstring). ``single_thread``: each
    worker runs torch on one thread (several workers share the cores)."""

    def __init__(self, workers: int, timeout: float | None = None, single_thread: bool = True) -> None:
        self.workers, self.timeout, self.single_thread = workers, timeout, single_thread
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)
        self._pool: list[_Worker] = []  # changed in place only: the finalizer holds it
        # workers are not daemons (a plug-in may start processes of its own), so they are stopped here
        # when the pool is collected or the interpreter exits without shutdown() (else exit would wait on them)
        self._finalizer = weakref.finalize(self, _stop_all, self._pool)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a WorkerPool stays in the process that made it")

    def _idle(self) -> _Worker | None:
        for worker in list(self._pool):
            if worker.task is None and not worker.process.is_alive():  # ended between tasks
                self._stop(worker)
        for worker in self._pool:
            if worker.task is None:
                return worker
        if len(self._pool) < self.workers:
            self._pool.append(_Worker(self._ctx, self.single_thread))
            return self._pool[-1]
        return None

    def _stop(self, worker: _Worker) -> None:
        worker.stop()
        self._pool.remove(worker)

    def _run(self, fn: Callable[..., Any], items: Iterable[tuple[Any, ...]]) -> Iterator[Future]:
        """Futures of fn(*item) in the order of ``items``, each yielded once done; tasks are sent to idle
        workers as they free up. Closing the iterator early stops every task of this call still running."""
        queue = deque(enumerate(items))
        done: dict[int, Future] = {}
        running: dict[_Worker, int] = {}
        next_index = 0
        try:
            while queue or running or next_index in done:
                if next_index in done:
                    yield done.pop(next_index)
                    next_index += 1
                    continue
                while queue and (worker := self._idle()) is not None:
                    index, args = queue.popleft()
                    future: Future = Future()
                    try:
                        worker.conn.send((fn, args))
                    except Exception as exc:  # noqa: BLE001 - a task that cannot be pickled fails alone
                        future.set_exception(exc)
                        done[index] = future
                        continue
                    worker.task, worker.started = future, time.monotonic()
                    running[worker] = index
                if running:
                    self._wait(running, done)
        finally:
            for worker in list(running):  # the consumer stopped early: stop what still runs for it
                self._stop(worker)

    def _wait(self, running: dict[_Worker, int], done: dict[int, Future]) -> None:
        """Wait until a running task ends, fails or passes its limit, and record what happened."""
        now = time.monotonic()
        kill_after = self.timeout + KILL_GRACE_S if self.timeout else None
        limits = [w.started + kill_after - now for w in running] if kill_after else []
        ready = wait([w.conn for w in running] + [w.process.sentinel for w in running],
                     timeout=max(0.0, min(limits)) if limits else _POLL_S)
        now = time.monotonic()
        for worker in list(running):
            future, outcome = worker.task, None
            if worker.conn in ready or worker.process.sentinel in ready:
                try:
                    outcome = worker.conn.recv()
                except (EOFError, OSError):
                    future.set_exception(WorkerDied(worker.ended()))
                    self._stop(worker)
                except Exception as exc:  # noqa: BLE001 - a result this process cannot unpickle
                    outcome = (False, RuntimeError(f"the task's result could not be read: {type(exc).__name__}: {exc}"))
            elif kill_after and now - worker.started >= kill_after:
                self._stop(worker)
                future.set_exception(TaskTimeout(f"ran past --cell-timeout {self.timeout:g} s and did not stop; its "
                                                 f"worker process was killed after {kill_after:g} s"))
            else:
                continue
            if outcome is not None:
                ok, value = outcome
                future.set_result(value) if ok else future.set_exception(value)
                worker.task = None
            done[running.pop(worker)] = future

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """fn(*args) for the zipped ``iterables``, in order, computed ``workers`` at a time. A task's
        exception is raised when its result is reached, and the tasks after it are cancelled.
        ``timeout`` and ``chunksize`` are the Executor interface's and unused: each task has the
        pool's own limit, and tasks go one at a time."""
        futures = self._run(fn, zip(*iterables))
        try:
            for future in futures:
                yield future.result()
        finally:
            futures.close()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run fn(*args, **kwargs) in a worker and return its finished future (this waits for it)."""
        if kwargs:
            fn = partial(fn, **kwargs)
        futures = self._run(fn, [args])
        try:
            return next(futures)
        finally:
            futures.close()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop every worker: idle ones are told to exit, busy ones are killed."""
        self._finalizer()


def _stop_all(pool: list[_Worker]) -> None:
    """Tell idle workers to exit, kill the others, and empty ``pool``."""
    for worker in pool:
        if worker.task is None and worker.process.is_alive():
            try:
                worker.conn.send(None)
                worker.process.join(timeout=5)
            except OSError:
                pass
        worker.stop()
    pool.clear()


def _dask(value: str, cell_timeout: float | None) -> Executor:
    """A Dask Client's executor for ``dask://HOST:PORT`` (also ``tcp://``); ExecutorError for a bad address."""
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorError("--executor dask://...: install the 'dask' extra (pip install resnet-claims[dask])") from None
    host = value.split("://", 1)[1]
    if not host.strip("/"):
        raise ExecutorError(f"--executor {value!r}: no scheduler address; expected dask://HOST:PORT")
    try:
        parts = urlsplit("tcp://" + host)
        port, hostname = parts.port, parts.hostname
    except ValueError as exc:
        raise ExecutorError(f"--executor {value!r}: not an address ({exc}); expected dask://HOST:PORT") from None
    if not hostname or port is None or parts.path.strip("/") or parts.query:
        raise ExecutorError(f"--executor {value!r}: expected dask://HOST:PORT with a host and a port number")
    if cell_timeout is not None:
        raise ExecutorError("--cell-timeout is enforced by the suite's own worker processes (inline or processes:N), "
                            "not on a Dask cluster; leave it out, or run with --executor processes:N")
    try:
        return Client(f"tcp://{host.rstrip('/')}", timeout=10).get_executor()
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError from distributed's address parsing
        raise ExecutorError(f"--executor {value!r}: cannot reach the Dask scheduler ({type(exc).__name__}: {exc})") from None


def make_executor(value: str | None, cell_timeout: float | None = None) -> Executor | None:
    """``inline`` (None: run in this process; a one-worker WorkerPool when ``cell_timeout`` is set),
    ``processes:N`` (a WorkerPool of N single-threaded workers) or ``dask://HOST:PORT``."""
    if not value or value == "inline":
        return WorkerPool(1, cell_timeout, single_thread=False) if cell_timeout else None
    if value == "processes" or value.startswith("processes:"):
        _, _, count = value.partition(":")
        try:
            workers = int(count) if count else multiprocessing.cpu_count()
        except ValueError:
            raise ExecutorError(f"--executor {value!r}: expected processes:N with N a positive integer") from None
        if workers < 1:
            raise ExecutorError(f"--executor {value!r}: expected processes:N with N a positive integer")
        return WorkerPool(workers, cell_timeout)
    if value.startswith("dask://") or value.startswith("tcp://"):
        return _dask(value, cell_timeout)
    raise ExecutorError(f"--executor {value!r} is not allowed; choose one of: inline, processes:N, dask://HOST:PORT")
