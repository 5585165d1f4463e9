#!/usr/bin/env bash
# Record the benchmark table on a GPU in one call: training throughput of the original tutorial's path vs the
# project's (same architecture), the lever table (with cuEquivariance where installed), end-to-end inference from
# structures, and a full in-process training of the shipped model's configuration. Writes benchmarks/gpu/.
#
#   bash benchmarks/gpu.sh                      # device cuda, results in benchmarks/gpu/
#   bash benchmarks/gpu.sh --device cuda:1 --out-dir /tmp/gpu --race-seconds 0
#   bash benchmarks/gpu.sh --help
#
# Anything after the options below is passed on to benchmarks/run.py. The CPU results (benchmarks/results.*)
# stand on their own; this script never touches them. No GPU: it stops with a message, nothing is written.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python="python3"; fi
fi
device="cuda"
out_dir="$here/gpu"
threads="${GPU_BENCH_THREADS:-4}"
race_seconds=""
extra=()

usage() {
  cat <<USAGE
usage: bash benchmarks/gpu.sh [--device cuda] [--out-dir DIR] [--threads N] [--race-seconds S] [-- run.py options]

  --device DEV        torch device (default cuda)
  --out-dir DIR       where results.json / results.md go (default benchmarks/gpu)
  --threads N         CPU threads for graph construction and data handling (default \$GPU_BENCH_THREADS or 4)
  --race-seconds S    equal-time race budget per variant and seed (default: the shipped model's training time;
                      0 skips the race)
  -h, --help          this text

Runs: python benchmarks/run.py --device DEV --cueq --parts graphs,headline,training,inference,race,full_training
(full training runs in process on the GPU). Environment: PYTHON selects the interpreter.
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --device) device="$2"; shift 2 ;;
    --out-dir) out_dir="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --race-seconds) race_seconds="$2"; shift 2 ;;
    --) shift; extra+=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done

if ! "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu.sh: torch sees no CUDA device ($python); nothing measured. The CPU table is 'make bench'." >&2
  exit 3
fi

args=(--device "$device" --cueq --threads "$threads" --out-dir "$out_dir"
      --parts graphs,headline,training,inference,race,full_training)
if [[ -n "$race_seconds" ]]; then args+=(--race-seconds "$race_seconds"); fi
"$python" -c "import torch; print('GPU:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
"$python" -c "import cuequivariance_torch" 2>/dev/null && echo "cuEquivariance: installed" \
  || echo "cuEquivariance: not installed (the cueq rows fall back to e3nn and say so)"
cd "$root"
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" TQDM_DISABLE=1 "$python" benchmarks/run.py "${args[@]}" "${extra[@]}"
