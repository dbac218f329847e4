"""Pausing Python's cyclic garbage collector while figures make tens of thousands of rows."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused, then resume it.

    Reading and measuring a digest's rows makes a few hundred thousand objects and no
    reference cycles; each full collection meanwhile walks every object of the process
    (a sixth of a digest's time). Reference counting still frees everything at once. A
    collector already paused (by a caller, or another thread) is left as it is.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
