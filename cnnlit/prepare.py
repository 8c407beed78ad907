"""``python -m cnnlit.prepare``: load each dataset once so the cache is filled, and say what is
there.
"""
from __future__ import annotations

import sys

from .data import DATASETS, DataUnavailableError, load

__all__ = ["prepare_datasets"]


def prepare_datasets() -> int:
    """Load every dataset once (filling the cache); 0 when at least one could be loaded."""
    available = []
    for name in DATASETS:
        try:
            for split in ("train", "test"):
                load(name, split)
            available.append(name)
        except DataUnavailableError as error:
            print(f"cnnlit.prepare: {name} is not available: {str(error).split('. To get it')[0]}")
    if not available:
        print("cnnlit.prepare: no dataset could be loaded; the chapters cannot train.",
              file=sys.stderr)
        return 1
    print(f"cnnlit.prepare: ready: {', '.join(available)}")
    return 0


if __name__ == "__main__":
    sys.exit(prepare_datasets())
