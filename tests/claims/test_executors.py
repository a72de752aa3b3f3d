"""Cells give the same numbers in-process, in a local process pool and on a Dask cluster."""
import pytest

from claims.executors import ExecutorError, make_executor
from claims.run import Execution, run_claim
from claims.registry import select
from reference_impl import make_reference


def _run(executor):
    claim = select(["marion.gradient_dichotomy"])[0]
    return run_claim(claim, make_reference(), "smoke", 0, execution=Execution(executor=executor))


@pytest.fixture(scope="module")
def inline():
    return _run(None)


def test_process_pool_matches_inline(inline):
    with make_executor("processes:2") as pool:
        assert _run(pool)["cells"] == inline["cells"]


def test_dask_local_cluster_matches_inline(inline):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        executor = make_executor(cluster.scheduler_address.replace("tcp://", "dask://"))
        assert _run(executor)["cells"] == inline["cells"]


@pytest.mark.parametrize("value", ["threads", "processes:x", "processes:0"])
def test_bad_executor_is_a_clear_error(value):
    with pytest.raises(ExecutorError, match="--executor"):
        make_executor(value)


def test_every_claim_and_listed_control_travels_to_a_worker():
    """A cell sent to a process pool or Dask carries its claim (measurement, estimator, readings) and plug-in."""
    import pickle

    from claims.plugins import resolve
    from claims.registry import all_claims

    for claim in all_claims():
        assert pickle.loads(pickle.dumps(claim)).declaration() == claim.declaration(), claim.id
        for name in claim.controls:
            pickle.dumps(resolve(name)[0])


def test_a_task_past_its_limit_is_stopped_with_its_worker_and_the_pool_goes_on():
    import os
    import time

    from claims.executors import KILL_GRACE_S, TaskTimeout, WorkerPool

    with WorkerPool(1, timeout=0.5) as pool:
        first = pool.submit(os.getpid).result()
        start = time.perf_counter()
        with pytest.raises(TaskTimeout, match="ran past --cell-timeout 0.5 s and did not stop"):
            pool.submit(time.sleep, 60).result()
        assert time.perf_counter() - start < 0.5 + KILL_GRACE_S + 5
        assert pool.submit(os.getpid).result() != first  # a fresh worker


def test_a_worker_that_ends_the_process_fails_its_task_only():
    import os

    from claims.executors import WorkerDied, WorkerPool

    with WorkerPool(1) as pool:
        with pytest.raises(WorkerDied, match="ended with exit status 3"):
            pool.submit(os._exit, 3).result()
        assert pool.submit(abs, -2).result() == 2


def test_when_a_task_fails_the_tasks_queued_and_running_after_it_are_cancelled():
    """map stops at the first failure: queued tasks never start and running ones are stopped."""
    import os
    import time

    from claims.executors import WorkerPool

    with WorkerPool(2) as pool:
        pool.submit(os.getpid).result()  # the workers' start is not what is timed
        start = time.perf_counter()
        results = pool.map(time.sleep, [-1, 30, 30, 30, 30])  # sleep(-1): ValueError
        with pytest.raises(ValueError):
            next(results)
        assert pool.submit(abs, -1).result() == 1
        assert time.perf_counter() - start < 10  # not 30 s behind a cancelled task


def test_a_dask_address_without_a_port_is_one_line():
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    for value in ("dask://localhost", "dask://localhost:notaport", "dask://[::1"):
        with pytest.raises(ExecutorError, match="--executor") as err:
            make_executor(value)
        assert "\n" not in str(err.value)
