"""A published event is completed and encoded once per API process for every socket following its task, and each
socket still gets the message its own history implies (sockets that joined at different points may differ)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from api.shared_events import completed, encoded_message
from progress import ProgressEvent, TaskStatus
from progress.resume import Cursor, advance_known, needs_record


def _event(n: int, message: str | None = None, error: str | None = None) -> ProgressEvent:
    return ProgressEvent(id=f"1700000000000-{n}", task_id="t1", status=TaskStatus.RUNNING, current=n, total=10,
                         message=message, timestamp=datetime(2026, 11, 30, tzinfo=UTC), error_message=error)


def test_sockets_with_the_same_previous_message_share_one_completed_event_and_one_encoded_text() -> None:
    live = _event(3)  # the parse cache hands every socket this same object
    one, two = completed(live, _event(2, "halfway")), completed(live, _event(2, "halfway"))

    assert one is two and one.message == "halfway"
    assert encoded_message(one) is encoded_message(two)
    assert json.loads(encoded_message(one))["message"] == "halfway"


def test_a_socket_whose_previous_event_differs_gets_its_own_completion_not_the_shared_one() -> None:
    live = _event(4)
    shared = completed(live, _event(3, "downloading"))

    own = completed(live, _event(3, "parsing", error="disk nearly full"))
    first = completed(live, None)

    assert (shared.message, shared.error_message) == ("downloading", None)
    assert (own.message, own.error_message) == ("parsing", "disk nearly full")
    assert first.message == ""
    assert json.loads(encoded_message(own))["message"] == "parsing"


def test_every_cursor_advances_in_order_and_drops_what_it_already_has() -> None:
    events = [_event(5, "five"), _event(6), _event(7)]
    fresh, ahead = Cursor("t1", events[0].id, previous=events[0]), Cursor("t1", events[1].id,
                                                                         previous=_event(6, "six"))

    got_fresh = [advance_known(fresh, [e], completed) for e in events]
    got_ahead = [advance_known(ahead, [e], completed) for e in events]

    assert [[(e.current, e.message) for e in batch] for batch in got_fresh] == [[], [(6, "five")], [(7, "five")]]
    assert [[(e.current, e.message) for e in batch] for batch in got_ahead] == [[], [], [(7, "six")]]


def test_the_record_is_read_only_when_the_first_new_event_has_no_message_to_carry() -> None:
    with_message, without = _event(8, "eight"), _event(9)

    assert not needs_record(Cursor("t1"), [with_message, without])  # the second completes from the first
    assert needs_record(Cursor("t1"), [without, with_message])
    assert not needs_record(Cursor("t1", previous=_event(7, "seven")), [without])
    assert not needs_record(Cursor("t1", without.id), [without])  # already passed: nothing new to complete
