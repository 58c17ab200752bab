"""The x-proxy-dropped header: entries named as the request names them, safe to send
whatever the client wrote, bounded however much was dropped."""

from __future__ import annotations

from handler.translate.dropped import HEADER, MAX_ENTRIES, Dropped, header, where


def test_entries_read_like_the_request():
    dropped = Dropped()
    dropped.add("tools.3", "advisor_20260301")
    dropped.add("messages.12.content.0.content.1", "tool_reference")
    dropped.add("context_management")
    dropped.add("context_management")  # once only
    dropped.add("output_config.effort", {"not": "a string"})
    assert header(dropped) == {
        HEADER: "tools[3]:advisor_20260301, messages[12].content[0].content[1]:tool_reference, "
        "context_management, output_config.effort"
    }
    assert where("tools.0") == "tools[0]" and where("model.4o") == "model.4o"  # only whole indexes


def test_nothing_dropped_no_header():
    assert header(Dropped()) == {}


def test_a_hostile_type_cannot_split_or_inject_a_header():
    dropped = Dropped()
    dropped.add("tools.0", "x\r\nset-cookie: a=b,c" + "y" * 500)
    (value,) = header(dropped).values()
    assert "\r" not in value and "\n" not in value and "," not in value and " " not in value
    assert len(value) < 200


def test_many_drops_are_bounded():
    dropped = Dropped()
    for i in range(500):
        dropped.add(f"tools.{i}", "new_tool_20270101")
    (value,) = header(dropped).values()
    assert value.count(",") == MAX_ENTRIES and value.endswith(f"+{500 - MAX_ENTRIES}-more")
