"""Human-readable texts for results and refusals: Indonesian for staff and
citizens, English for logs and technicians."""

from __future__ import annotations

import datetime as dt
from typing import Final

from antre.broker.wire.messages import ResultCode

#: code -> (Indonesian, English); ``{name}`` fields come from the result's params.
TEXTS: Final[dict[ResultCode, tuple[str, str]]] = {
    ResultCode.OK: ("Berhasil", "Done"),
    ResultCode.ISSUED: ("Nomor {ticket} untuk {service_name}", "Ticket {ticket} issued for {service_name}"),
    ResultCode.CALLED: ("Memanggil {ticket}", "Calling {ticket}"),
    ResultCode.RECALLED: ("Memanggil ulang {ticket}", "Calling {ticket} again"),
    ResultCode.SERVED: ("{ticket} selesai dilayani", "{ticket} served"),
    ResultCode.NO_SHOW_MARKED: ("{ticket} tidak hadir", "{ticket} marked no-show"),
    ResultCode.TRANSFERRED: ("{ticket} dialihkan ke {service_name}", "{ticket} transferred to {service_name}"),
    ResultCode.PAUSED: ("Gerai istirahat: {reason}", "Gerai paused: {reason}"),
    ResultCode.RESUMED: ("Gerai melayani kembali", "Gerai resumed"),
    ResultCode.PRINT_RECORDED: ("Status cetak dicatat", "Print result recorded"),
    ResultCode.QUEUE_EMPTY: ("Tidak ada antrean menunggu", "Nobody is waiting"),
    ResultCode.VOIDED: ("Nomor {ticket} dibatalkan: {reason}", "Ticket {ticket} voided: {reason}"),
    ResultCode.REPRINTED: ("Cetak ulang {ticket} dikirim ke printer", "Reprint of {ticket} sent to the printer"),
    ResultCode.NOT_REPRINTABLE: (
        "{ticket} tidak dicetak ulang di gerai: hanya nomor yang sedang dilayani atau yang gagal tercetak",
        "{ticket} is not reprinted at a gerai: only the ticket it serves, or one whose print failed",
    ),
    # refusals
    ResultCode.UNKNOWN_SERVICE: ("Layanan {service} tidak dikenal", "Unknown service {service}"),
    ResultCode.SERVICE_NOT_OFFERED: (
        "Layanan {service} tidak tersedia di perangkat ini",
        "Service {service} is not offered on this device",
    ),
    ResultCode.UNKNOWN_DEVICE: ("Perangkat {device} tidak terdaftar", "Device {device} is not configured"),
    ResultCode.HOLIDAY: ("Hari libur: layanan tutup", "Public holiday: closed"),
    ResultCode.CLOSED_TODAY: ("Layanan tutup hari ini", "The service is closed today"),
    ResultCode.BEFORE_HOURS: ("Pengambilan nomor dibuka pukul {opens_at}", "Tickets open at {opens_at}"),
    ResultCode.AFTER_HOURS: ("Layanan sudah tutup pukul {closes_at}", "The service closed at {closes_at}"),
    ResultCode.AFTER_CUTOFF: (
        "Pengambilan nomor ditutup pukul {closes_at}",
        "No new tickets after the {closes_at} cut-off",
    ),
    ResultCode.ON_BREAK: ("Istirahat sampai pukul {opens_at}", "On break until {opens_at}"),
    ResultCode.QUOTA_EXHAUSTED: (
        "Kuota {service_name} hari ini ({quota}) sudah habis",
        "Today's quota for {service_name} ({quota}) is used up",
    ),
    ResultCode.GERAI_PAUSED: ("Gerai sedang istirahat; tekan lanjut dulu", "The gerai is paused; resume first"),
    ResultCode.NOT_PAUSED: ("Gerai tidak sedang istirahat", "The gerai is not paused"),
    ResultCode.GERAI_BUSY: ("Selesaikan {ticket} dulu", "Finish {ticket} first"),
    ResultCode.NO_CURRENT: ("Tidak ada nomor yang sedang dilayani", "No ticket is being served"),
    ResultCode.UNKNOWN_TICKET: ("Nomor {ticket} tidak ditemukan hari ini", "Ticket {ticket} not found today"),
    ResultCode.TICKET_NOT_WAITING: ("Nomor {ticket} tidak sedang menunggu", "Ticket {ticket} is not waiting"),
    ResultCode.NOT_SERVED_HERE: ("Nomor {ticket} bukan layanan gerai ini", "Ticket {ticket} is not for this gerai"),
    ResultCode.NOT_NO_SHOW: ("Nomor {ticket} tidak berstatus tidak hadir", "Ticket {ticket} is not a no-show"),
    ResultCode.RECALL_WINDOW_PASSED: (
        "Batas panggil ulang {ticket} ({minutes} menit) sudah lewat",
        "The {minutes}-minute recall window of {ticket} has passed",
    ),
    ResultCode.SAME_SERVICE: ("{ticket} sudah di layanan itu", "{ticket} is already in that service"),
    ResultCode.REASON_REQUIRED: ("Alasan wajib diisi", "A reason is required"),
    ResultCode.NOT_ALLOWED: ("Perintah {command} tidak diizinkan untuk perangkat ini", "{command} is not allowed for this device"),
    ResultCode.UNKNOWN_JOB: ("Tugas cetak {job} tidak dikenal", "Unknown print job {job}"),
    ResultCode.NOT_VOIDABLE: (
        "Nomor {ticket} tidak dapat dibatalkan: sudah dicetak atau dipanggil",
        "Ticket {ticket} cannot be voided: it was printed, called or closed ({status}, print {print})",
    ),
    ResultCode.STALE: (
        "Tidak terkirim: tekanan {age} detik lalu sudah kedaluwarsa",
        "Not applied: the press was {age} s old (deadline {deadline} s)",
    ),
    ResultCode.CLOCK_SKEW: (
        "Tidak terkirim: jam perangkat tidak cocok dengan server",
        "Not applied: the press is stamped {ahead} s in the future; the device's clock is off",
    ),
    ResultCode.CLOCK_UNSYNCED: (
        "Nomor belum dapat diambil: jam server belum tersinkron. Mohon tunggu atau hubungi petugas",
        "Not issued: the central's system clock is not synchronised yet (NTP); tickets are issued once it is",
    ),
    ResultCode.NOT_CURRENT: (
        "Tidak dijalankan: gerai kini melayani {ticket}, bukan {expected}",
        "Not applied: the gerai now serves {ticket}, not {expected} (someone acted first)",
    ),
    ResultCode.DOUBLE_PRESS: (
        "Tekan 2x: {ticket} baru dipanggil",
        "Pressed twice within {guard} s: {ticket} was just called; the second press is ignored",
    ),
    ResultCode.INTERNAL_ERROR: ("Perintah tidak dapat diproses; dicatat untuk teknisi", "The central could not handle this"),
    ResultCode.PONG: ("Terhubung", "pong"),
    # day control from the operations console
    ResultCode.ISSUING_STOPPED: (
        "Pengambilan nomor {service_name} sudah dihentikan hari ini",
        "No more tickets for {service_name} today",
    ),
    ResultCode.STOPPED: (
        "Pengambilan nomor {service_name} dihentikan",
        "Issuing stopped for {service_name}",
    ),
    ResultCode.ISSUING_RESUMED: (
        "Pengambilan nomor {service_name} dibuka kembali",
        "Issuing resumed for {service_name}",
    ),
    ResultCode.NOT_STOPPED: (
        "Pengambilan nomor {service_name} tidak sedang dihentikan",
        "Issuing for {service_name} is not stopped",
    ),
    ResultCode.QUOTA_SET: ("Kuota {service_name} hari ini: {quota}", "Today's quota for {service_name}: {quota}"),
    ResultCode.MESSAGE_SET: ("Pesan lobi diperbarui", "Lobby message updated"),
    ResultCode.NOT_PERMITTED: (
        "Peran {role} tidak boleh melakukan {command}",
        "A {role} may not do {command}",
    ),
    # the citizen's feedback (issue 16)
    ResultCode.SURVEY_RECORDED: ("Terima kasih, penilaian Anda untuk {ticket} sudah kami terima",
                                 "Survey answer for {ticket} recorded"),
    ResultCode.RATING_RECORDED: ("Terima kasih atas penilaian Anda ({score})", "Quick rating {score} for {ticket} recorded"),
    ResultCode.BAD_TOKEN: ("Tautan tiket tidak sah", "The ticket page's token does not match"),
    ResultCode.NOT_SERVED: ("Nomor {ticket} belum selesai dilayani", "Ticket {ticket} has not been served"),
    ResultCode.SURVEY_WINDOW_PASSED: ("Batas waktu penilaian untuk {ticket} sudah lewat",
                                      "The time to rate {ticket} has passed"),
    ResultCode.ALREADY_ANSWERED: ("Survei untuk nomor {ticket} sudah diisi; terima kasih",
                                  "The survey of {ticket} was already answered"),
    ResultCode.ALREADY_RATED: ("Nomor {ticket} sudah dinilai", "Ticket {ticket} was already rated"),
    ResultCode.SURVEY_INVALID: ("Isian saran mengandung karakter yang tidak diizinkan",
                                "The suggestion holds control characters"),
}


def render(code: ResultCode, params: dict[str, str]) -> tuple[str, str]:
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
