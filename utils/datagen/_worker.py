"""What a labelling worker process holds and runs, shared by every command that drives workers.

The potential is loaded once per worker (:func:`init_worker`, a ``multiprocessing`` pool initializer or the Dask
worker plugin of ``cluster``) and read back with :func:`calculator`; :func:`label_one` labels one material under a
deadline (:func:`start_deadline`, :class:`Timeout`). Used by ``runner`` (label, energies, references),
``convergence`` and ``cluster``; it imports none of them.
"""
from __future__ import annotations

import signal
import time
from importlib.metadata import PackageNotFoundError, version

__all__ = ["make_calculator", "package_versions", "init_worker", "calculator", "Timeout", "start_deadline",
           "task_atoms", "label_one"]

_CALC = None   # the potential of this worker process (set by init_worker)


def make_calculator(name: str, device: str = "cpu"):
    """An ASE calculator by name: 'emt' (ase, for tests) or a SevenNet model such as '7net-l3i5' on `device`."""
    if name == "emt":
        from ase.calculators.emt import EMT
        return EMT()
    if name.startswith("7net"):
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise SystemExit("SevenNet is not installed: pip install -e .[datagen]") from exc
        return SevenNetCalculator(name, device=device)
    raise SystemExit(f"unknown calculator {name!r}: use 'emt' or a SevenNet model name like '7net-l3i5'")


def package_versions(calculator: str) -> dict:
    """Versions of the packages a labelling run with `calculator` depends on (stored with every record)."""
    out = {}
    for pkg in ["phonopy", "ase", "pymatgen", "numpy"] + (["sevenn", "torch"] if calculator.startswith("7net") else []):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def init_worker(calculator: str, device: str = "cpu") -> None:
    """Pool initializer (and Dask worker plugin set-up): load the potential once per worker process."""
    global _CALC
    import warnings
    warnings.filterwarnings("ignore")
    try:
        if calculator != "emt":   # EMT needs no torch: not importing it saves seconds per worker start
            import torch
            torch.set_num_threads(1)
    except ImportError:
        pass
    try:   # one BLAS/OpenMP thread per worker (numpy, phonopy): the workers already fill the cores
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    _CALC = make_calculator(calculator, device)


def calculator():
    """The potential loaded by :func:`init_worker` in this process, or None when none was loaded."""
    return _CALC


class Timeout(Exception):
    """A material ran past its deadline (:func:`start_deadline`)."""


def _alarm(signum, frame):
    raise Timeout()


def start_deadline(seconds: int):
    """Raise `Timeout` in the calling thread after `seconds`; returns the function that cancels it.

    The main thread (a local pool worker) uses SIGALRM; any other thread (a Dask worker runs tasks in a thread
    pool, where signals cannot be used) gets the exception from a timer through CPython's
    ``PyThreadState_SetAsyncExc``. Both are delivered between Python bytecodes, so a long C call finishes first.
    """
    import threading
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(int(seconds))
        return lambda: signal.alarm(0)
    import ctypes
    target, lock, state = threading.get_ident(), threading.Lock(), {"live": True}

    def fire():
        with lock:
            if state["live"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(Timeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()

    def cancel():
        with lock:
            state["live"] = False
        timer.cancel()
    return cancel


def task_atoms(task: dict):
    """(ase Atoms, reduced formula) of a task: pre-built by `export-tasks` (no pymatgen needed) or built here."""
    from .label import LabelError
    if "build_error" in task:
        raise LabelError(f"could not build the starting structure: {task['build_error']}")
    if "atoms" in task:
        from .label import atoms_from_lists
        return atoms_from_lists(task["atoms"]), task["formula"]
    from pymatgen.io.ase import AseAtomsAdaptor

    from .prototypes import build_candidate
    structure = build_candidate(task)
    return AseAtomsAdaptor.get_atoms(structure), structure.composition.reduced_formula


def label_one(task: dict) -> dict:
    """Label one task in a worker (potential from :func:`init_worker`): the record, or ok=False with the reason."""
    from .label import LabelError, LabelSettings, label_atoms

    settings = LabelSettings(**task["settings"])
    t0 = time.perf_counter()
    formula = task.get("formula")
    cancel_deadline = start_deadline(int(task["timeout_s"]))
    try:
        atoms, formula = task_atoms(task)
        if len(atoms) > task["max_atoms"]:
            raise LabelError(f"{len(atoms)} atoms in the cell exceeds --max-atoms {task['max_atoms']}")
        rec = label_atoms(atoms, _CALC, settings, volume_scan=task.get("origin") == "substituted")
        rec["ok"] = True
    except LabelError as exc:
        rec = dict(ok=False, reason=str(exc))
    except Timeout:
        rec = dict(ok=False, reason=f"timed out after {task['timeout_s']} s")
    except Exception as exc:   # one bad material must never stop the run; the reason is logged
        rec = dict(ok=False, reason=f"{type(exc).__name__}: {exc}")
    finally:
        cancel_deadline()
    rec["wall_s"] = round(time.perf_counter() - t0, 2)
    return {"formula": formula, **{k: task[k] for k in ("id", "prototype", "set", "mapping", "origin", "source", "name",
                                                        "bond_class") if k in task},
            **{k: task[k] for k in ("x", "series") if k in task}, **rec}
