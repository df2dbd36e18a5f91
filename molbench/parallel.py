"""Ordered parallel map for builders: results come back in input order, whatever the workers.

That order guarantee is what keeps parallel builds byte-identical to serial ones. The map
runs in local processes (a ``multiprocessing`` pool, the default) or on a Dask distributed
cluster (:func:`dask_cluster`); the units of work and their order are the same on both.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from molbench.errors import BuildError, ParameterError

T = TypeVar("T")
R = TypeVar("R")
OrderedMap = Callable[[Callable[[T], R], Iterable[T]], Iterator[R]]


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def ordered_map(workers: int, client: Any = None) -> Iterator[OrderedMap[Any, Any]]:
    """Yield an ``imap``: on the Dask ``client``'s cluster if given, in-process for one
    worker, else a process pool.

    Fork where the platform has it: spawn would re-import the caller's ``__main__``, which
    breaks scripts without an ``if __name__ == "__main__"`` guard. Workers only run pure
    Python, numpy and RDKit code, none of the parent's threaded libraries.
    """
    if client is not None:
        with ordered_stream(workers, client=client, window=None) as stream:
            yield stream
        return
    if workers <= 1:
        yield map
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers) as pool:
        yield pool.imap


@contextmanager
def ordered_stream(
    workers: int, window: int | None = None, client: Any = None
) -> Iterator[OrderedMap[Any, Any]]:
    """Like :func:`ordered_map`, but at most ``window`` tasks in flight.

    ``Pool.imap`` reads its whole input ahead and queues every result the consumer has
    not taken yet; for 479,035 reactions that is the whole dataset in memory at once. This
    keeps memory bounded by the window, in input order, for any number of workers.
    """
    if client is None and workers <= 1:
        yield map
        return
    if client is not None:
        slots = sum(client.nthreads().values())
        yield _windowed(lambda fn, item: client.submit(fn, item, pure=False), window or 4 * slots)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers) as pool:
        yield _windowed(lambda fn, item: pool.apply_async(fn, (item,)), window or 4 * workers)


def _windowed(submit: Callable[[Any, Any], Any], limit: int) -> OrderedMap[Any, Any]:
    """An ordered map over ``submit``ted tasks, ``limit`` in flight (``.get``/``.result``)."""

    def stream(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pending: collections.deque[Any] = collections.deque()
        for item in items:
            pending.append(submit(fn, item))
            if len(pending) >= limit:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())

    return stream


def _result(task: Any) -> Any:
    return task.result() if hasattr(task, "result") else task.get()


@contextmanager
def dask_cluster(scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Any]:
    """A Dask ``Client``: connected to ``scheduler`` (``tcp://host:8786``), or to a
    ``LocalCluster`` of ``local_workers`` processes on 127.0.0.1; None when neither is given.

    Raw files never travel as paths: the client reads them and sends chunks of lines to the
    workers, so workers need molbench and RDKit installed, not the data. They must run the
    same molbench, RDKit, pyarrow and numpy as the client, or bytes could differ (the
    build checks).
    """
    if scheduler is None and local_workers is None:
        yield None
        return
    if scheduler is not None and local_workers is not None:
        raise ParameterError("pass --scheduler or --dask-local, not both")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError(
            "building on Dask needs dask.distributed: pip install 'molbench[dask]'"
        ) from None
    if local_workers is not None:
        if local_workers < 1:
            raise ParameterError(f"--dask-local must be at least 1, got {local_workers}")
        cluster = LocalCluster(
            n_workers=local_workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as e:
        raise BuildError(f"cannot reach the Dask scheduler {scheduler}: {e}") from None
    with client:
        yield client
