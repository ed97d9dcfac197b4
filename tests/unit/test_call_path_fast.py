"""The call path's shortcuts answer exactly as the long way round does."""

from __future__ import annotations

import pydantic
import pytest

import interlink as il
from interlink import CodecError
from interlink._envelope import format_time, parse_time
from interlink.testing import TestApp


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


class Note(pydantic.BaseModel):
    text: str


def _held() -> il.Service:
    svc = il.Service("held")

    @svc.rpc
    async def ok(req: Note, ctx: il.Context) -> Note:
        await ctx.publish("held.events", req)
        return req

    @svc.rpc
    async def fails(req: Note, ctx: il.Context) -> Note:
        await ctx.publish("held.events", req)
        raise RuntimeError("after publishing")

    @svc.rpc
    async def unencodable(req: Note, ctx: il.Context) -> Note:
        await ctx.publish("held.events", req)
        return object()  # type: ignore[return-value]

    return svc


async def test_a_handler_s_events_go_out_only_when_its_answer_does() -> None:
    async with TestApp(il.App([_held()])) as t:
        assert await t.call("held.ok", Note(text="sent"), returns=Note) == Note(text="sent")
        for method in ("fails", "unencodable"):
            with pytest.raises(il.RemoteError) as info:
                await t.call(f"held.{method}", Note(text=method), returns=Note)
            assert info.value.status == 500
        assert [Note.model_validate(e).text for e in t.published("held.events")] == ["sent"]
