"""Cells give the same numbers in-process, in a local process pool and on a Dask cluster."""
import pytest

from claims.executors import ExecutorError, make_executor
from claims.run import Execution, run_claim
from claims.spec import select
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
    from claims.spec import all_claims

    for claim in all_claims():
        assert pickle.loads(pickle.dumps(claim)).declaration() == claim.declaration(), claim.id
        for name in claim.controls:
            pickle.dumps(resolve(name)[0])
