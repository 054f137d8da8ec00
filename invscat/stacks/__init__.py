"""Stacks and volumes, slice by slice on Dask: read and write them (.npy, .tif, .zarr, directories), run them on a
local cluster or an existing scheduler (:func:`map_slices`, ``invscat tomo|superres|deblur STACK``)."""

from invscat.stacks.cluster import dask_client
from invscat.stacks.formats import LAYOUTS, Stack, StackOutput, canonical, open_stack
from invscat.stacks.run import SliceJob, StackReport, map_slices, run_stack

__all__ = ["LAYOUTS", "Stack", "StackOutput", "SliceJob", "StackReport", "canonical", "dask_client", "map_slices",
           "open_stack", "run_stack"]
