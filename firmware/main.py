"""Board entry point (MicroPython): read config.json, build the hardware, run the node forever.

A missing or invalid config shows an error code on the display (E1) and waits for
the technician instead of crash-looping."""

import time

import machine
import network
from umqtt.simple import MQTTClient

from antre_fw import drivers, node


def build_display(cfg):
    d = cfg.get("display", {}) if isinstance(cfg, dict) else {}
    kind = d.get("type", "tm1637")
    if kind == "max7219":
        spi = machine.SPI(d.get("spi", 0), baudrate=1000000)
        return drivers.MAX7219(spi, machine.Pin(d.get("cs", 5)), d.get("digits", 8))
    if kind == "ssd1306":
        i2c = machine.I2C(d.get("i2c", 0), scl=machine.Pin(d.get("scl", 5)), sda=machine.Pin(d.get("sda", 4)))
        return drivers.SSD1306Text(i2c, d.get("addr", 0x3C))
    return drivers.TM1637(machine.Pin(d.get("clk", 2)), machine.Pin(d.get("dio", 3)))


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

    def mqtt_factory(client_id, host, port, user, password):
        return MQTTClient(client_id, host, port, user, password, keepalive=30)

    buttons = [(machine.Pin(b["pin"], machine.Pin.IN, machine.Pin.PULL_UP), b) for b in cfg["buttons"]]
    wlan = network.WLAN(network.STA_IF)
    wdt = machine.WDT(timeout=8000)
    n = node.Node(cfg, wlan, mqtt_factory, display, buttons, time.ticks_ms, wdt,
                  random=lambda: (time.ticks_diff(time.ticks_us(), 0) % 1000) / 1000,
                  disable_irq=machine.disable_irq, enable_irq=machine.enable_irq)
    while True:
        n.step()
        time.sleep_ms(10)


main()
