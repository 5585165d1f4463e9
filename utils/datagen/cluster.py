"""Labelling on a Dask cluster: the same per-material task as the local pool, on any number of machines.

    python -m utils.datagen label --tasks tasks.json.gz --dask-workers 2             # a LocalCluster on this machine
    python -m utils.datagen label --tasks tasks.json.gz --scheduler tcp://HOST:8786  # a running cluster (Slurm, PBS…)

Optional: ``pip install -e .[cluster]`` (Dask ``distributed``; ``dask-jobqueue`` starts workers through Slurm or
PBS, see README § "Beyond one machine"). Only the labelling is distributed; the store is not:

* each Dask worker loads the potential once, when it starts (`CalculatorPlugin`, a Dask ``WorkerPlugin``; a
  worker that joins or restarts later loads it too), then runs `_worker.label_one` on one material at a time;
* the finished records stream back to this process, which writes them through `runner.store_results`, the
  function the local pool uses: the store keeps its guarantees (atomic files, no id written twice, resumable);
* at most `window` materials are submitted at a time (`bounded_map`), so 10⁵ tasks never sit in the scheduler
  at once; a killed worker's materials are run again on another worker by Dask; a material that kills
  workers repeatedly (Dask's ``KilledWorker``) is reported and left for a rerun, never written as labelled.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator

try:
    from distributed import Client, LocalCluster, WorkerPlugin, as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker
except ImportError as exc:   # the tutorial's install has no Dask: `pip install -e .[cluster]`
    raise ImportError(f"Dask is not installed ({exc.name} is missing)") from exc

from ._worker import Timeout, calculator, init_worker, label_one

_ONE_AT_A_TIME = threading.Lock()   # one material per worker process, whatever the worker's thread count


class CalculatorPlugin(WorkerPlugin):
    """Loads the ASE calculator once per Dask worker process (its `setup` runs when a worker starts or joins)."""

    idempotent = True

    def __init__(self, calculator: str, device: str = "cpu"):
        self.calculator, self.device = calculator, device

    def setup(self, worker) -> None:
        try:
            init_worker(self.calculator, self.device)
        except SystemExit as exc:   # make_calculator's message for a user; Dask reports it as an error
            raise RuntimeError(str(exc)) from None


def label_on_worker(task: dict) -> dict:
    """One material on a Dask worker: `_worker.label_one` with the calculator `CalculatorPlugin` loaded."""
    if calculator() is None:   # never write a record computed without a potential: fail the task instead
        raise RuntimeError("this Dask worker has no calculator: CalculatorPlugin.setup failed or did not run")
    with _ONE_AT_A_TIME:
        try:
            return label_one(task)
        except Timeout:   # the deadline fired while the record was being returned
            return {**{k: task[k] for k in ("id", "prototype", "set", "mapping") if k in task},
                    "formula": task.get("formula"), "ok": False, "reason": f"timed out after {task['timeout_s']} s",
                    "wall_s": float(task["timeout_s"])}


def bounded_map(client, fn: Callable, items: Iterable[dict], window: int | Callable[[], int],
                on_lost: Callable[[dict, BaseException], None] | None = None) -> Iterator:
    """``fn(item)`` on the cluster for every item, results in completion order, never more than `window` in flight.

    `items` is consumed lazily: one new submission per finished one. `window` may be a function (re-read as
    results arrive, e.g. to follow a cluster that grows). An item whose task Dask gives up on (``KilledWorker``:
    it killed `distributed.scheduler.allowed-failures` + 1 workers, or its worker died too often) goes to
    `on_lost` and yields nothing; any other error in `fn` is raised here. Leaving the loop cancels what is left.
    """
    window_now = window if callable(window) else (lambda: window)
    source = iter(items)
    pending = as_completed(loop=client.loop)
    item_of, serial = {}, itertools.count()

    def submit(n: int) -> None:
        for item in itertools.islice(source, max(n, 0)):
            future = client.submit(fn, item, pure=False, key=f"label-{item.get('id', '')}-{next(serial)}")
            item_of[future.key] = item
            pending.add(future)

    submit(window_now())
    try:
        for future in pending:
            item = item_of.pop(future.key)
            try:
                result = future.result()
            except KilledWorker as exc:
                if on_lost is None:
                    raise
                on_lost(item, exc)
                result = None
            future.release()
            submit(window_now() - pending.count())
            if result is not None:
                yield result
    finally:
        left = list(pending.futures)
        if left:
            try:
                client.cancel(left)
            except (FutureCancelledError, OSError, RuntimeError):   # the cluster may already be closing
                pass


def label_with_dask(tasks: list[dict], args, store: Callable[[Iterator[dict]], object]) -> None:
    """Run `tasks` on Dask (``args.scheduler`` address, or a LocalCluster of ``args.dask_workers`` processes).

    `store` receives the stream of finished records and writes them (`runner.store_results`); when it
    returns (done, or its time limit), the remaining submissions are cancelled and a LocalCluster is closed.
    """
    if not tasks:
        print("0 materials to label", flush=True)
        store(iter(()))
        return
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler, timeout="60s")
        where = f"the Dask cluster at {args.scheduler}"
    else:
        cluster = LocalCluster(n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        where = f"a local Dask cluster of {args.dask_workers} worker process(es)"
    try:
        client.register_plugin(CalculatorPlugin(args.calculator, args.device), name="phonon-dos-calculator")
        threads = sum(client.nthreads().values())
        print(f"{len(tasks)} materials to label with {args.calculator} on {where} ({threads} worker thread(s) now, "
              f"{args.device})", flush=True)
        if any(n > 1 for n in client.nthreads().values()):
            print("note: workers with more than one thread still label one material at a time (one potential "
                  "per process); start workers with --nthreads 1 and more processes instead", flush=True)
        window = _window(client, args.dask_window)

        def lost(task: dict, exc: BaseException) -> None:
            print(f"\n{task['id']}: Dask gave up on it ({exc}); not written, left for a rerun", flush=True)

        store(bounded_map(client, label_on_worker, tasks, window, on_lost=lost))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _window(client, fixed: int) -> Callable[[], int]:
    """Materials in flight: `fixed`, or 2 per worker thread (≥ 4), re-read at most every 10 s as workers join."""
    if fixed:
        return lambda: fixed
    state = {"t": -1e9, "n": 4}

    def current() -> int:
        if time.monotonic() - state["t"] > 10:
            state["t"], state["n"] = time.monotonic(), max(4, 2 * sum(client.nthreads().values()))
        return state["n"]
    return current
