from __future__ import annotations

import pytest

from antre.broker.wire.topics import Channel, Role, TopicError, Topics, check_id, parse


def test_builds_the_documented_tree() -> None:
    t = Topics("kupang")
    assert t.gerai("g05", "cmd") == "antre/v1/kupang/gerai/g05/cmd"
    assert t.gerai("g05", Channel.STATE) == "antre/v1/kupang/gerai/g05/state"
    assert t.kiosk("kiosk-1", "print") == "antre/v1/kupang/kiosk/kiosk-1/print"
    assert t.board() == "antre/v1/kupang/board"
    assert t.announce() == "antre/v1/kupang/announce"
    assert t.central_presence() == "antre/v1/kupang/central/presence"
    assert t.all_commands() == "antre/v1/kupang/+/+/cmd"


@pytest.mark.parametrize("bad", ["", "G05", "g/05", "g+", "#", "-g", "a" * 33, "gerai 5"])
def test_rejects_ids_that_could_escape_their_level(bad: str) -> None:
    with pytest.raises(TopicError):
        check_id(bad, "gerai")
    with pytest.raises(TopicError):
        Topics("kupang").gerai(bad, "cmd")


def test_kiosk_has_no_state_channel() -> None:
    with pytest.raises(TopicError, match="no state channel"):
        Topics("kupang").kiosk("k1", "state")


def test_parse_round_trips() -> None:
    t = Topics("kupang")
    p = parse(t.gerai("g05", "health"))
    assert (p.site, p.role, p.device, p.channel) == ("kupang", Role.GERAI, "g05", Channel.HEALTH)
    assert parse(t.board()).channel == "board"
    assert parse(t.central_presence()).role is Role.CENTRAL


@pytest.mark.parametrize(
    "topic",
    [
        "antre/v2/kupang/board",
        "other/v1/kupang/board",
        "antre/v1/Kupang/board",
        "antre/v1/kupang/gerai/g05/bogus",
        "antre/v1/kupang/kiosk/k1/state",
        "antre/v1/kupang/gerai/G05/cmd",
        "antre/v1/kupang/gerai/g05/cmd/extra",
        "antre/v1/kupang",
    ],
)
def test_parse_rejects_foreign_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        parse(topic)
