"""W3C Trace Context Level 1, checked against the cases of the W3C test suite (test/test.py of
the trace-context repository, STRICT_LEVEL 2): each header list below is one the suite sends;
the expectation is what the suite asserts about the traceparent and tracestate sent on.

The suite drives a service over HTTP; here the same headers go through the HTTP binding
(``Envelope.from_http``: several headers of one name, case-insensitive names) and the receiver's
rule (``continue_trace``), and the child that a call sends on is made from the result. The same
cases run over a real server in tests/integration/test_trace_propagation.py.
"""

from __future__ import annotations

import pytest

from interlink import Envelope
from interlink._tracecontext import (
    child_traceparent,
    continue_trace,
    new_traceparent,
    parse_traceparent,
    parse_tracestate,
    put_tracestate,
)

TRACE = "12345678901234567890123456789012"
PARENT = "1234567890123456"
VALID = f"00-{TRACE}-{PARENT}-01"


def sent_on(headers: list[tuple[str, str]]) -> tuple[str, str | None]:
    """The traceparent and tracestate a service sends on after receiving ``headers``."""
    envelope = Envelope.from_http(headers, b"{}", default_type="s.m")
    traceparent, tracestate = continue_trace(envelope.traceparent, envelope.tracestate)
    return child_traceparent(traceparent), tracestate


def trace_id(traceparent: str) -> str:
    fields = parse_traceparent(traceparent)
    assert fields is not None, traceparent
    return fields[0]


# -- traceparent: continued --------------------------------------------------------------------

CONTINUED = {
    "traceparent_included_tracestate_missing": [("traceparent", VALID)],
    "header_name_casing_TraceParent": [("TraceParent", VALID)],
    "header_name_casing_TrAcEpArEnT": [("TrAcEpArEnT", VALID)],
    "header_name_casing_TRACEPARENT": [("TRACEPARENT", VALID)],
    "version_0xcc": [("traceparent", f"cc-{TRACE}-{PARENT}-01")],
    "version_0xcc_with_more_fields": [
        ("traceparent", f"cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like")
    ],
    "ows_leading_space": [("traceparent", f" {VALID}")],
    "ows_leading_tab": [("traceparent", f"\t{VALID}")],
    "ows_trailing_space": [("traceparent", f"{VALID} ")],
    "ows_trailing_tab": [("traceparent", f"{VALID}\t")],
    "ows_both": [("traceparent", f"\t {VALID} \t")],
}


@pytest.mark.parametrize("headers", CONTINUED.values(), ids=CONTINUED.keys())
def test_a_valid_traceparent_is_continued_with_a_new_parent_id(
    headers: list[tuple[str, str]],
) -> None:
    child, _ = sent_on(headers)
    assert trace_id(child) == TRACE
    assert child[36:52] != PARENT
    assert child.startswith("00-")  # what we send is the version we know
    assert len(child) == 55


# -- traceparent: restarted --------------------------------------------------------------------

RESTARTED = {
    "both_missing": [],
    "duplicated": [
        ("traceparent", f"00-{TRACE[:-1]}1-{PARENT}-01"),
        ("traceparent", VALID),
    ],
    "header_name_trace-parent": [("trace-parent", VALID)],
    "header_name_trace.parent": [("trace.parent", VALID)],
    "version_00_trailing_dot": [("traceparent", f"{VALID}.")],
    "version_00_more_fields": [("traceparent", f"{VALID}-what-the-future-will-be-like")],
    "version_0xcc_dot_after_flags": [
        ("traceparent", f"cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like")
    ],
    "version_0xff": [("traceparent", f"ff-{TRACE}-{PARENT}-01")],
    "version_illegal_.0": [("traceparent", f".0-{TRACE}-{PARENT}-01")],
    "version_illegal_0.": [("traceparent", f"0.-{TRACE}-{PARENT}-01")],
    "version_too_long_3": [("traceparent", f"000-{TRACE}-{PARENT}-01")],
    "version_too_long_4": [("traceparent", f"0000-{TRACE}-{PARENT}-01")],
    "version_too_short": [("traceparent", f"0-{TRACE}-{PARENT}-01")],
    "trace_id_all_zero": [("traceparent", f"00-{'0' * 32}-{PARENT}-01")],
    "trace_id_illegal_first": [("traceparent", f"00-.{TRACE[1:]}-{PARENT}-01")],
    "trace_id_illegal_last": [("traceparent", f"00-{TRACE[:-1]}.-{PARENT}-01")],
    "trace_id_too_long": [("traceparent", f"00-{TRACE}3-{PARENT}-01")],
    "trace_id_too_short": [("traceparent", f"00-{TRACE[:-1]}-{PARENT}-01")],
    "parent_id_all_zero": [("traceparent", f"00-{TRACE}-{'0' * 16}-01")],
    "parent_id_illegal_first": [("traceparent", f"00-{TRACE}-.{PARENT[1:]}-01")],
    "parent_id_illegal_last": [("traceparent", f"00-{TRACE}-{PARENT[:-1]}.-01")],
    "parent_id_too_long": [("traceparent", f"00-{TRACE}-{PARENT}7-01")],
    "parent_id_too_short": [("traceparent", f"00-{TRACE}-{PARENT[:-1]}-01")],
    "flags_illegal_.0": [("traceparent", f"00-{TRACE}-{PARENT}-.0")],
    "flags_illegal_0.": [("traceparent", f"00-{TRACE}-{PARENT}-0.")],
    "flags_too_long": [("traceparent", f"00-{TRACE}-{PARENT}-001")],
    "flags_too_short": [("traceparent", f"00-{TRACE}-{PARENT}-1")],
    # beyond the suite, from the specification's grammar: HEXDIGLC is lowercase only
    "uppercase_trace_id": [("traceparent", f"00-{TRACE[:-1]}A-{PARENT}-01")],
    "uppercase_version": [("traceparent", f"0A-{TRACE}-{PARENT}-01")],
    "flags_not_hex": [("traceparent", f"00-{TRACE}-{PARENT}-!!")],
    "higher_version_too_short": [("traceparent", f"cc-{TRACE}-{PARENT}-1")],
}


@pytest.mark.parametrize("headers", RESTARTED.values(), ids=RESTARTED.keys())
def test_an_invalid_or_missing_traceparent_restarts_the_trace(
    headers: list[tuple[str, str]],
) -> None:
    child, tracestate = sent_on([*headers, ("tracestate", "foo=1")])
    assert trace_id(child) != TRACE
    assert trace_id(child) != "0" * 32
    assert tracestate is None  # an unparsed traceparent takes its tracestate with it


def test_restarting_makes_one_new_trace_for_all_the_work_below() -> None:
    traceparent, _ = continue_trace(f"00-{'0' * 32}-{PARENT}-01", None)
    children = {child_traceparent(traceparent) for _ in range(3)}
    assert len({trace_id(c) for c in children}) == 1
    assert len({c[36:52] for c in children}) == 3  # a new parent id for every request


def test_each_request_sent_on_gets_its_own_parent_id() -> None:
    children = {child_traceparent(VALID) for _ in range(3)}
    assert {trace_id(c) for c in children} == {TRACE}
    assert len({c[36:52] for c in children}) == 3


@pytest.mark.parametrize(
    ("flags", "sent"),
    [("00", "00"), ("01", "01"), ("03", "01"), ("fe", "00"), ("ff", "01"), ("09", "01")],
)
def test_only_the_sampled_flag_is_propagated(flags: str, sent: str) -> None:
    assert child_traceparent(f"00-{TRACE}-{PARENT}-{flags}")[-2:] == sent
    assert continue_trace(f"00-{TRACE}-{PARENT}-{flags}", None)[0][-2:] == sent


def test_a_higher_version_is_sent_on_as_version_00() -> None:
    assert continue_trace(f"cc-{TRACE}-{PARENT}-01-future", None)[0] == VALID


def test_a_new_trace_is_valid_and_sampled() -> None:
    fresh = new_traceparent()
    assert parse_traceparent(fresh) is not None
    assert fresh.endswith("-01")


# -- tracestate --------------------------------------------------------------------------------

TRACEPARENT = ("traceparent", f"00-{TRACE}-{PARENT}-00")
KEY_ALL = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
VALUE_ALL = "".join(
    [*map(chr, range(0x20, 0x2C)), *map(chr, range(0x2D, 0x3D)), *map(chr, range(0x3E, 0x7F))]
)
BARS = [",".join(f"bar{i:02d}={i:02d}" for i in range(a, b)) for a, b in ((1, 11), (11, 21))]
BARS += [",".join(f"bar{i:02d}={i:02d}" for i in range(21, 31))]

KEPT = {
    "included_with_traceparent": (["foo=1,bar=2"], "foo=1,bar=2"),
    "empty_header_alone": ([""], None),
    "empty_header_after": (["foo=1", ""], "foo=1"),
    "empty_header_before": (["", "foo=1"], "foo=1"),
    "multiple_headers_combined_in_order": (
        ["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
        "foo=1,bar=2,rojo=1,congo=2,baz=3",
    ),
    "all_allowed_characters": ([f"{KEY_ALL}={VALUE_ALL}"], f"{KEY_ALL}={VALUE_ALL}"),
    "all_allowed_characters_with_vendor": (
        [f"{KEY_ALL}@a-z0-9_-*/={VALUE_ALL}"],
        f"{KEY_ALL}@a-z0-9_-*/={VALUE_ALL}",
    ),
    "ows_around_members": (["foo=1 \t , \t bar=2, \t baz=3"], "foo=1,bar=2,baz=3"),
    "ows_mixed": (["foo=1\t \t,\t \tbar=2,\t \tbaz=3"], "foo=1,bar=2,baz=3"),
    "ows_leading_space": ([" foo=1"], "foo=1"),
    "ows_leading_tab": (["\tfoo=1"], "foo=1"),
    "ows_trailing_space": (["foo=1 "], "foo=1"),
    "ows_trailing_tab": (["foo=1\t"], "foo=1"),
    "ows_both": (["\t foo=1 \t"], "foo=1"),
    "thirty_two_members": ([*BARS, "bar31=31,bar32=32"], ",".join([*BARS, "bar31=31,bar32=32"])),
    "key_of_256": (["foo=1", "z" * 256 + "=1"], "foo=1," + "z" * 256 + "=1"),
    "tenant_241_system_14": (
        ["foo=1", "t" * 241 + "@" + "v" * 14 + "=1"],
        "foo=1," + "t" * 241 + "@" + "v" * 14 + "=1",
    ),
    "empty_list_members": (["foo=1,,bar=2, ,"], "foo=1,bar=2"),
}


@pytest.mark.parametrize(("values", "kept"), KEPT.values(), ids=KEPT.keys())
def test_a_valid_tracestate_is_propagated(values: list[str], kept: str | None) -> None:
    _, tracestate = sent_on([TRACEPARENT, *(("tracestate", v) for v in values)])
    assert tracestate == kept


DISCARDED = {
    "duplicated_keys_same_value": ["foo=1,foo=1"],
    "duplicated_keys_other_value": ["foo=1,foo=2"],
    "duplicated_keys_across_headers": ["foo=1", "foo=1"],
    "duplicated_keys_across_headers_other_value": ["foo=1", "foo=2"],
    "key_with_space": ["foo =1"],
    "key_uppercase": ["FOO=1"],
    "key_with_dot": ["foo.bar=1"],
    "vendor_empty_system": ["foo@=1,bar=2"],
    "vendor_empty_tenant": ["@foo=1,bar=2"],
    "vendor_double_at": ["foo@@bar=1,bar=2"],
    "vendor_two_ats": ["foo@bar@baz=1,bar=2"],
    "thirty_three_members": [*BARS, "bar31=31,bar32=32,bar33=33"],
    "key_of_257": ["foo=1", "z" * 257 + "=1"],
    "tenant_of_242": ["foo=1", "t" * 242 + "@v=1"],
    "system_of_15": ["foo=1", "t@" + "v" * 15 + "=1"],
    "value_with_equals": ["foo=bar=baz"],
    "value_empty": ["foo=,bar=3"],
    # beyond the suite, from the grammar: 256 printable characters at most
    "value_of_257": ["foo=" + "v" * 257],
    "value_with_a_control_character": ["foo=a\x7fb"],
}


@pytest.mark.parametrize("values", DISCARDED.values(), ids=DISCARDED.keys())
def test_an_invalid_tracestate_is_dropped_whole(values: list[str]) -> None:
    child, tracestate = sent_on([TRACEPARENT, *(("tracestate", v) for v in values)])
    assert tracestate is None
    assert trace_id(child) == TRACE  # the trace itself goes on


def test_tracestate_without_a_traceparent_is_dropped() -> None:
    assert sent_on([("tracestate", "foo=1")])[1] is None
    assert sent_on([("tracestate", "foo=1,bar=2")])[1] is None


def test_tracestate_header_names_are_case_insensitive_and_exact() -> None:
    for name in ("TraceState", "TrAcEsTaTe", "TRACESTATE"):
        assert sent_on([TRACEPARENT, (name, "foo=1")])[1] == "foo=1"
    for name in ("trace-state", "trace.state"):
        assert sent_on([TRACEPARENT, (name, "foo=1")])[1] is None


def test_a_value_of_256_characters_is_kept() -> None:
    assert parse_tracestate(["foo=" + "v" * 256]) == "foo=" + "v" * 256


# -- our own entry -----------------------------------------------------------------------------


def test_putting_our_entry_adds_it_on_the_left() -> None:
    assert put_tracestate("rojo=1,congo=2", "il", "x") == "il=x,rojo=1,congo=2"
    assert put_tracestate(None, "il", "x") == "il=x"


def test_updating_our_entry_moves_it_to_the_left() -> None:
    assert put_tracestate("rojo=1,il=x,congo=2", "il", "y") == "il=y,rojo=1,congo=2"


def test_putting_an_entry_into_a_full_list_drops_the_rightmost() -> None:
    full = ",".join(f"k{i}=v" for i in range(32))
    result = put_tracestate(full, "il", "x")
    members = result.split(",")
    assert len(members) == 32
    assert members[0] == "il=x"
    assert "k31=v" not in members


@pytest.mark.parametrize(("key", "value"), [("IL", "x"), ("il", ""), ("il", "a,b"), ("il", "a=b")])
def test_an_invalid_entry_is_refused(key: str, value: str) -> None:
    with pytest.raises(ValueError, match="not a valid tracestate member"):
        put_tracestate(None, key, value)
