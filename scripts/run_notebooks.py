"""Execute notebooks headless, in order, in place; print one line per notebook and a final table.

    python scripts/run_notebooks.py notebooks/[0-9]*.ipynb          # full mode (what is committed)
    FAST=1 python scripts/run_notebooks.py notebooks/03_*.ipynb      # the short path

For each notebook: wall seconds, peak resident memory of its kernel (sampled every 0.1 s, children included),
ok/failed. Outputs are stored with execution counts and volatile metadata stripped; saved widget state is kept.
Exit code 1 if any notebook failed.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from clean_notebooks import clean  # noqa: E402

from utils import is_fast  # noqa: E402


class PeakMemory:
    """Polls a process tree's resident memory in a thread; `.peak` in bytes."""

    def __init__(self, pid: int, interval_s: float = 0.1):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            self._stop.wait(interval_s)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_one(path: Path, timeout_s: int = 1200) -> tuple[float, int, str]:
    nb = nbformat.read(path, as_version=4)
    monitor: dict[str, PeakMemory] = {}

    def on_start(notebook=None, **_):
        monitor["m"] = PeakMemory(client.km.provisioner.process.pid)

    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            on_notebook_start=on_start, store_widget_state=True)
    t0 = time.perf_counter()
    status = "ok"
    try:
        client.execute()
    except CellExecutionError as exc:
        status = "failed"
        print(str(exc).splitlines()[-1] if str(exc) else "cell error", file=sys.stderr)
    seconds = time.perf_counter() - t0
    peak = monitor["m"].stop() if "m" in monitor else 0
    nbformat.write(clean(nb), path)
    return seconds, peak, status


def main(paths: list[str]) -> int:
    if not paths or any(p in ("-h", "--help") for p in paths):
        print(__doc__)
        return 0 if paths else 2
    missing = [p for p in paths if not Path(p).is_file() or not p.endswith(".ipynb")]
    if missing:
        print(f"error: not a notebook file: {', '.join(missing)} (give paths such as notebooks/03_*.ipynb)",
              file=sys.stderr)
        return 2
    rows = []
    mode = "FAST" if is_fast() else "full"   # the same reading of FAST as the kernels' utils.setup()
    print(f"executing {len(paths)} notebook(s) in {mode} mode")
    for p in paths:
        seconds, peak, status = run_one(Path(p))
        rows.append((Path(p).name, seconds, peak, status))
        print(f"  {Path(p).name:<40s} {seconds:7.1f} s  {peak / 2**30:5.2f} GiB  {status}", flush=True)
    print(f"\n| notebook | seconds | peak kernel memory (GiB) | status |\n|---|---:|---:|---|")
    for name, s, m, st in rows:
        print(f"| {name} | {s:.0f} | {m / 2**30:.2f} | {st} |")
    print(f"| **total** | {sum(r[1] for r in rows):.0f} | {max(r[2] for r in rows) / 2**30:.2f} | "
          f"{'ok' if all(r[3] == 'ok' for r in rows) else 'failed'} |")
    return 0 if all(r[3] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
