"""``station bench`` skips a section the seed is too small for, and says so, instead of
stopping before the sections after it."""

from __future__ import annotations

import pytest

from station.bench.pg_bench import Attendees


def test_a_section_the_seed_cannot_feed_is_skipped_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    attendees = Attendees(10)
    assert attendees.enough(10, "the first section")
    assert list(attendees.take(8)) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert attendees.left == 2
    assert not attendees.enough(3, "the proxy section")
    assert capsys.readouterr().out == (
        "skipped: the proxy section needs 3 attendees no flow has used, 2 are left "
        "(seed more with --attendees)\n"
    )
    assert list(attendees.take(2)) == [9, 10]  # what is left still serves smaller sections
    with pytest.raises(SystemExit, match="not enough attendees"):
        attendees.take(1)
