"""The echo side of the floor measurement: republish every ping as a pong, in its own process.

    python -m bench.echo PORT USERNAME PASSWORD PING_TOPIC PONG_TOPIC
"""

from __future__ import annotations

import sys

from bench.clients import InlineClient


def main() -> int:
    port, username, password, ping, pong = sys.argv[1:6]
    client = InlineClient("127.0.0.1", int(port), username, password, [ping])
    client.on_message = lambda topic, payload: client.publish(pong, payload, qos=1)
    print("ready", flush=True)
    while True:
        client.pump(timeout=1.0)


if __name__ == "__main__":
    raise SystemExit(main())
