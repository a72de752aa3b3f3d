"""Where sweep cells run: in-process, a local process pool, or a Dask distributed cluster.

All three are ``concurrent.futures.Executor``s (Dask through ``Client.get_executor``), so the run
loop has one code path; seeds are derived per cell, so results do not depend on scheduling.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor


class ExecutorError(ValueError):
    """An --executor value that is not understood or cannot be reached."""


def _single_thread() -> None:
    import torch

    torch.set_num_threads(1)  # N workers on N cores: one thread each, no oversubscription


def make_executor(value: str | None) -> Executor | None:
    """``inline`` (None: run in this process), ``processes:N`` or ``dask://HOST:PORT``."""
    if not value or value == "inline":
        return None
    if value == "processes" or value.startswith("processes:"):
        _, _, count = value.partition(":")
        try:
            workers = int(count) if count else multiprocessing.cpu_count()
        except ValueError:
            raise ExecutorError(f"--executor {value!r}: expected processes:N with N a positive integer") from None
        if workers < 1:
            raise ExecutorError(f"--executor {value!r}: expected processes:N with N a positive integer")
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_single_thread)
    if value.startswith("dask://") or value.startswith("tcp://"):
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("--executor dask://...: install the 'dask' extra (pip install resnet-claims[dask])") from None
        host = value.split("://", 1)[1]
        if not host.strip("/"):
            raise ExecutorError(f"--executor {value!r}: no scheduler address; expected dask://HOST:PORT")
        address = "tcp://" + host
        try:
            return Client(address, timeout=10).get_executor()
        except OSError as exc:
            raise ExecutorError(f"--executor {value!r}: cannot reach the Dask scheduler ({exc})") from None
    raise ExecutorError(f"--executor {value!r} is not allowed; choose one of: inline, processes:N, dask://HOST:PORT")
