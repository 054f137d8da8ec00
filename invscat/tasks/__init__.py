"""Reconstruction tasks: one class per forward-model family, owning its operator, simulation, methods, tuned
weights and estimator metadata (:class:`~invscat.tasks.base.Task`).

>>> from invscat.tasks import SuperResolution, Tomography, Deblurring
>>> sorted(TASKS)
['deblur', 'superres', 'tomo']
>>> SuperResolution(4).methods
('bicubic', 'linear', 'tikhonov', 'tv', 'l1', 'scattering')
"""

from invscat.tasks.base import DEFAULT_ITERS, DEFAULT_NOISE, Task
from invscat.tasks.deblur import Deblurring
from invscat.tasks.superres import SuperResolution, bicubic
from invscat.tasks.tomo import Tomography

TASKS = {task.name: task for task in (SuperResolution, Tomography, Deblurring)}

__all__ = ["Task", "SuperResolution", "Tomography", "Deblurring", "TASKS", "DEFAULT_ITERS", "DEFAULT_NOISE",
           "bicubic"]
