"""Board entry point (MicroPython): read config.json, build the hardware, run the node forever.

A missing or invalid config shows E1 on the display and waits for the technician
instead of crash-looping.  The loop feeds the hardware watchdog only when a pass
completed; a pass that raises is reported on the console and the loop goes on;
if passes keep failing, nothing feeds the watchdog and it resets the board."""

import gc
import os
import sys
import time

import machine
import network
from umqtt.simple import MQTTClient

from antre_fw import drivers, node

WATCHDOG_MS = 8000


def build_display(cfg):
    d = cfg.get("display", {}) if isinstance(cfg, dict) else {}
    kind = d.get("type", "tm1637")
    esp32 = sys.platform == "esp32"
    if kind == "max7219":
        spi = machine.SPI(d.get("spi", 2 if esp32 else 0), baudrate=1000000, polarity=0, phase=0)
        return drivers.MAX7219(spi, machine.Pin(d.get("cs", 5)), d.get("digits", 8))
    if kind == "ssd1306":
        i2c = machine.I2C(d.get("i2c", 0), scl=machine.Pin(d.get("scl", 22 if esp32 else 5)),
                          sda=machine.Pin(d.get("sda", 21 if esp32 else 4)), freq=400000)
        return drivers.SSD1306Text(i2c, d.get("addr", 0x3C))
    return drivers.TM1637(machine.Pin(d.get("clk", 25 if esp32 else 2)), machine.Pin(d.get("dio", 26 if esp32 else 3)),
                          digits=d.get("digits", 4))


def reset_cause():
    names = {}
    for name, word in (("PWRON_RESET", "power_on"), ("HARD_RESET", "hard"), ("WDT_RESET", "watchdog"),
                       ("DEEPSLEEP_RESET", "deepsleep"), ("SOFT_RESET", "soft")):
        if hasattr(machine, name):
            names[getattr(machine, name)] = word
    return names.get(machine.reset_cause(), "unknown")


def wifi_codes():
    """wlan.status() values that are failures, as the node's error codes (they differ per port)."""
    codes = {}
    for name, code in (("STAT_NO_AP_FOUND", node.ERR_WIFI), ("STAT_CONNECT_FAIL", node.ERR_WIFI),
                       ("STAT_ASSOC_FAIL", node.ERR_WIFI), ("STAT_BEACON_TIMEOUT", node.ERR_WIFI),
                       ("STAT_HANDSHAKE_TIMEOUT", node.ERR_WIFI_AUTH), ("STAT_WRONG_PASSWORD", node.ERR_WIFI_AUTH)):
        if hasattr(network, name):
            codes[getattr(network, name)] = code
    if sys.platform == "rp2":
        codes[2] = node.ERR_NO_IP  # CYW43_LINK_NOIP: joined, no address yet (an error only after the timeout)
    return codes


def main():
    try:
        with open("config.json") as f:
            text = f.read()
    except OSError:
        text = ""
    cfg, problems = node.load_config(text)
    display = build_display(cfg)
    if cfg is None:
        print("antre: bad config:", problems)
        display.show(node.ERR_CONFIG)
        while True:
            time.sleep(5)  # no watchdog here: wait for the technician, do not reboot in a loop

    def mqtt_factory(client_id, host, port, user, password, keepalive):
        return MQTTClient(client_id, host, port, user, password, keepalive=keepalive)

    pins = []
    for b in cfg["buttons"]:
        pins.append((machine.Pin(b["pin"], machine.Pin.IN, machine.Pin.PULL_UP), b))
    wlan = network.WLAN(network.STA_IF)
    platform = node.Platform(time.ticks_ms, os.urandom, time.ticks_diff, time.ticks_add, machine.unique_id(),
                             machine.WDT(timeout=WATCHDOG_MS), reset_cause(), gc.mem_free, wifi_codes())
    n = node.Node(cfg, wlan, mqtt_factory, display, pins, platform)
    print("antre: gerai", cfg["gerai"], "reset cause", platform.reset_cause)
    while True:
        try:
            n.step()  # feeds the watchdog when the pass completed
        except Exception as exc:  # a bug: report it and close the link; passes that keep
            getattr(sys, "print_exception", print)(exc)  # failing never feed the watchdog, which resets the board
            n.recover(exc)
        time.sleep_ms(10)


main()
