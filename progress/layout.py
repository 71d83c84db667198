"""The stored key layout: written by the first store on an empty Redis, checked by every component at start.

Layout 2 puts every key in a bucket hash tag (progress/keys.py); the number of buckets is part of the layout, since
it decides where each task lives. A store that meets another layout refuses to start, with a message that says
what to do, instead of reading an empty store next to the real one.
"""

from __future__ import annotations

from progress import ops
from progress.core import Plan, StoreCore
from progress.errors import ProgressError
from progress.keys import LAYOUT_VERSION, LegacyKeys


class LayoutMismatch(ProgressError):
    """The Redis holds the progress store in another key layout (or bucket count) than this process uses."""


def describe(version: int, buckets: int) -> str:
    """The stored form of a layout: "<version> <buckets>"."""
    return f"{version} {buckets}"


def check_layout(core: StoreCore) -> Plan[None]:
    """Records this layout on an empty store; raises LayoutMismatch naming the fix when another one is stored."""
    keys = core.keys
    stored = yield ops.Cmd("get", (keys.layout(),))
    if stored is None:
        legacy = LegacyKeys(keys.namespace).store_wide()["counts"]
        if (yield ops.Cmd("exists", (legacy,))):
            raise LayoutMismatch(
                f"Redis holds progress records in key layout 1 (before buckets, `{keys.namespace}:task:<id>`); this "
                f"release reads layout {LAYOUT_VERSION}: stop the workers and the API, then run "
                "`taskrunner migrate-keys` (or point the store at an empty Redis)")
        yield ops.Cmd("set", (keys.layout(), describe(LAYOUT_VERSION, keys.buckets)), {"nx": True})
        stored = yield ops.Cmd("get", (keys.layout(),))
    version, _, buckets = str(stored).partition(" ")
    if version != str(LAYOUT_VERSION):
        raise LayoutMismatch(f"Redis holds the progress store in key layout {version}; this release reads layout "
                             f"{LAYOUT_VERSION}: run the release that wrote it, or `taskrunner migrate-keys`")
    if buckets != str(keys.buckets):
        raise LayoutMismatch(
            f"the progress store was written with TASKRUNNER_PROGRESS_BUCKETS={buckets}, this process uses "
            f"{keys.buckets}: every process must use the same number (a task's bucket follows from it); changing it "
            "on a store that holds tasks is not supported yet: set it back, or start on an empty Redis")
