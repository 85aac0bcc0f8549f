"""The cyclic garbage collector, paused while a gateway process starts.

Start-up creates about a million long-lived objects (the modules, classes and functions
of the app and its libraries, settings, token tables) and next to no cyclic garbage.
With the collector on, every few hundred allocations it scans the young objects and
now and then all of them again: 0.2 to 0.5 CPU-s of a ~3 CPU-s start, for nothing. So
``gateway serve`` switches it off before the heavy imports and, once the server has
started, moves every object alive then into the permanent generation
(``gc.freeze``) and switches it back on: later collections, start-up's included,
skip those objects for good. The price is any cyclic garbage start-up left behind
(about a megabyte), which is never collected.
"""

from __future__ import annotations

import gc


def pause() -> None:
    """No automatic collections until ``resume_frozen``."""
    gc.disable()


def resume_frozen() -> None:
    """Freeze every object alive now out of future collections, then collect as usual."""
    gc.freeze()
    gc.enable()
