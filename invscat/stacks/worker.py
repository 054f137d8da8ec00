"""Set-up of the worker processes of a local cluster (a Dask preload): Ctrl-C in a terminal reaches the whole
process group, and only the command should act on it (it stops the cluster), not every worker with a traceback."""

import signal


def dask_setup(worker) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
