"""Where a stack runs: a Dask ``LocalCluster`` started for the run, or an existing scheduler; the same code either
way (Dask's distributed scheduler, local by default)."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings

from invscat.io import InvscatError


def local_cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def torch_threads(workers: int, cores: int | None = None) -> int:
    """torch threads per worker so that workers x threads fits the cores.

    >>> torch_threads(2, cores=16), torch_threads(32, cores=16)
    (8, 1)
    """
    return max(1, (cores or local_cores()) // max(1, workers))


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None):
    """Yield ``(client, threads)``: a client of the scheduler at ``scheduler``, or of a local cluster of
    ``workers`` processes (default: one per core) that is shut down on leaving (Ctrl-C included); ``threads`` is
    the torch thread count per worker (None on an existing cluster: its workers keep their own setting).

    Parameters
    ----------
    workers : int, optional
        Worker processes of the local cluster, one Dask thread each.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``), e.g. one started with ``dask scheduler`` and
        ``dask worker``, or by dask-jobqueue.
    """
    from dask.distributed import Client, LocalCluster

    if workers is not None and scheduler is not None:
        raise InvscatError("give --workers (a local cluster) or --scheduler (an existing one), not both.")
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as error:
            raise InvscatError(f"cannot reach the Dask scheduler at {scheduler} ({error}).") from None
        try:
            if not client.scheduler_info()["workers"]:
                client.wait_for_workers(1, timeout=30)
            yield client, None
        except TimeoutError:
            raise InvscatError(f"the Dask scheduler at {scheduler} has no workers.") from None
        finally:
            client.close()
        return
    workers = local_cores() if workers is None else workers
    if workers < 1:
        raise InvscatError(f"the number of workers must be >= 1, got {workers}.")
    # the logs stay quiet (a stopped run is said by the command in one sentence), no dashboards; the scheduler's
    # HTTP server warns when its usual port is taken by another cluster, which is no concern of the run
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               worker_dashboard_address=None, silence_logs=logging.CRITICAL,
                               preload=["invscat.stacks.worker"])
    try:
        with Client(cluster) as client:
            yield client, torch_threads(workers)
    finally:
        cluster.close()
