"""ESC/POS: the bytes of a ticket, the real-time status query, and a decoder.

A small encoder of our own (rather than python-escpos, which reports "paper
OK" from a printer that does not answer): every command antre sends is here,
and :func:`decode` turns the bytes back into operations so tests (and the
mock printer) can check what a ticket really says.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

ESC, GS, DLE, EOT, LF = b"\x1b", b"\x1d", b"\x10", b"\x04", b"\n"

INIT = ESC + b"@"


def align(where: str) -> bytes:
    return ESC + b"a" + bytes([{"left": 0, "center": 1, "right": 2}[where]])


def bold(on: bool) -> bytes:
    return ESC + b"E" + bytes([1 if on else 0])


def size(width: int, height: int) -> bytes:
    """Character magnification, 1-8 each way (GS ! n)."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError("character size is 1-8")
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


def printable(line: str) -> str:
    """``line`` as the printer will print it: printable ASCII only (the printer's code page is
    unknown; accents are dropped, "é" prints as "e")."""
    plain = unicodedata.normalize("NFKD", line).encode("ascii", "ignore")
    return bytes(b for b in plain if 32 <= b < 127).decode("ascii")


def text(line: str) -> bytes:
    """A line of text, reduced to printable ASCII (:func:`printable`)."""
    return printable(line).encode("ascii") + LF


def feed(lines: int) -> bytes:
    return ESC + b"d" + bytes([max(0, min(lines, 255))])


def cut() -> bytes:
    """Feed to the cutter and cut, leaving a hinge (GS V 66 n)."""
    return GS + b"V" + bytes([66, 3])


def qr(data: str, module: int = 6) -> bytes:
    """A QR code (GS ( k): model 2, module size, error level M, store, print."""
    payload = data.encode("ascii")
    if len(payload) > 7000:
        raise ValueError("QR payload too long")
    store_len = len(payload) + 3
    return b"".join(
        [
            GS + b"(k" + bytes([4, 0, 49, 65, 50, 0]),  # model 2
            GS + b"(k" + bytes([3, 0, 49, 67, max(1, min(module, 16))]),  # module size
            GS + b"(k" + bytes([3, 0, 49, 69, 49]),  # error correction M
            GS + b"(k" + bytes([store_len & 0xFF, store_len >> 8, 49, 80, 48]) + payload,  # store
            GS + b"(k" + bytes([3, 0, 49, 81, 48]),  # print
        ]
    )


# ------------------------------------------------------------------ status


class PrinterStatus(str, enum.Enum):
    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # no answer: never "ok"
    ERROR = "error"


def status_query(n: int) -> bytes:
    """DLE EOT n: 1 printer, 2 offline cause, 3 error cause, 4 paper roll sensor."""
    return DLE + EOT + bytes([n])


def _valid(byte: int) -> bool:
    # Every real-time status byte has bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0.
    return byte & 0x93 == 0x12


def parse_status(printer: int | None, offline: int | None, error: int | None, paper: int | None) -> PrinterStatus:
    """Combine the answers to DLE EOT 1, 2, 3 and 4 (None: no answer)."""
    answers = (printer, offline, error, paper)
    if any(a is None for a in answers):
        return PrinterStatus.UNKNOWN
    assert printer is not None and offline is not None and error is not None and paper is not None
    if not all(_valid(a) for a in (printer, offline, error, paper)):
        return PrinterStatus.UNKNOWN
    if paper & 0x60 or offline & 0x20:
        return PrinterStatus.PAPER_OUT
    if offline & 0x04:
        return PrinterStatus.COVER_OPEN
    if offline & 0x40 or error & 0x68:
        return PrinterStatus.ERROR
    if printer & 0x08:
        return PrinterStatus.OFFLINE
    if paper & 0x0C:
        return PrinterStatus.PAPER_NEAR_END
    return PrinterStatus.OK


def status_bytes(status: PrinterStatus) -> tuple[int, int, int, int]:
    """What a printer in ``status`` answers to DLE EOT 1-4 (for the mock printer)."""
    printer, offline, error, paper = 0x12, 0x12, 0x12, 0x12
    if status is PrinterStatus.PAPER_OUT:
        printer |= 0x08
        offline |= 0x20
        paper |= 0x60
    elif status is PrinterStatus.COVER_OPEN:
        printer |= 0x08
        offline |= 0x04
    elif status is PrinterStatus.ERROR:
        printer |= 0x08
        offline |= 0x40
        error |= 0x20
    elif status is PrinterStatus.OFFLINE:
        printer |= 0x08
    elif status is PrinterStatus.PAPER_NEAR_END:
        paper |= 0x0C
    return printer, offline, error, paper


# ----------------------------------------------------------------- decoder


@dataclass(frozen=True)
class Op:
    """One decoded operation: ``kind`` and its argument."""

    kind: str  # init, align, bold, size, text, feed, cut, qr, status_query, raw
    arg: object = None


def decode(data: bytes) -> list[Op]:
    """Decode the ESC/POS subset antre sends; unknown bytes become ``raw`` ops."""
    ops: list[Op] = []
    line = bytearray()
    i = 0
    qr_store: bytes | None = None

    def flush() -> None:
        if line:
            ops.append(Op("text", line.decode("ascii", "replace")))
            line.clear()

    while i < len(data):
        b = data[i]
        if b == 0x0A:
            ops.append(Op("text", line.decode("ascii", "replace")))
            line.clear()
            i += 1
        elif data.startswith(INIT, i):
            flush()
            ops.append(Op("init"))
            i += 2
        elif data.startswith(ESC + b"a", i) and i + 2 < len(data):
            flush()
            ops.append(Op("align", {0: "left", 1: "center", 2: "right"}.get(data[i + 2], "?")))
            i += 3
        elif data.startswith(ESC + b"E", i) and i + 2 < len(data):
            flush()
            ops.append(Op("bold", bool(data[i + 2])))
            i += 3
        elif data.startswith(ESC + b"d", i) and i + 2 < len(data):
            flush()
            ops.append(Op("feed", data[i + 2]))
            i += 3
        elif data.startswith(GS + b"!", i) and i + 2 < len(data):
            flush()
            n = data[i + 2]
            ops.append(Op("size", ((n >> 4) + 1, (n & 0x0F) + 1)))
            i += 3
        elif data.startswith(GS + b"V", i) and i + 3 < len(data):
            flush()
            ops.append(Op("cut"))
            i += 4
        elif data.startswith(GS + b"(k", i) and i + 7 < len(data):
            flush()
            length = data[i + 3] | (data[i + 4] << 8)
            fn = data[i + 6]
            body = data[i + 5: i + 5 + length]
            if fn == 80:
                qr_store = bytes(body[3:])
            elif fn == 81 and qr_store is not None:
                ops.append(Op("qr", qr_store.decode("ascii", "replace")))
            i += 5 + length
        elif data.startswith(DLE + EOT, i) and i + 2 < len(data):
            flush()
            ops.append(Op("status_query", data[i + 2]))
            i += 3
        elif 32 <= b < 127:
            line.append(b)
            i += 1
        else:
            flush()
            ops.append(Op("raw", b))
            i += 1
    flush()
    return ops


def texts(ops: list[Op]) -> list[str]:
    return [str(op.arg) for op in ops if op.kind == "text"]
