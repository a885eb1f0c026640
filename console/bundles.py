"""A device's provisioning bundle from the fleet page: the same file and QR code as
``antre edge bundle`` (:func:`antre.deploy.make_bundle`), made on the fly from the site file and
the credentials file the console already reads, for technicians and admins only.

The file holds only that device's own secret (``make_bundle`` writes it from the credentials file
for that one identity); it is written to a private temporary directory, read back and deleted:
nothing of it stays on the console's disk.  The hardware options are the ones of the command
line, checked here before they reach the file (no quotes, no new lines: a value can never add a
line of its own), and checked again by the agent's own parser before anything is returned.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
import typing
from dataclasses import dataclass
from pathlib import Path

from antre.central.config import SiteConfig
from antre.console.forms import FormError, choice, number

DISPLAYS = ("ssd1306", "sh1106", "max7219", "max7219-matrix", "hdmi", "none")
PUBLIC_DISPLAYS = ("none", "max7219-matrix", "hdmi")
FORMATS = ("toml", "png")
#: one button as ``antre edge bundle --button`` takes it: NAME:PIN:PRESS[:DOUBLE[:HOLD]]
_BUTTON = re.compile(r"[a-z][a-z0-9_-]{0,19}:[0-9]{1,2}:[a-z_]{1,20}(:[a-z_]{1,20}){0,2}")
#: the serial ports a ticket printer is on: a USB adapter by its stable name, or one of the Pi's UARTs
_PORT = re.compile(r"/dev/serial/by-id/[A-Za-z0-9_.:+-]{1,120}|/dev/serial/by-path/[A-Za-z0-9_.:+-]{1,120}"
                   r"|/dev/tty(USB|ACM|AMA|S)[0-9]{1,3}|/dev/serial[01]")
#: the GPIO pins (BCM numbers) a Pi's button may be on
GPIO_PINS = range(0, 28)
log = logging.getLogger(__name__)


def _actions() -> tuple[str, ...]:
    from antre.edge.config import Action

    return typing.get_args(Action)


@dataclass(frozen=True)
class BundleRequest:
    """What the fleet page asks for: one device and its hardware (``antre edge bundle``'s options)."""

    role: str
    device: str
    format: str
    display: str = "ssd1306"
    public_display: str = "none"
    modules: int = 4
    printer: str | None = None
    paper_mm: int = 58
    buttons: tuple[str, ...] = ()
    service: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.device}.toml" if self.format == "toml" else f"{self.device}-qr.png"


def devices(config: SiteConfig) -> list[tuple[str, str, str]]:
    """(role, id, name) of every device the site file knows: the only ones a bundle is made for."""
    return ([("gerai", g.id, g.name) for g in config.gerai.values()]
            + [("kiosk", k.id, k.name) for k in config.kiosks.values()])


def kiosk_services(config: SiteConfig, kiosk: str) -> list[str]:
    """The services a kiosk's take-ticket button may issue (all of the site's when it lists none)."""
    return list(config.kiosks[kiosk].services) or list(config.services)


def parse_request(config: SiteConfig, fields: dict[str, str]) -> BundleRequest:
    """A bundle request from the page's query string, or :class:`FormError` (400/404)."""
    known = {f"{role}:{did}" for role, did, _ in devices(config)}
    target = fields.get("device", "")
    if target not in known:
        raise FormError("Perangkat tidak dikenal di berkas situs.", 404)
    role, device = target.split(":", 1)
    fmt = choice(fields, "format", "Format", FORMATS) if fields.get("format") else "toml"
    printer = fields.get("printer", "").strip()
    if printer and (".." in printer or not _PORT.fullmatch(printer)):
        raise FormError("Port printer: tulis port serial printer, mis. /dev/serial/by-id/usb-…, /dev/ttyUSB0, "
                        "/dev/ttyACM0, /dev/serial0, /dev/ttyAMA0 atau /dev/ttyS0")
    buttons = tuple(fields.get("buttons", "").split())
    actions = _actions()
    for n, spec in enumerate(buttons, 1):
        if not _BUTTON.fullmatch(spec):
            raise FormError(f"Tombol ke-{n}: tulis NAMA:PIN:TEKAN[:DUA-KALI[:TAHAN]], "
                            "mis. panggil:17:call_next:recall:no_show")
        parts = spec.split(":")
        if int(parts[1]) not in GPIO_PINS:
            raise FormError(f"Tombol ke-{n}: pin GPIO {parts[1]} tidak ada (pakai nomor BCM 0 sampai 27)")
        unknown = [a for a in parts[2:] if a not in actions]
        if unknown:
            raise FormError(f"Tombol ke-{n}: perintah {unknown[0]} tidak dikenal (pilih dari: "
                            f"{', '.join(a for a in actions)})")
    service = None
    if role == "kiosk":
        allowed = kiosk_services(config, device)
        service = fields.get("service") or allowed[0]
        if service not in allowed:
            raise FormError("Layanan kios: pilihan tidak dikenal")
    return BundleRequest(
        role=role, device=device, format=fmt,
        display=choice(fields, "display", "Layar petugas", DISPLAYS) if fields.get("display") else "ssd1306",
        public_display=(choice(fields, "public_display", "Layar publik", PUBLIC_DISPLAYS)
                        if fields.get("public_display") else "none"),
        modules=number(fields, "modules", "Modul 8x8", low=4, high=8, optional=True) or 4,
        printer=printer or None,
        paper_mm=number(fields, "paper_mm", "Lebar kertas", low=58, high=80, optional=True) or 58,
        buttons=buttons, service=service,
    )


def make(config: SiteConfig, credentials: str | None, request: BundleRequest) -> bytes:
    """The bundle's bytes: the device file (``toml``) or its QR code (``png``), as
    ``antre edge bundle`` writes them.  Raises :class:`FormError` for a value the file cannot hold."""
    from antre.broker.errors import ConfigurationError
    from antre.deploy import make_bundle

    if request.modules not in (4, 8):
        raise FormError("Modul 8x8: 4 atau 8")
    if request.paper_mm not in (58, 80):
        raise FormError("Lebar kertas: 58 atau 80 mm")
    with tempfile.TemporaryDirectory(prefix="antre-bundle-") as tmp:  # 0700, deleted on the way out
        try:
            bundle = make_bundle(
                config, request.device, role=request.role, broker_host=config.broker.host,
                broker_port=config.broker.port, credentials=credentials, out=Path(tmp) / request.filename,
                display=request.display, public_display=request.public_display, modules=request.modules,
                printer=request.printer, paper_mm=request.paper_mm, buttons=list(request.buttons),
                service=request.service)
        except ConfigurationError as exc:
            # the parser's own words (English, with the temporary file's path) go to the log only
            log.warning("a bundle for %s %s could not be made: %s", request.role, request.device,
                        str(exc).replace(tmp, "<tmp>"))
            raise FormError("Berkas perangkat tidak dapat dibuat dari isian ini: periksa tombol, port printer "
                            "dan layar, atau jalankan `antre edge bundle` di server untuk pesan lengkapnya.") from None
        if request.format == "toml":
            return bundle.path.read_bytes()
    import segno

    out = io.BytesIO()
    segno.make(bundle.text, error="m", micro=False).save(out, kind="png", scale=5, border=4)
    return out.getvalue()
