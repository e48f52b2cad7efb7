"""Rows on a Dask cluster: each part loaded once on a worker, each evaluation one pass there.

Every command over data that takes --dask (train, grad, hessian, predict) goes through here: the
option checked (dask_target), the cluster started or reached and closed on every way out
(dask_client), and the parts held on the workers (DaskRows).

The shape is dask-glm's: the optimiser (or grad's and hessian's driver) runs here, on the client.
Each evaluation scatters its arguments once, maps a per-part function (training's part_sweep,
grad's witnesses, hessian's second derivatives) over the parts where they sit, gathers each
part's means and row count, and adds them up here, weighted by the rows (DaskRows.mean). The
compiled Plan is scattered once per run and kept. Scattered values go to one worker and the others
fetch them on first use: dask-glm broadcasts them (scatter(broadcast=True)), but the scheduler's
replication then waits forever on a worker that dies during it (distributed 2026.8, seen in
tests/training/test_distributed.py), and for a few parameters the fetches cost what a broadcast does.

The parts are gradcli's own (io/dataset.py: byte ranges of CSV files, runs of Parquet row
groups), read on the workers by `client.map(part_columns, parts)` and kept there as futures,
persisted as dask-glm persists its arrays. They are not read with dask.dataframe.read_csv or
read_parquet, on purpose: those go through pandas, which cannot say which row of which file a bad
cell is in, and which does not apply gradcli's checks (a null, nan, inf or text cell, a nullable
column, a missing column are each an error naming file, row within that file, and column). The
same Part objects are what a streamed run reads, so given the same --memory both engines see the
same parts, and sgd draws the same mini-batches on either.

A worker that dies is replaced by its nanny (a LocalCluster's) or the cluster; the scheduler
reads its parts again from their files (they have lineage) and reruns the tasks it held, so a pass
counts every row once. Scattered values have no lineage: a pass that loses them with their worker,
or that scatters to a worker as it dies, is run again with them scattered anew.

Remote workers need gradcli installed and the data files at the same paths as here.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engines.sweep import Plan
from ..errors import DataError, GradcliError, UndefinedError, placed, show_text
from .arguments import text, whole
from .dataset import part_place
from .outputs import signals_held
from .values import is_inline, is_spec

Columns = Mapping[str, Any]
Tick = Callable[[int, int, int], None]  # (parts done, parts in all, rows done) during a pass

INSTALL_HINT = "pip install 'gradcli[dask]'"
RETRIES = 3  # a pass is run again at most this many times when a worker died under its scattered values
RETRY_SECONDS = 0.2  # waited before the first retry (then twice, three times as long)
CONNECT_SECONDS = 10  # to reach a scheduler (Dask retries until then), and to close
WORKERS_SECONDS = 30  # for a scheduler reached to have a worker


def import_distributed() -> Any:
    """The `distributed` module, or a GradcliError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise GradcliError(f"--dask needs Dask's distributed scheduler: {INSTALL_HINT}") from None
    return distributed


def default_workers() -> int:
    """--workers for --dask local: one single-threaded worker process per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def dask_log_level() -> int:
    """How loud Dask's own loggers are, here and on a LocalCluster's workers: CRITICAL, since a worker
    that dies makes Dask log ERRORs (tracebacks among them) about what it then recovers, and every
    failure that is not recovered reaches gradcli as an exception, told in one line. GRADCLI_DEBUG=1
    lets its WARNINGs through."""
    return logging.WARNING if os.environ.get("GRADCLI_DEBUG") else logging.CRITICAL


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Dask's log lines kept off stderr (dask_log_level); the levels are restored after."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "bokeh")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(dask_log_level())
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def dask_target(dask: Any, workers: Any, data: Any) -> str | None:
    """"local" or a scheduler's address (None: no Dask), checked with --workers and the data's kind
    before anything is read; a GradcliError with the pip command when Dask is not installed."""
    if dask is None:
        if workers is not None:
            raise GradcliError("--workers goes with --dask local (the number of worker processes to start)")
        return None
    where = text(dask, "--dask").strip()
    if not where:
        raise GradcliError("--dask must be 'local' or a Dask scheduler's address such as tcp://host:8786")
    if workers is not None:
        whole(workers, "--workers", 1)
        if where != "local":
            raise GradcliError(f"--workers goes with --dask local; the cluster at {show_text(where)} has the workers "
                               "it has")
    import_distributed()
    if not is_spec(data) or is_inline(data) or os.fspath(data) == "-":
        raise DataError("--dask reads the data on the workers, from files: give a CSV or Parquet file, a glob or "
                        "a directory (not '-' for stdin, NAME=VALUE text or Python values)")
    return where



@contextmanager
def dask_client(where: str, workers: int | None = None,
                dashboard: Callable[[str], None] | None = None) -> Iterator[Any]:
    """A distributed.Client: on a LocalCluster started here for `where` == "local" (closed on every
    way out, an exception or Ctrl-C included), else connected to the scheduler at address `where`
    (only the connection is closed). `dashboard(address)` is told where the dashboard is."""
    distributed = import_distributed()
    with quiet_logs(), _workers_lost(distributed):
        if where == "local":
            with (_local_cluster(distributed, workers or default_workers()) as cluster,
                  distributed.Client(cluster, set_as_default=False) as client):  # the caller's default stays
                _tell(dashboard, client.dashboard_link, local=True)
                yield client
        else:
            with _connected(distributed, where) as client:
                _tell(dashboard, client.dashboard_link, local=False)
                yield client


@contextmanager
def _workers_lost(distributed: Any) -> Iterator[None]:
    """A task that every worker running it died under (Dask reruns a task on another worker after one
    dies, up to distributed.scheduler.allowed-failures times) ends the command in one line: the
    cluster, not the input, failed, and nothing is written."""
    try:
        yield
    except distributed.KilledWorker as err:
        task, allowed = err.task, err.allowed_failures
        name = task if isinstance(task, str) else str(task[0] if isinstance(task, tuple) and task else task)
        raise GradcliError(f"--dask: {allowed + 1} Dask workers in turn died running one task ({show_text(name, 80)}), "
                           "so it was given up: a worker may have too little memory for a part (a smaller "
                           "--memory makes smaller parts), or was killed") from None


@contextmanager
def _local_cluster(distributed: Any, workers: int) -> Iterator[Any]:
    """Worker processes of one thread each (the compiled sweep runs one BLAS thread), a dashboard on a
    free port. Should this process die before it closes them, each worker ends itself when it sees
    its parent gone (distributed's AsyncProcess watches a pipe to the parent). Ctrl-C while it starts
    is held back until it has started, then closes it."""
    import dask

    # The nannies set MALLOC_TRIM_THRESHOLD_ in each worker; glibc then stops raising its mmap threshold,
    # so every chunk's temporary arrays are fresh pages from the kernel: the sweep ran 5x slower on a
    # worker than here (0.215 s against 0.041 s for 2e6 x 10 rows). Workers keep glibc's own setting.
    environ = {key: value for key, value in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if key != "MALLOC_TRIM_THRESHOLD_"}
    cluster = None
    try:
        with signals_held(), dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = distributed.LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                                               dashboard_address=":0", silence_logs=dask_log_level())
        yield cluster
    finally:
        if cluster is not None:
            cluster.close(timeout=CONNECT_SECONDS)


@contextmanager
def _connected(distributed: Any, address: str) -> Iterator[Any]:
    """A client of the running scheduler at `address` that has at least one worker."""
    _check_address(distributed, address)
    try:
        client = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
    except (OSError, ValueError) as err:  # refused or timed out (distributed retries until its timeout)
        raise GradcliError(f"--dask {show_text(address)}: cannot reach a Dask scheduler there "
                           f"({' '.join(str(err).split())[:160]})") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError:
            raise GradcliError(f"--dask {show_text(address)}: the scheduler there has had no worker "
                               f"for {WORKERS_SECONDS} s") from None
        yield client
    finally:
        client.close(timeout=CONNECT_SECONDS)


def _check_address(distributed: Any, address: str) -> None:
    """An address of a scheme Dask knows, checked before a Client is made: a Client that fails on its
    address hangs for a minute when it is collected, trying to close."""
    from distributed.comm import get_address_host_port

    try:
        get_address_host_port(address)  # the scheme known, a host and a port
    except (ValueError, NotImplementedError) as err:
        raise GradcliError(f"--dask must be 'local' or a Dask scheduler's address such as tcp://host:8786, "
                           f"got {show_text(address)!r} ({' '.join(str(err).split())[:120]})") from None
    if address.startswith("tls://") and distributed.Security().get_connection_args("client").get("ssl_context") is None:
        raise GradcliError(f"--dask {show_text(address)}: TLS needs Dask's TLS settings (a CA file and a client "
                           "certificate: distributed.comm.tls in Dask's configuration)")


def _tell(dashboard: Callable[[str], None] | None, link: str | None, local: bool) -> None:
    if dashboard is None or not link:
        return
    if local and importlib.util.find_spec("bokeh") is None:  # the page would only ask for bokeh
        link += " (its pages need bokeh: pip install 'bokeh>=3.1')"
    dashboard(link)


# ---------------------------------------------------------------- what the workers run


@dataclass(frozen=True)
class _Held:
    """Stands in a task's arguments for the value of the kept future `held[index]`."""

    index: int


def run_part(loaded: tuple[Columns, int], function: Callable[..., Any], bundle: tuple[Any, ...],
             held: Sequence[Any]) -> Any:
    """function(columns, rows, *args) on a worker, args rebuilt from this call's scattered bundle and
    the values kept for the whole run (the Plan)."""
    columns, rows = loaded
    args = [held[arg.index] if isinstance(arg, _Held) else arg for arg in bundle]
    return function(columns, rows, *args)


def guarded(columns: Columns, rows: int, function: Callable[..., Any], *args: Any) -> Any:
    """function(columns, rows, *args), or the UndefinedError it raised, returned so that the client can
    name the part's file and row."""
    try:
        return function(columns, rows, *args)
    except UndefinedError as err:
        return err


def rows_of(loaded: tuple[Columns, int]) -> int:
    return loaded[1]


def rows_at(loaded: tuple[Columns, int], picked: np.ndarray) -> dict[str, np.ndarray]:
    """A part's rows at local indices `picked`."""
    return {name: np.asarray(column)[picked] for name, column in loaded[0].items()}


def results_in_order(client: Any, futures: list[Any], sizes: Sequence[int] | None = None,
                     tick: Tick | None = None) -> list[Any]:
    """The futures' results in their order, tick(parts done, parts, rows done) as each part is done
    (`sizes`: each one's rows); the error of the first failed one in order (a worker's DataError as
    it was raised there), as a run reading the parts in turn would raise it."""
    from distributed import as_completed, wait

    with client.as_current():  # wait and as_completed use the current client
        if sizes is not None and tick is not None:
            rows_of_key = {future.key: size for future, size in zip(futures, sizes)}
            done = rows = 0
            for future in as_completed(futures):
                done, rows = done + 1, rows + rows_of_key[future.key]
                tick(done, len(futures), rows)
        else:
            wait(futures)
    for future in futures:
        if future.status != "finished":
            future.result()  # raises the task's own exception, or CancelledError
    return client.gather(futures)


def weighted_mean(results: Sequence[tuple[Any, int]], rows: int) -> Any:
    """Per-part means (numbers, arrays, or dicts of numbers), weighted by their row counts, as the
    mean over all `rows`; one part's mean is returned as it is."""
    if len(results) == 1:
        return results[0][0]
    first = results[0][0]
    if isinstance(first, Mapping):
        return {key: sum(value[key] * count for value, count in results) / rows for key in first}
    total = sum(np.asarray(value, dtype=float) * count for value, count in results)
    return total / rows if np.ndim(total) else float(total) / rows


# ---------------------------------------------------------------- the rows


class DaskRows:
    """passes.Rows on a distributed.Client: the parts' checked columns held on the workers.

    Made, it has read every part once (a bad cell anywhere is the DataError of the first bad part
    in file order, as a streamed run would raise it) and knows each part's rows. The client stays
    the caller's to close.
    """

    engine = "dask"

    def __init__(self, client: Any, parts: Sequence[Any], load: Callable[..., tuple[Columns, int]], files: int,
                 tick: Tick | None = None, **load_args: Any) -> None:
        """`load(part, **load_args)` reads and checks one part on a worker (a module-level function)."""
        self.client, self.count, self.files, self.tick = client, len(parts), files, tick
        self.sources = list(parts)  # what each part is (io.dataset.Part), for messages
        self.loaded = client.map(load, self.sources, **load_args, pure=False)
        self.sizes: list[int] = self._results(client.map(rows_of, self.loaded, pure=False))
        self.rows = sum(self.sizes)
        self.live = [i for i in range(self.count) if self.sizes[i]]
        self._kept: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, the future it was scattered as)
        self._scattered: list[Any] = []  # the futures the pass under way reads
        if not self.rows:
            raise DataError("there are no data rows")

    def mean(self, function: Callable[..., Any], *args: Any) -> Any:
        """The mean over every row of what function(columns, rows, *args) gives as a part's mean (a
        number, an array, or a dict of numbers): one pass, each part's mean weighted by its rows. A
        row where the function is undefined (UndefinedError) is named by its file and row there,
        the first in file order."""
        results = self.map(guarded, function, *args)
        for i, (value, _) in zip(self.live, results):
            if isinstance(value, UndefinedError):
                part = self.sources[i]
                raise placed(value, lambda row, part=part: f"{part.name} {part_place(part, row)}") from None
        return weighted_mean(results, self.rows)

    def map(self, function: Callable[..., Any], *args: Any) -> list[tuple[Any, int]]:
        """function(columns, rows, *args) on every non-empty part, where it is; one pass, results in
        part order. A pass whose values could not be scattered to a worker that just died, or whose
        scattered values were all lost with their workers, is run again."""
        from distributed import CancelledError  # concurrent.futures' own, as distributed raises it
        from distributed.comm import CommClosedError

        for attempt in range(RETRIES + 1):
            try:
                return self._pass(function, args)
            except CommClosedError:  # a worker died as the values were scattered to it: the scheduler will know
                if attempt == RETRIES:
                    raise
                time.sleep(RETRY_SECONDS * (attempt + 1))
            except CancelledError:
                if attempt == RETRIES or not self._drop_lost_scattered():
                    raise
        raise AssertionError("unreachable")

    def _pass(self, function: Callable[..., Any], args: tuple[Any, ...]) -> list[tuple[Any, int]]:
        held: list[Any] = []
        bundle: list[Any] = []
        for arg in args:
            if isinstance(arg, Plan):
                bundle.append(_Held(len(held)))
                held.append(self._keep(arg))
            else:
                bundle.append(arg)
        [scattered] = self.client.scatter([tuple(bundle)], hash=False)
        self._scattered = [scattered, *held]
        futures = self.client.map(run_part, [self.loaded[i] for i in self.live], function=function,
                                  bundle=scattered, held=held, pure=False)
        results = self._results(futures, [self.sizes[i] for i in self.live])
        return list(zip(results, (self.sizes[i] for i in self.live)))

    def _keep(self, value: Any) -> Any:
        """The future of `value` scattered once, for as long as this object lives (again if it was lost)."""
        kept = self._kept.get(id(value))
        if kept is None or kept[1].status != "finished":
            [future] = self.client.scatter([value], hash=False)
            kept = self._kept[id(value)] = (value, future)
        return kept[1]

    def _drop_lost_scattered(self) -> bool:
        """Whether the pass under way lost a scattered value; the kept ones lost are forgotten."""
        lost = any(future.status != "finished" for future in self._scattered)
        self._kept = {key: kept for key, kept in self._kept.items() if kept[1].status == "finished"}
        return lost

    def _results(self, futures: list[Any], sizes: Sequence[int] | None = None) -> list[Any]:
        return results_in_order(self.client, futures, sizes, self.tick)

    def parts(self, rng: np.random.Generator | None = None) -> Iterator[tuple[Columns, int]]:
        """Each part's columns brought here in turn, in passes.StreamedRows' order (a seeded
        permutation of all the parts when rng is given, the empty ones skipped)."""
        order = rng.permutation(self.count).tolist() if rng is not None and self.count > 1 else range(self.count)
        rows = 0
        for step, i in enumerate(order):
            if not self.sizes[i]:
                continue
            columns, count = self.loaded[i].result()
            yield columns, count
            rows += count
            if self.tick is not None:
                self.tick(step + 1, self.count, rows)

    def take(self, picked: np.ndarray) -> Columns:
        """The rows at global indices `picked` (sorted): each part sends only its own picked rows."""
        starts = np.concatenate([[0], np.cumsum(self.sizes)])
        futures = []
        for i in self.live:
            mine = picked[(picked >= starts[i]) & (picked < starts[i + 1])] - starts[i]
            if len(mine):
                futures.append(self.client.submit(rows_at, self.loaded[i], mine, pure=False))
        pieces = self._results(futures)
        return {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]} if pieces else {}
