"""Fake of MicroPython's network module."""

STA_IF = 0
STAT_IDLE, STAT_CONNECTING, STAT_WRONG_PASSWORD, STAT_NO_AP_FOUND, STAT_GOT_IP = 1000, 1001, 202, 201, 1010


class WLAN:
    def __init__(self, interface=0):
        self.up = False
        self.connect_calls = 0

    def active(self, on=None):
        return True

    def connect(self, ssid, password):
        self.connect_calls += 1
        self.up = True

    def disconnect(self):
        self.up = False

    def isconnected(self):
        return self.up

    def status(self, param=None):
        if param == "rssi":
            return -60
        return STAT_GOT_IP if self.up else STAT_IDLE
