"""broker/PROTOCOL.md shows a valid example of every message: checked here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from antre.broker.wire import codec
from antre.broker.wire import messages as m

DOC = Path(__file__).resolve().parent.parent / "broker" / "PROTOCOL.md"
CHANNEL_OF_KIND = {kind: ch for ch, kinds in codec.CHANNEL_KINDS.items() for kind in kinds}


def _examples() -> list[str]:
    return re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_every_example_decodes_on_its_channel() -> None:
    blocks = _examples()
    assert len(blocks) >= len(m.ALL_TYPES)
    for block in blocks:
        kind = json.loads(block)["kind"]
        msg = codec.decode(block.encode(), CHANNEL_OF_KIND[kind])
        assert m.kind_of(type(msg)) == kind


def test_every_kind_has_an_example() -> None:
    kinds = {json.loads(block)["kind"] for block in _examples()}
    assert kinds == {m.kind_of(c) for c in m.ALL_TYPES}
