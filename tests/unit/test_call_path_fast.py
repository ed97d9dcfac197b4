"""The call path's shortcuts answer exactly as the long way round does."""

from __future__ import annotations

import pytest

from interlink import CodecError
from interlink._envelope import format_time, parse_time


@pytest.mark.parametrize(
    "epoch", [0.0, 1.5, 1_764_640_000.25, 1_764_640_000.999, 4_102_444_799.001]
)
def test_a_deadline_as_written_reads_back_as_the_long_form_does(epoch: float) -> None:
    text = format_time(epoch)
    assert len(text) == 24
    long_form = text[:-1] + "+00:00"  # the same instant, in a form the shortcut does not take
    first, again = parse_time(text), parse_time(text)  # the second with its seconds cached
    assert first == again == parse_time(long_form) == parse_time(text.replace("Z", "z"))
    assert abs(again - epoch) < 0.0011


@pytest.mark.parametrize(
    "millis", ["\u0661\u0662\u0663", "12 ", "+12", "-12", "1_2", "1e2", "\uff11\uff12\uff13", "12."]
)
def test_the_shortcut_refuses_what_rfc3339_refuses(millis: str) -> None:
    text = format_time(1_764_640_000.5)
    parse_time(text)  # its whole seconds are now cached
    bad = f"{text[:20]}{millis}Z"
    assert len(bad) == 24
    with pytest.raises(CodecError):
        parse_time(bad)
