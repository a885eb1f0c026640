"""Fake of MicroPython's network module."""

STA_IF = 0


class WLAN:
    def __init__(self, interface=0):
        self.up = False

    def active(self, on=None):
        return True

    def connect(self, ssid, password):
        self.up = True

    def isconnected(self):
        return self.up
