"""Kept for old commands: forwards to ``python -m utils.claims experiments`` (the same options)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.claims.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["experiments", *sys.argv[1:]]))
