"""Independent training runs at once: in this process, or in spawned worker processes (``--workers N``).

Used by the claims experiments (:mod:`utils.claims.runner`) and the hyper-parameter search
(:mod:`utils.claims.search`). Each run is seeded and trains with its own torch thread count, so the results do not
depend on how many run at once; only the order in which they finish does. The caller stores each result as it
arrives, so an interrupted or failed batch keeps everything that finished.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence


def map_unordered(local: Callable, jobs: Sequence, workers: int = 1, remote: Callable | None = None,
                  initializer: Callable | None = None, initargs: tuple = (),
                  error: type[Exception] = RuntimeError) -> Iterator[tuple]:
    """Yield ``(job, result)`` as jobs finish.

    ``workers ≤ 1`` (or a single job): ``local(job)`` in this process, in order; an exception stops there (every
    earlier result has been yielded). Otherwise ``remote(job)`` (a picklable module-level function) runs in
    ``workers`` spawned processes, each prepared once by ``initializer(*initargs)``; a job that raises does not
    stop the others: all finished results are yielded first, then ``error`` is raised naming every failure.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1 or remote is None:
        for job in jobs:
            yield job, local(job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    failed = []
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("spawn"), initializer=initializer,
                             initargs=initargs) as pool:
        futures = {pool.submit(remote, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:          # keep going: the other runs' results are still wanted
                failed.append(f"{futures[future]!r}: {type(exc).__name__}: {exc}")
                continue
            yield futures[future], result
    if failed:
        raise error(f"{len(failed)} run(s) failed (the others are stored; run the command again to retry them): "
                    + "; ".join(failed))
