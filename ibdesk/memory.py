"""Memory settings for a desk that runs all day: the C allocator's (glibc, on Linux; elsewhere
nothing), and the cyclic garbage collector's.

Measured with ``benchmarks.soak`` (a fast demo market, about 2,700 messages a second): the
desk's resident memory grew about 2.4 MiB a minute while the memory it used stayed flat
(glibc's ``mallinfo2``: 30 MiB in use throughout; free but kept by the heap 5 MiB, then 22
MiB seven minutes later). glibc serves a block of 128 KiB or more from a mapping of its own,
given back to the system when freed; but each such free raises that threshold to the
block's size (up to 32 MiB). asyncio reads a socket into a 256 KiB buffer and shrinks it to
what arrived: once the first of those is freed, every later one is carved out of the heap,
and hundreds a second leave it riddled with free holes that glibc never returns. A fixed
threshold keeps such buffers in their own mappings: with it the heap stayed at 29 MiB and
the resident memory flat.
"""

from __future__ import annotations

import gc
import sys

#: ``mallopt``'s parameter for the mmap threshold (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's own starting value; setting it explicitly turns the raising off.
MMAP_THRESHOLD = 128 * 1024


def keep_large_blocks_mapped() -> bool:
    """Fix glibc's mmap threshold at 128 KiB for this process; returns whether it did
    (False without glibc: macOS, Windows, musl, where nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here, not at the top: the desktop calls this after its first paint

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  # glibc, whose mallopt takes this parameter
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def freeze_long_lived() -> None:
    """Move every object that exists now out of the cyclic collector's sight, for good.

    Call it once the app is up: what exists by then (the interpreter's modules, Qt, the
    window, the desk, its strategies) lives as long as the process, and a full collection
    would walk all of it again and again. Measured with 50 strategies at 10,000 messages/s
    (``benchmarks.strategies``), a full collection paused the loop 33-36 ms (a 40-63 ms
    frame, quote callbacks 40 ms late); frozen, none came in 20 s and the latest callback
    was 7 ms late.
    """
    gc.freeze()
