"""What a task's record keeps about how it was enqueued: its arguments (for the detail view and retries) and its
parent batch (for the children list and cascading cancel).

Arguments go into the record's metadata, where the store masks secret-looking keys (progress.models.redact), so a
retry of a task whose arguments held a secret is refused rather than run with `***`. Arguments too big for the
metadata limit are left out (and said so): the enqueue must never fail for the sake of bookkeeping.
"""

from __future__ import annotations

from typing import Any

from progress import limits
from progress.errors import InvalidValue
from progress.models import MAX_JSON_DEPTH, MAX_METADATA_BYTES

# Half the metadata limit: the rest (queue, owner, links) must still fit.
MAX_ARGUMENT_BYTES = MAX_METADATA_BYTES // 2
#: Message header naming the task a retry replaces (read by the publish hook into metadata.retry_of).
RETRY_OF_HEADER = "taskrunner_retry_of"
#: Message header naming the user a task is enqueued for (a retry keeps the original's owner): metadata.user_id.
OWNER_HEADER = "taskrunner_owner"


def enqueue_metadata(kwargs: dict[str, Any] | None, *, retry_of: str | None = None,
                     owner: str | None = None) -> dict[str, Any]:
    """Metadata members for a task published with these keyword arguments."""
    kwargs = kwargs or {}
    out: dict[str, Any] = {}
    try:
        # The store's own check (size, depth, JSON, Unicode), one level down: the arguments sit in metadata.args.
        limits.check_json(kwargs, "args", MAX_ARGUMENT_BYTES, MAX_JSON_DEPTH - 1)
    except InvalidValue as exc:
        out["args_omitted"] = exc.reason
    else:
        out["args"] = dict(kwargs)
    parent = kwargs.get("parent_task_id")
    if isinstance(parent, str) and parent:
        out["parent_task_id"] = parent
    if retry_of:
        out["retry_of"] = retry_of
    if owner:
        out["user_id"] = owner
    return out
