"""The wire contract: every message round-trips, every malformed class is a
typed ProtocolError, and no byte string makes decode raise anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.codec import ErrorCode, ProtocolError

T = 1700198100.0

SAMPLES: list[tuple[str, m.Message]] = [
    ("cmd", m.TakeTicket(id="k1-00000001", service="ktp", priority="pregnant")),
    ("cmd", m.TakeTicket(id="k1-00000002", service="ktp", print=False)),
    ("cmd", m.CallNext(id="g1-00000001", complete_current=False)),
    ("cmd", m.Recall(id="g1-00000002", ticket="A012")),
    ("cmd", m.NoShow(id="g1-00000003")),
    ("cmd", m.Done(id="g1-00000004", ts=T)),
    ("cmd", m.Transfer(id="g1-00000005", service="kk", note="ke KK")),
    ("cmd", m.CallTicket(id="g1-00000006", ticket="NP07", reason="lansia datang terlambat")),
    ("cmd", m.Pause(id="g1-00000007")),
    ("cmd", m.Resume(id="g1-00000008")),
    ("cmd", m.PrintAck(id="k1-00000003", job="p-20231117-A012", ok=True)),
    ("cmd", m.VoidTicket(id="k1-00000004", ticket="A012", reason="cetak gagal, warga pulang")),
    ("cmd", m.Reprint(id="k1-00000005")),
    ("cmd", m.Reprint(id="k1-00000006", ticket="AB012")),
    ("cmd", m.Ping(id="g1-00000009", ts=T)),
    # the operations console's (issue 15)
    ("cmd", m.StopIssuing(id="c-00000001", service="ktp", reason="kapasitas habis")),
    ("cmd", m.ResumeIssuing(id="c-00000002", service="ktp")),
    ("cmd", m.SetQuota(id="c-00000003", service="ktp", quota=120)),
    ("cmd", m.LobbyMessage(id="c-00000004", text="Layanan KTP-el hari ini sampai pukul 14.00")),
    ("cmd", m.ConsoleCommand(id="c-00000005", ts=T, user="siti", user_role="staff", gerai="g1",
                             command=m.Transfer(id="c-00000005", service="kk", note="ke KK"))),
    # the citizen's feedback (issue 16)
    ("cmd", m.SurveyAnswer(id="s-0123456789abcdef", ticket_id="20231117-A012", token="hLmr4n96ZgJ1Dm7_CLyV",
                           scores=[4, 3, 3, 4, 3, 4, 4, 3, 1], profile=m.SurveyProfile(age="60+", sex="l"),
                           suggestion="Kursi ruang tunggu kurang. 👍", channel="kiosk")),
    ("cmd", m.QuickRating(id="g1-0000000a", ts=T, score=4, ticket="A012")),
    ("cmd", m.QuickRating(id="g1-0000000b", score=1)),
    ("reply", m.Reply(cmd="g1-00000001", ok=False, code="gerai_busy", ts=T)),
    ("state", m.GeraiState(gerai="g1", number=1, name="Gerai 1", status="idle", waiting=0, rev=1, ts=T)),
    ("print", m.PrintJob(job="p-20231117-A012", ticket_id="20231117-A012", ticket="A012", service="ktp",
                         service_name="KTP-el", agency_name="Dukcapil", site_name="MPP", issued_at=T,
                         issued_text="Jumat, 17 November 2023 13:15 WITA", ahead=0)),
    ("print", m.PrintJob(job="p-20231117-A013", ticket_id="20231117-A013", ticket="A013", service="ktp",
                         service_name="KTP-el", agency_name="Dukcapil", site_name="MPP", issued_at=T,
                         issued_text="Jumat, 17 November 2023 13:15 WITA", ahead=0,
                         url="http://192.168.10.2:8480/t/20231117-A013?k=hLmr4n96ZgJ1Dm7_CLyV")),
    ("presence", m.Presence(role="kiosk", device="k1", online=False)),
    ("health", m.Health(role="gerai", device="g1", version="0.1.0", uptime_s=1.0, ts=T, printer="unknown")),
    ("board", m.Board(site="test", site_name="MPP Uji", rev=0, ts=T)),
    ("service_state", m.ServiceState(service="ktp", name="KTP-el", agency="Dukcapil", prefix="A", open=True,
                                     waiting=12, remaining_quota=88, est_wait_min=30, oldest_issued_at=T,
                                     served=4, no_show=1, order=0, rev=9, ts=T)),
    ("calls", m.Calls(site="test", site_name="MPP Uji", rev=9, ts=T, calls=[
        m.BoardCall(ticket="A012", gerai="g1", gerai_number=1, gerai_name="Gerai 1", recall=True, ts=T)])),
    ("presence", m.Presence(role="gerai", device="g1", online=True, contract=2)),
    ("presence", m.CentralLease(epoch=1700000000000, site="test", instance="0123456789abcdef", term=3,
                                 online=True, host="server", pid=42, log="/var/lib/antre/antre.db", seq=7,
                                 since=T, ts=T)),
    ("announce", m.Announce(id="a-20231117-A012-1", ticket="A012", service="ktp", gerai="g1", gerai_number=1,
                            gerai_name="Gerai 1", called_at=T)),
]


@pytest.mark.parametrize(("channel", "msg"), SAMPLES, ids=lambda x: getattr(x, "__class__", type(x)).__name__)
def test_round_trip(channel: str, msg: m.Message) -> None:
    assert codec.decode(codec.encode(msg), channel) == msg


def test_every_kind_has_a_sample() -> None:
    assert {m.kind_of(type(msg)) for _, msg in SAMPLES} == {m.kind_of(c) for c in m.ALL_TYPES}


def _err(payload: bytes | str, channel: str = "cmd") -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        codec.decode(payload, channel)
    return info.value


def _cmd(**fields: Any) -> bytes:
    base: dict[str, Any] = {"v": 1, "kind": "call_next", "id": "g1-00000001"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("payload", "code", "needle"),
    [
        (b"{", ErrorCode.MALFORMED_JSON, "not valid JSON"),
        (b"", ErrorCode.MALFORMED_JSON, "not valid JSON"),
        (b"\xff\xfe\x00", ErrorCode.MALFORMED_JSON, "not valid JSON"),
        (b'{"v": 1, "kind": "call_next", "id": "g1-00000001"} trailing', ErrorCode.MALFORMED_JSON, "JSON"),
        (b"[1, 2]", ErrorCode.NOT_AN_OBJECT, "JSON object"),
        (b'"call_next"', ErrorCode.NOT_AN_OBJECT, "JSON object"),
        (b"null", ErrorCode.NOT_AN_OBJECT, "JSON object"),
        (_cmd(v=2), ErrorCode.UNSUPPORTED_VERSION, "version 2"),
        (_cmd(v="1"), ErrorCode.UNSUPPORTED_VERSION, "'1'"),
        (_cmd(v=True), ErrorCode.UNSUPPORTED_VERSION, "True"),
        (_cmd(v=...), ErrorCode.INVALID_MESSAGE, "'v'"),
        (_cmd(kind=...), ErrorCode.INVALID_MESSAGE, "'kind'"),
        (_cmd(kind=7), ErrorCode.INVALID_MESSAGE, "'kind'"),
        (_cmd(kind="teleport"), ErrorCode.UNKNOWN_KIND, "teleport"),
        (_cmd(kind="board"), ErrorCode.WRONG_CHANNEL, "'board'"),
        (_cmd(id=...), ErrorCode.INVALID_MESSAGE, "`id`"),
        (_cmd(id="short"), ErrorCode.INVALID_MESSAGE, "$.id"),
        (_cmd(id=12345678), ErrorCode.INVALID_MESSAGE, "Expected `str`"),
        (_cmd(complete_current="yes"), ErrorCode.INVALID_MESSAGE, "Expected `bool`"),
        (_cmd(colour="red"), ErrorCode.INVALID_MESSAGE, "unknown field `colour`"),
        (_cmd(kind="take_ticket", service="KTP"), ErrorCode.INVALID_MESSAGE, "$.service"),
        (_cmd(kind="take_ticket", service="ktp", priority="vip"), ErrorCode.INVALID_MESSAGE, "$.priority"),
        (_cmd(kind="call_ticket", ticket="A012", reason=""), ErrorCode.INVALID_MESSAGE, "$.reason"),
        (_cmd(kind="call_ticket", ticket="a12", reason="alasan"), ErrorCode.INVALID_MESSAGE, "$.ticket"),
        (_cmd(ts=-5), ErrorCode.INVALID_MESSAGE, "$.ts"),
        (b" " * 3000, ErrorCode.OVERSIZED, "3000 bytes"),
        (_cmd(kind="transfer", service="kk", note="x" * 2100), ErrorCode.OVERSIZED, "2048-byte limit"),
        (_cmd(kind="transfer", service="kk", note="x" * 300), ErrorCode.INVALID_MESSAGE, "length <= 200"),
    ],
)
def test_malformed_commands_are_typed_errors(payload: bytes, code: ErrorCode, needle: str) -> None:
    err = _err(payload)
    assert err.code is code, err
    assert needle in err.message


def test_print_job_on_cmd_channel_is_wrong_channel() -> None:
    job = codec.encode(next(msg for _, msg in SAMPLES if isinstance(msg, m.PrintJob)))
    assert _err(job, "cmd").code is ErrorCode.WRONG_CHANNEL
    assert isinstance(codec.decode(job, "print"), m.PrintJob)


def test_expect_narrows_the_kind() -> None:
    payload = codec.encode(m.Done(id="g1-00000009"))
    assert isinstance(codec.decode(payload, "cmd", m.Done), m.Done)
    with pytest.raises(ProtocolError) as info:
        codec.decode(payload, "cmd", m.CallNext)
    assert info.value.code is ErrorCode.WRONG_CHANNEL


def test_unknown_channel() -> None:
    assert _err(b"{}", "bogus").code is ErrorCode.WRONG_CHANNEL


def test_board_limit_is_larger_than_command_limit() -> None:
    tiles = [
        m.BoardGerai(gerai=f"g{i}", number=i, name=f"Gerai {i}", agency="Dukcapil", status="idle")
        for i in range(1, 60)
    ]
    board = m.Board(site="test", site_name="MPP Uji", rev=1, ts=T, gerai=tiles)
    payload = codec.encode(board)
    assert len(payload) > 2048
    assert codec.decode(payload, "board") == board


def test_str_payload_is_accepted() -> None:
    assert isinstance(codec.decode(_cmd().decode(), "cmd"), m.CallNext)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(sorted(codec.CHANNEL_KINDS)))
def test_arbitrary_bytes_never_escape_as_other_exceptions(payload: bytes, channel: str) -> None:
    try:
        codec.decode(payload, channel)
    except ProtocolError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted({m.kind_of(c) for c in m.ALL_TYPES})),
    st.dictionaries(st.sampled_from(["id", "service", "ticket", "reason", "ok", "v", "ts", "job", "x"]), json_values),
)
def test_structured_garbage_is_rejected_or_valid(kind: str, fields: dict[str, Any]) -> None:
    payload = json.dumps({"v": 1, "kind": kind, **fields}).encode()
    for channel in codec.CHANNEL_KINDS:
        try:
            msg = codec.decode(payload, channel)
        except ProtocolError as err:
            assert err.message
        else:
            assert m.kind_of(type(msg)) == kind
            assert codec.decode(codec.encode(msg), channel) == msg


def test_one_list_of_result_codes_and_priorities() -> None:
    from antre.central.texts import TEXTS

    assert {e.value for e in ErrorCode} <= {c.value for c in m.ResultCode}  # decode errors are reply codes
    missing = [c for c in m.ResultCode if c not in TEXTS and c.value not in {e.value for e in ErrorCode}]
    assert missing == []  # every result and refusal has its Indonesian and English text
    assert [p.value for p in m.Priority] == ["regular", *[p.value for p in m.PRIORITY_REASONS]]
    reply = codec.decode(codec.encode(m.Reply(cmd="g1-00000001", ok=True, code=m.ResultCode.CALLED, ts=T)), "reply")
    assert reply.code == "called" and reply.code == m.ResultCode.CALLED
    tt = codec.decode(b'{"kind":"take_ticket","v":1,"id":"k1-00000001","service":"ktp","priority":"child"}', "cmd")
    assert isinstance(tt, m.TakeTicket) and tt.priority is m.Priority.CHILD
