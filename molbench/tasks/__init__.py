"""Every task molbench can score, by dataset name. Adding one: a module and a line here."""

from molbench.tasks.base import Task
from molbench.tasks.reactions import ReactionsTask
from molbench.tasks.text import TextTask
from molbench.tasks.validity import ValidityTask

TASKS: dict[str, Task] = {t.dataset: t for t in (ValidityTask(), ReactionsTask(), TextTask())}

__all__ = ["TASKS", "Task"]
