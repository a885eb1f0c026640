"""A kiosk's display: its service, the numbers left, the wait, and whether it can issue now.

Kiosks showed MENUNGGU DATA for ever (they got no state).  The view is built from the
central's per-service state through a small interface (antre.edge.kiosk.ServiceInfo); here it
is fed a struct with the fields of that state and the lobby board's BoardService, and drawn on
luma's dummy OLED (PNG frames in the test's directory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from luma.core.device import dummy
from PIL import Image

from antre.broker.wire import messages as m
from antre.edge.kiosk import KioskView, kiosk_view
from antre.hardware.kiosk_screen import KioskScreen


@dataclass(frozen=True)
class ServiceStateLike:
    """The fields of the central's retained per-service state that a kiosk reads."""

    service: str
    name: str
    agency: str
    prefix: str
    open: bool
    waiting: int
    remaining_quota: int | None
    est_wait_min: int | None


KTP = ServiceStateLike("ktp-el", "Perekaman dan Pencetakan KTP-el", "Dukcapil", "A", True, 7, 42, 15)

CASES: dict[str, tuple[KioskView, str, bool]] = {
    "ready": (kiosk_view("ktp-el", KTP, connected=True), "TEKAN TOMBOL", False),
    "printer": (kiosk_view("ktp-el", KTP, connected=True, printer_fault="KERTAS HABIS"), "KERTAS HABIS", True),
    "quota": (kiosk_view("ktp-el", ServiceStateLike("paspor", "Paspor", "Imigrasi", "P", True, 25, 0, 95),
                         connected=True), "KUOTA HABIS", True),
    "closed": (kiosk_view("npwp", m.BoardService(service="npwp", name="Konsultasi NPWP", agency="KPP", prefix="NP",
                                                 waiting=3, open=False), connected=True), "LAYANAN TUTUP", True),
    "offline": (kiosk_view("ktp-el", KTP, connected=False), "OFFLINE", True),
    "central_offline": (kiosk_view("ktp-el", KTP, connected=True, central_lost=True), "PUSAT OFFLINE", True),
    "no_data": (kiosk_view("ktp-el", None, connected=True, name="KTP-el"), "MENUNGGU DATA", False),
    "notice": (kiosk_view("ktp-el", KTP, connected=True, notice="!Kuota Paspor hari ini (25) sudah habis"),
               "Kuota Paspor hari ini (25) sudah habis", True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_state_has_its_own_view(name: str) -> None:
    view, headline, alert = CASES[name]
    assert (view.state, view.headline, view.alert) == (name, headline, alert)
    if name in ("offline", "central_offline"):
        assert view.facts == ()  # old figures are not shown as current
    elif name != "no_data":
        assert any(f.startswith("Menunggu:") for f in view.facts)
    if name == "ready":
        assert view.title == "A  Perekaman dan Pencetakan KTP-el"
        assert view.facts == ("Sisa kuota hari ini: 42", "Menunggu: 7 orang", "Perkiraan tunggu: 15 menit")


def test_the_screen_draws_every_state_without_overprinting(tmp_path: Path) -> None:
    screen = KioskScreen(dummy(width=128, height=64, mode="1"))
    sheet = Image.new("L", (2 * 130 * 3, 4 * 66 * 3), 60)
    bar_top = 64 - 10 - 2
    for i, (name, (view, _, alert)) in enumerate(CASES.items()):
        screen.show(view)
        frame = screen.frame
        assert frame is not None and screen.device.image.tobytes() == frame.tobytes()
        frame.convert("L").resize((384, 192)).save(tmp_path / f"kiosk-{name}.png")
        sheet.paste(frame.convert("L").resize((384, 192)), ((i % 2) * 390, (i // 2) * 198))
        px = frame.load()
        bar = sum(1 for x in range(128) for y in range(bar_top + 1, 64) if px[x, y])
        assert (bar > 128 * 8) == alert, name  # an inverted state line exactly when nothing can be issued
        assert not any(px[x, bar_top - 1] for x in range(128)), f"{name}: text runs into the state line"
        middle = sum(1 for x in range(128) for y in range(14, bar_top - 1) if px[x, y])
        if name in ("offline", "central_offline", "no_data"):
            assert middle == 0, name  # no figures at all
        else:
            assert middle > 150, name  # the figures, in large type
    sheet.save(tmp_path / "kiosk-states.png")
    print(f"kiosk screens: {tmp_path / 'kiosk-states.png'}")


def test_long_names_are_cut_not_overprinted() -> None:
    screen = KioskScreen(dummy(width=128, height=64, mode="1"))
    view = kiosk_view("x", ServiceStateLike("x", "Pelayanan Izin Usaha Mikro Kecil " * 4, "DPMPTSP", "AB", True,
                                            1234, 99999, 9999), connected=True)
    frame = screen.render(view)
    px = frame.load()
    assert not any(px[127, y] for y in range(64) if y < 50)  # nothing drawn to the very edge: fitted
