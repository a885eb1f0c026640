"""Human-readable texts for results and refusals: Indonesian for staff and
citizens, English for logs and technicians."""

from __future__ import annotations

import datetime as dt
from typing import Final

#: code -> (Indonesian, English); ``{name}`` fields come from the result's params.
TEXTS: Final[dict[str, tuple[str, str]]] = {
    "ok": ("Berhasil", "Done"),
    "issued": ("Nomor {ticket} untuk {service_name}", "Ticket {ticket} issued for {service_name}"),
    "called": ("Memanggil {ticket}", "Calling {ticket}"),
    "recalled": ("Memanggil ulang {ticket}", "Calling {ticket} again"),
    "served": ("{ticket} selesai dilayani", "{ticket} served"),
    "no_show_marked": ("{ticket} tidak hadir", "{ticket} marked no-show"),
    "transferred": ("{ticket} dialihkan ke {service_name}", "{ticket} transferred to {service_name}"),
    "paused": ("Gerai istirahat: {reason}", "Gerai paused: {reason}"),
    "resumed": ("Gerai melayani kembali", "Gerai resumed"),
    "print_recorded": ("Status cetak dicatat", "Print result recorded"),
    "queue_empty": ("Tidak ada antrean menunggu", "Nobody is waiting"),
    # refusals
    "unknown_service": ("Layanan {service} tidak dikenal", "Unknown service {service}"),
    "service_not_offered": (
        "Layanan {service} tidak tersedia di perangkat ini",
        "Service {service} is not offered on this device",
    ),
    "unknown_device": ("Perangkat {device} tidak terdaftar", "Device {device} is not configured"),
    "holiday": ("Hari libur: layanan tutup", "Public holiday: closed"),
    "closed_today": ("Layanan tutup hari ini", "The service is closed today"),
    "before_hours": ("Pengambilan nomor dibuka pukul {opens_at}", "Tickets open at {opens_at}"),
    "after_hours": ("Layanan sudah tutup pukul {closes_at}", "The service closed at {closes_at}"),
    "after_cutoff": (
        "Pengambilan nomor ditutup pukul {closes_at}",
        "No new tickets after the {closes_at} cut-off",
    ),
    "on_break": ("Istirahat sampai pukul {opens_at}", "On break until {opens_at}"),
    "quota_exhausted": (
        "Kuota {service_name} hari ini ({quota}) sudah habis",
        "Today's quota for {service_name} ({quota}) is used up",
    ),
    "gerai_paused": ("Gerai sedang istirahat; tekan lanjut dulu", "The gerai is paused; resume first"),
    "not_paused": ("Gerai tidak sedang istirahat", "The gerai is not paused"),
    "gerai_busy": ("Selesaikan {ticket} dulu", "Finish {ticket} first"),
    "no_current": ("Tidak ada nomor yang sedang dilayani", "No ticket is being served"),
    "unknown_ticket": ("Nomor {ticket} tidak ditemukan hari ini", "Ticket {ticket} not found today"),
    "ticket_not_waiting": ("Nomor {ticket} tidak sedang menunggu", "Ticket {ticket} is not waiting"),
    "not_served_here": ("Nomor {ticket} bukan layanan gerai ini", "Ticket {ticket} is not for this gerai"),
    "not_no_show": ("Nomor {ticket} tidak berstatus tidak hadir", "Ticket {ticket} is not a no-show"),
    "recall_window_passed": (
        "Batas panggil ulang {ticket} ({minutes} menit) sudah lewat",
        "The {minutes}-minute recall window of {ticket} has passed",
    ),
    "same_service": ("{ticket} sudah di layanan itu", "{ticket} is already in that service"),
    "reason_required": ("Alasan wajib diisi", "A reason is required"),
    "not_allowed": ("Perintah {command} tidak diizinkan untuk perangkat ini", "{command} is not allowed for this device"),
    "unknown_job": ("Tugas cetak {job} tidak dikenal", "Unknown print job {job}"),
}


def render(code: str, params: dict[str, str]) -> tuple[str, str]:
    """The (Indonesian, English) texts of ``code`` filled with ``params``."""
    id_t, en_t = TEXTS.get(code, (code, code))
    try:
        return id_t.format(**params), en_t.format(**params)
    except (KeyError, IndexError, ValueError):
        return id_t, en_t

DAYS_ID: Final[tuple[str, ...]] = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS_ID: Final[tuple[str, ...]] = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)


def format_date_id(when: dt.datetime | dt.date) -> str:
    """``Jumat, 28 Juli 2023``."""
    return f"{DAYS_ID[when.weekday()]}, {when.day} {MONTHS_ID[when.month - 1]} {when.year}"


def format_datetime_id(when: dt.datetime, zone_abbrev: str) -> str:
    """``Jumat, 28 Juli 2023 10:15 WITA`` (``when`` already in the site's zone)."""
    return f"{format_date_id(when)} {when:%H:%M} {zone_abbrev}"
