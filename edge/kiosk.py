"""What a kiosk's display tells a citizen: the service it issues, whether a number can be taken
now (open, quota left, printer able to print), how many numbers remain today, how many people
wait and the estimated wait.

:func:`kiosk_view` builds a :class:`KioskView` from the kiosk's own knowledge (its link, its
printer, a refusal just shown) and the central's per-service state, read through the small
:class:`ServiceInfo` interface: the fields of the wire's per-service state (``service``,
``name``, ``agency``, ``prefix``, ``open``, ``waiting``, ``remaining_quota``,
``est_wait_min``), which the lobby board's entries (``BoardService``) have too.  Pure data;
:mod:`antre.hardware.kiosk_screen` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ServiceInfo(Protocol):
    """The central's state of one service, as a kiosk needs it."""

    @property
    def service(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def agency(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def open(self) -> bool: ...
    @property
    def waiting(self) -> int: ...
    @property
    def remaining_quota(self) -> int | None: ...
    @property
    def est_wait_min(self) -> int | None: ...


@dataclass(frozen=True)
class KioskView:
    """One screen of a kiosk: a title, up to three facts, and the state line.

    ``state`` says which case it is (``ready``, ``notice``, ``offline``, ``central_offline``,
    ``printer``, ``no_data``, ``closed``, ``quota``); ``alert`` when no number can be taken now.
    """

    title: str  # "A  Perekaman KTP-el"
    agency: str
    facts: tuple[str, ...]  # "Sisa kuota hari ini: 42", "Menunggu: 7 orang", "Perkiraan tunggu: 15 menit"
    headline: str  # the state line: "TEKAN TOMBOL", "KERTAS HABIS", "KUOTA HABIS", "TUTUP", "OFFLINE"...
    state: str
    alert: bool
    remaining_quota: int | None = None
    waiting: int | None = None
    est_wait_min: int | None = None


def kiosk_view(service: str, info: ServiceInfo | None, *, connected: bool, central_lost: bool = False,
               printer_fault: str | None = None, notice: str | None = None, name: str = "") -> KioskView:
    """The screen of a kiosk issuing ``service``.  The most urgent fact wins the state line: a
    refusal just made (``notice``, for a few seconds), no link, no central, a printer that cannot
    print, no data yet, the service closed, its quota used up; otherwise the invitation."""
    if info is not None:
        title = f"{info.prefix}  {info.name}"
        facts: list[str] = []
        if info.remaining_quota is not None:
            facts.append(f"Sisa kuota hari ini: {info.remaining_quota}")
        facts.append(f"Menunggu: {info.waiting} orang")
        if info.est_wait_min is not None:
            facts.append(f"Perkiraan tunggu: {info.est_wait_min} menit")
        agency = info.agency
    else:
        title, facts, agency = name or service, [], ""
    if notice is not None:
        state, headline = "notice", notice.lstrip("!")
    elif not connected:
        state, headline = "offline", "OFFLINE"
    elif central_lost:
        state, headline = "central_offline", "PUSAT OFFLINE"
    elif printer_fault is not None:
        state, headline = "printer", printer_fault
    elif info is None:
        state, headline = "no_data", "MENUNGGU DATA"
    elif not info.open:
        state, headline = "closed", "LAYANAN TUTUP"
    elif info.remaining_quota == 0:
        state, headline = "quota", "KUOTA HABIS"
    else:
        state, headline = "ready", "TEKAN TOMBOL"
    stale = state in ("offline", "central_offline")  # the figures may be old: not shown as current
    return KioskView(
        title=title, agency=agency, facts=() if stale else tuple(facts), headline=headline, state=state,
        alert=state not in ("ready", "no_data"), remaining_quota=None if info is None else info.remaining_quota,
        waiting=None if info is None else info.waiting, est_wait_min=None if info is None else info.est_wait_min,
    )
