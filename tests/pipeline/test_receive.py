"""The receive stage's header parse: its plain-fields path gives what compat32's parser gives."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.pipeline.mime import header_block
from gateway.pipeline.receive import _plain_fields, parse_headers

PARSER = BytesHeaderParser(policy=compat32)

# Lines a client may send in a header block: fields, continuations, and each kind of line
# the parser reads with a defect or as the start of the body.
NAMES = st.sampled_from(
    [b"Subject", b"From", b"X-Odd!~", b"To", b"A", b"Bad Name", b"", b"Caf\xc3\xa9"]
)
VALUES = st.binary(max_size=12).map(lambda b: b.replace(b"\r\n", b"")) | st.sampled_from(
    [b"", b" ", b"\t x", b" a: b", b" \xff\xfe", b" x\r", b" x\ny", b"  trailing  "]
)
LINES = st.one_of(
    st.builds(lambda n, v: n + b":" + v, NAMES, VALUES),
    st.builds(lambda w, v: w + v, st.sampled_from([b" ", b"\t"]), VALUES),
    st.sampled_from([b"From someone Thu Dec  3 10:00:00 2026", b"no colon", b":empty name"]),
)
ENDS = st.sampled_from([b"\r\n"] * 12 + [b"\n", b"\r"])  # mostly blocks the plain path takes


def comparable(message: Message) -> dict[str, object]:
    """Everything the parse put in the message; defects by kind and text (not identity)."""
    state = dict(message.__dict__)
    state["defects"] = [(type(d), str(d)) for d in message.defects]
    return state


def parsed_both_ways(data: bytes) -> tuple[dict[str, object], dict[str, object]]:
    return comparable(parse_headers(data)), comparable(PARSER.parsebytes(header_block(data)))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(LINES, ENDS), max_size=8), st.booleans())
@example([(b"Subject: a", b"\r\n"), (b" b", b"\r\n"), (b"\t", b"\r\n")], True)
@example([(b"Subject:", b"\r\n"), (b" folded", b"\r\n")], False)
@example([(b"Subject:\t x", b"\r\n")], False)
@example([(b" first", b"\r\n"), (b"Subject: x", b"\r\n")], True)
def test_the_plain_path_gives_what_the_parser_gives(lines, with_body):
    data = b"".join(line + end for line, end in lines)
    if with_body:
        data += b"\r\nbody\r\n"
    fast, slow = parsed_both_ways(data)
    assert fast == slow


def test_plain_fields_take_the_plain_path_and_keep_folding():
    data = b"Subject: Your order\r\n has shipped\r\nTo: a@b.example\r\n\r\nbody\r\n"
    message = _plain_fields(header_block(data))
    assert message is not None
    assert message.items() == [
        ("Subject", "Your order\r\n has shipped"),
        ("To", "a@b.example"),
    ]


def test_a_block_the_plain_path_cannot_read_goes_to_the_parser_with_its_defects():
    data = b" leading continuation\r\nSubject: x\r\n\r\n"
    assert _plain_fields(header_block(data)) is None
    message = parse_headers(data)
    assert [type(d).__name__ for d in message.defects] == ["FirstHeaderLineIsContinuationDefect"]
