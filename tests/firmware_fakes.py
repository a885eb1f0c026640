"""Fakes of MicroPython's machine and network for running the firmware's main loop under CPython,
and a umqtt.simple-compatible client over paho (a real MQTT connection)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class FakePin:
    OUT, IN, PULL_UP = 1, 0, 1

    def __init__(self, level: int = 1, irq_lock: Any = None) -> None:
        self.level = level
        self.handler: Callable[[FakePin], None] | None = None
        self.irq_lock = irq_lock  # held while interrupts are disabled

    def irq(self, handler: Callable[[FakePin], None], trigger: int = 3) -> None:
        self.handler = handler

    def value(self) -> int:
        return self.level

    def drive(self, level: int) -> None:
        """Change the level and run the interrupt handler (never while interrupts are disabled)."""
        self.level = level
        if self.handler is not None:
            if self.irq_lock is not None:
                with self.irq_lock:
                    self.handler(self)
            else:
                self.handler(self)


class FakeWLAN:
    def __init__(self) -> None:
        self.connected = False

    def active(self, on: bool) -> None:
        pass

    def connect(self, ssid: str, password: str) -> None:
        self.connected = True

    def isconnected(self) -> bool:
        return self.connected


class FakeWDT:
    def __init__(self) -> None:
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


class FakeDisplay:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def show(self, text: str) -> None:
        self.shown.append(text)


class PahoUmqtt:
    """umqtt.simple.MQTTClient's interface (connect, publish, subscribe, check_msg ...) over paho."""

    def __init__(self, client_id: str, server: str, port: int, user: str, password: str) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.c.username_pw_set(user, password)
        self.server, self.port = server, port
        self.cb: Callable[[bytes, bytes], None] | None = None
        self.inbox: list[tuple[bytes, bytes]] = []
        self.c.on_message = lambda client, userdata, msg: self.inbox.append((msg.topic.encode(), bytes(msg.payload)))
        self.c.on_socket_open = lambda client, userdata, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def set_last_will(self, topic: str, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        self.c.will_set(topic, msg, qos=qos, retain=retain)

    def set_callback(self, f: Callable[[bytes, bytes], None]) -> None:
        self.cb = f

    def connect(self) -> None:
        try:
            self.c.connect(self.server, self.port, keepalive=30)
        except (OSError, ConnectionError) as exc:
            raise OSError(str(exc)) from None
        for _ in range(100):
            if self.c.is_connected():
                return
            self._loop(0.02)
        raise OSError("no CONNACK")

    def _loop(self, timeout: float) -> None:
        if self.c.loop(timeout=timeout) != mqtt.MQTT_ERR_SUCCESS:
            raise OSError("connection lost")

    def subscribe(self, topic: str, qos: int = 0) -> None:
        self.c.subscribe(topic, qos)

    def publish(self, topic: str, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        if not self.c.is_connected():
            raise OSError("not connected")
        self.c.publish(topic, msg, qos=qos, retain=retain)

    def check_msg(self) -> None:
        self._loop(0.01)
        inbox, self.inbox = self.inbox, []
        for topic, payload in inbox:
            if self.cb is not None:
                self.cb(topic, payload)

    def disconnect(self) -> None:
        self.c.disconnect()


def umqtt_factory(client_id: str, host: str, port: int, user: str, password: str) -> Any:
    return PahoUmqtt(client_id, host, port, user, password)
