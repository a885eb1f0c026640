"""Fake of MicroPython's machine module (written into the MicroPython filesystem by the tests)."""


class Pin:
    IN, OUT, OPEN_DRAIN, PULL_UP, IRQ_FALLING, IRQ_RISING = 0, 1, 2, 1, 2, 1

    def __init__(self, number, mode=0, pull=None, value=1):
        self.number = number
        self.level = 1 if value is None else value
        self.mode = mode
        self.handler = None
        self.hard = False

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.level = value

    def irq(self, handler=None, trigger=3, hard=False):
        self.handler = handler
        self.hard = hard

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def __call__(self, v=None):
        return self.value(v)

    def drive(self, level):
        self.level = level
        if self.handler is not None:
            self.handler(self)


class WDT:
    def __init__(self, timeout=8000):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def unique_id():
    return b"\xde\xad\xbe\xef\x01\x02"
