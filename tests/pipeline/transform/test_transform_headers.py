from __future__ import annotations

import pytest

from gateway.pipeline.mime import header_end
from gateway.pipeline.transform.headers import header_fields, prepend, remove_fields

MESSAGE = (
    b"Received: from a by b;\r\n"
    b"\tMon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"From: App <app@example.com>\r\n"
    b"X-Gatekeeper-Purpose: marketing\r\n"
    b"To: alice@example.org\r\n"
    b"x-gatekeeper-topic: news\r\n"
    b"List-Unsubscribe: <https://app.example.com/unsub?id=1>,\r\n"
    b" <mailto:unsub@app.example.com>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Subject: Hello\r\n"
    b"\r\n"
    b"Body line\r\n"
    b"X-Gatekeeper-Purpose: not a header, in the body\r\n"
)


def test_header_fields_keep_folding() -> None:
    head = MESSAGE[: header_end(MESSAGE)]
    fields = header_fields(head)
    assert [name for name, _ in fields] == [
        "received",
        "from",
        "x-gatekeeper-purpose",
        "to",
        "x-gatekeeper-topic",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "subject",
    ]
    assert fields[0][1] == b"Received: from a by b;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n"
    assert b"".join(raw for _, raw in fields) + b"\r\n" == head


def test_remove_fields_by_name_and_prefix_including_folded() -> None:
    out = remove_fields(MESSAGE, ["List-Unsubscribe", "LIST-UNSUBSCRIBE-POST"], ["X-Gatekeeper-"])
    assert out == (
        b"Received: from a by b;\r\n"
        b"\tMon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"From: App <app@example.com>\r\n"
        b"To: alice@example.org\r\n"
        b"Subject: Hello\r\n"
        b"\r\n"
        b"Body line\r\n"
        b"X-Gatekeeper-Purpose: not a header, in the body\r\n"
    )


def test_remove_folded_first_field() -> None:
    out = remove_fields(MESSAGE, ["received"])
    assert out.startswith(b"From: App")
    assert b"Mon, 1 Jan" not in out


def test_remove_fields_returns_same_object_when_nothing_matches() -> None:
    assert remove_fields(MESSAGE, ["dkim-signature"], ["x-other-"]) is MESSAGE
    assert remove_fields(MESSAGE, []) is MESSAGE


def test_remove_fields_without_body() -> None:
    data = b"From: a@b.c\r\nX-Gatekeeper-Topic: t\r\n"
    assert remove_fields(data, [], ["x-gatekeeper-"]) == b"From: a@b.c\r\n"


def test_prepend_renders_unfolded_fields() -> None:
    long_value = "<https://example.com/u/" + "A" * 200 + ">"
    out = prepend([("List-Unsubscribe", long_value), ("X-Trace", "1")])
    assert out == f"List-Unsubscribe: {long_value}\r\nX-Trace: 1\r\n".encode()
    assert prepend([]) == b""


@pytest.mark.parametrize("value", ["a\r\nBcc: evil@example.com", "a\nb", "a\rb"])
def test_prepend_refuses_line_breaks(value: str) -> None:
    with pytest.raises(ValueError):
        prepend([("Subject", value)])


@pytest.mark.parametrize("name", ["", "Bad Name", "Colon:", "Ünï"])
def test_prepend_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        prepend([(name, "x")])


def test_prepend_refuses_non_ascii_and_overlong() -> None:
    with pytest.raises(ValueError):
        prepend([("Subject", "café")])
    with pytest.raises(ValueError):
        prepend([("X-Long", "x" * 1000)])
