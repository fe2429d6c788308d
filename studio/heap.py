"""Keep full garbage collections short, so that they do not stall the GUI thread.

A full (generation 2) collection walks every container object in the process while holding the
GIL: whichever thread triggers it (often a worker reading the workspace), the GUI thread stops
too. What the studio imports and builds at start-up (PySide6, pyqtgraph, SQLAlchemy, the window:
some 160,000 objects) lives as long as the process and takes 170-250 ms to walk on a 2-core
machine, again at every full collection. Frozen once the window is up, it is never walked again:
a full collection then walks only what the studio made since.

Freezing costs nothing (no collection first: that would be the very pause this avoids); what little
garbage start-up left is kept while the window is up. The window thaws the heap when it shuts down,
so that a process that opens windows one after another (the tests) frees each one's garbage.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    gc.freeze()


def thaw_heap() -> None:
    gc.unfreeze()
