"""The ticket page's row of ``make bench``: from a call to the citizen's phone, over server-sent events.

The small test site on the broker with the real central and ``antre console run`` (its public
URL set) as processes.  A kiosk issues 201 tickets of one service; 100 phones (raw SSE clients,
standing in for the phones' browsers) hold the live stream of the last 100 tickets' pages open.
A gerai then calls 200 citizens, one every 100 ms.  Measured: from the ``call_next`` on the wire
until the last ticket's phone receives its page's new fragment (one fewer ahead, then "called"):
p50/p99/max over the 201 calls, and the console's CPU while 100 phones follow the queue.

Target: p50 < 100 ms (a citizen sees the change at the same time as the number display above
the gerai).  Run alone with ``python -m bench.ticketpage``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from antre.broker.admin.acl import Identity
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.central.ticketkey import TicketKey
from antre.sim.procs import BrokerProc, CentralProc, ConsoleProc, free_port, wait_for
from antre.sim.sitefiles import SiteFiles
from bench.console import SseClient, _cpu

CALLS = 200
PHONES = 100
GAP = 0.1
SERVICE, PREFIX, GERAI = "kk", "B", "g3"  # the small site's service without a quota, and its own gerai


def ticket_page_part(kind: str, work: Path) -> dict[str, Any]:
    from bench.run import client, ms

    http_port = free_port()
    site = SiteFiles(work / f"ticket-{kind}", free_port(), central={"call_guard_s": 0},
                     console={"public_url": f"http://127.0.0.1:{http_port}", "public_streams_per_address": 1000,
                              "public_requests_per_minute": 100000})
    broker, central = BrokerProc(kind, site), CentralProc(site)
    broker.start()
    console = ConsoleProc(site, http_port)
    phones: list[SseClient] = []
    kiosk = gerai = None
    try:
        central.start()
        central.wait_ready(60)
        console.start()
        console.wait_ready(60)
        proc = psutil.Process(console.proc.pid)  # type: ignore[union-attr]
        sid = site.config.site_id
        kiosk = client(site, Identity(Role.KIOSK, "k1"), [f"antre/v1/{sid}/kiosk/k1/reply"])
        gerai = client(site, Identity(Role.GERAI, GERAI), [f"antre/v1/{sid}/gerai/{GERAI}/reply"])
        tickets = CALLS + 1
        for i in range(tickets):
            kiosk.publish(f"antre/v1/{sid}/kiosk/k1/cmd",
                          codec.encode(m.TakeTicket(id=f"k1-bench-{i:06d}", service=SERVICE, print=False)))
            kiosk.pump(0)
        kiosk.wait(lambda: sum(t.endswith("/reply") for t, _, _ in kiosk.messages) >= tickets, 30)
        key = TicketKey(site.secrets.keys["ticket-page"], sid)
        day = dt.datetime.fromtimestamp(time.time(), site.config.zone).strftime("%Y%m%d")
        ids = [f"{day}-{PREFIX}{n:03d}" for n in range(tickets - PHONES + 1, tickets + 1)]
        # the phones open their pages once the console has read the last ticket from the log (a page
        # of a ticket the console does not know yet ends its stream: "gone")
        last_page = f"http://127.0.0.1:{http_port}/t/{ids[-1]}?k={key.token(ids[-1])}"
        wait_for(lambda: _status(last_page) == 200, 30, "the console reads the last ticket")
        phones = [SseClient(http_port, "", f"/t/{tid}/live?k={key.token(tid)}") for tid in ids]
        for p in phones:
            p.start()
        for p in phones:
            try:
                p.wait(lambda p=p: b"event: ticket" in p.buffer, 60)
            except RuntimeError:
                print(f"a phone's stream never opened: {bytes(p.buffer[:600])!r}\n{console.output()[-3000:]}",
                      file=sys.stderr)
                raise
        watched = phones[-1]
        time.sleep(1.0)
        lat: list[float] = []
        pace = threading.Event()
        cpu0, t0 = _cpu(proc), time.monotonic()
        for i in range(tickets):  # the last call calls the watched ticket itself
            ahead = tickets - 2 - i
            expected = (f'id="ahead">{ahead}</span>' if ahead >= 0 else 'data-stage="called"').encode()
            mark = watched.size()
            start = time.perf_counter()
            gerai.publish(f"antre/v1/{sid}/gerai/{GERAI}/cmd", codec.encode(m.CallNext(id=f"{GERAI}-bench-{i:06d}")))

            def seen(mark: int = mark, expected: bytes = expected) -> float | None:
                end = watched.buffer.find(expected, mark)
                if end < 0:
                    return None
                end += len(expected)
                return next(t for offset, t in watched.marks if offset >= end)

            lat.append(watched.wait(seen, 10) - start)
            gerai.pump(0)
            pace.wait(GAP)
        busy_cpu = (_cpu(proc) - cpu0) / (time.monotonic() - t0) * 100
        last_call = ids[-1][-4:]
        return {"phones": PHONES, "calls": tickets, **{f"call_to_phone_{k}": v for k, v in ms(lat).items()},
                "console_cpu_pct": round(busy_cpu, 2), "console_rss_mb": round(proc.memory_info().rss / 2**20, 1),
                "last_called": last_call, "note": "raw SSE clients stand in for the phones' browsers"}
    finally:
        for p in phones:
            p.close()
        for c in (kiosk, gerai):
            if c is not None:
                c.close()
        console.stop()
        central.stop()
        broker.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="antre-bench-ticket-"))
    result = ticket_page_part(sys.argv[1] if len(sys.argv) > 1 else "mosquitto", work)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
