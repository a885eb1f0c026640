"""Display drivers for MicroPython boards: TM1637 (4 or 6 digits), MAX7219 (8 digits), SSD1306 (OLED).

Each has ``show(text)`` and ``digits`` (what layout the node gives it: 4 = the
number only, 8 = the number and the waiting count).  They take machine objects
(Pin, SPI, I2C) from the caller, and ``sleep_us`` where timing matters, so
tests can drive them with recording fakes.
"""

from antre_fw import segments


def _tm1637_order(byte):
    # segments.py is MAX7219 order (DP A B C D E F G, bit 7..0); TM1637 wants (DP G F E D C B A)
    out = 0
    for i in range(7):  # A..G
        if byte & (0x40 >> i):
            out |= 1 << i
    if byte & 0x80:
        out |= 0x80
    return out


class TM1637:
    """A TM1637 module (4 digits, or 6) on two GPIO pins, bit-banged as its datasheet says.

    * DIO is an open-drain line (the chip pulls it low to acknowledge): the pin is
      ``OPEN_DRAIN`` with its pull-up, so writing 1 *releases* the line and the
      node can never drive it against the chip.  CLK is a plain output.
    * Idle bus: CLK and DIO high.  Start: DIO falls while CLK is high; stop: DIO
      rises while CLK is high.  Bits go LSB first, DIO changing only while CLK is
      low; every level is held ``delay_us`` (the chip wants <= 250 kHz; 10 us
      gives about 50 kHz, and long wires with weak pull-ups stay readable).
    * ACK: after the 8th bit the chip pulls DIO low for the 9th clock; the driver
      releases DIO, clocks once and reads it: a missing ACK (a loose wire, no
      module) is counted in ``nacks``, which the node reports in its health.
    """

    def __init__(self, clk, dio, brightness=7, delay_us=10, digits=4, sleep_us=None):
        if sleep_us is None:
            import time

            sleep_us = time.sleep_us  # type: ignore[attr-defined]
        self.clk, self.dio = clk, dio
        self.delay_us = delay_us
        self.sleep_us = sleep_us
        self.brightness = brightness & 7
        self.digits = digits
        self.nacks = 0
        self.clk.init(clk.OUT, value=1)
        self.dio.init(dio.OPEN_DRAIN, dio.PULL_UP, value=1)
        self.sleep_us(delay_us)

    def _start(self):
        # from idle (CLK high, DIO high): DIO falls while CLK is high
        self.dio(0)
        self.sleep_us(self.delay_us)
        self.clk(0)
        self.sleep_us(self.delay_us)

    def _stop(self):
        # CLK is low after a byte: DIO low, CLK high, then DIO rises while CLK is high
        self.dio(0)
        self.sleep_us(self.delay_us)
        self.clk(1)
        self.sleep_us(self.delay_us)
        self.dio(1)
        self.sleep_us(self.delay_us)

    def _write(self, byte):
        d = self.delay_us
        for i in range(8):
            self.dio((byte >> i) & 1)  # CLK is low: DIO may change
            self.sleep_us(d)
            self.clk(1)  # the chip samples on the rising edge
            self.sleep_us(d)
            self.clk(0)
            self.sleep_us(d)
        self.dio(1)  # release DIO: the chip pulls it low to acknowledge
        self.sleep_us(d)
        self.clk(1)
        self.sleep_us(d)
        if self.dio.value() != 0:
            self.nacks += 1
        self.clk(0)
        self.sleep_us(d)

    def show(self, text):
        data = segments.encode(text, self.digits)
        self._start()
        self._write(0x40)  # data command: write, auto-increment address
        self._stop()
        self._start()
        self._write(0xC0)  # address 0: the leftmost digit
        for b in data:
            self._write(_tm1637_order(b))
        self._stop()
        self._start()
        self._write(0x88 | self.brightness)  # display on
        self._stop()


class MAX7219:
    """An 8-digit MAX7219 seven-segment module on SPI (no-decode mode), set up as the Pi's
    luma.led_matrix driver does: display test off, decode off, scan limit, intensity,
    every digit cleared, and only then shutdown off, so it never shows power-on garbage."""

    SHUTDOWN, DECODE, INTENSITY, SCAN_LIMIT, DISPLAY_TEST = 0x0C, 0x09, 0x0A, 0x0B, 0x0F

    def __init__(self, spi, cs, digits=8, intensity=7):
        self.spi, self.cs, self.digits = spi, cs, digits
        self.buf = bytearray(2)
        self.cs.init(cs.OUT, value=1)
        for reg, value in ((self.DISPLAY_TEST, 0), (self.SHUTDOWN, 0), (self.DECODE, 0),
                           (self.SCAN_LIMIT, digits - 1), (self.INTENSITY, intensity & 15)):
            self._reg(reg, value)
        for digit in range(1, 9):
            self._reg(digit, 0)
        self._reg(self.SHUTDOWN, 1)

    def _reg(self, reg, value):
        self.buf[0] = reg
        self.buf[1] = value
        self.cs(0)
        self.spi.write(self.buf)
        self.cs(1)

    def show(self, text):
        data = segments.encode(text, self.digits)
        n = len(data)
        for i in range(n):  # digit register 1 is the rightmost digit
            self._reg(i + 1, data[n - 1 - i])


class SSD1306Text:
    """An SSD1306 OLED (128x64, I2C) showing the whole number as large as it fits, and the
    waiting count small below it.

    ``show(text)`` takes the node's 8-column layout (``"AB012  7"``: the number,
    two or more spaces, the waiting count) or a short code (``"E5"``).  The number
    is drawn from the built-in 8x8 font scaled to fit the width (4x for up to 4
    characters, 3x for 5: ``AB012``, 2x up to 8), never cut.  Nothing is allocated
    per refresh: one frame buffer with the I2C data prefix in front (sent in one
    transfer), one text line buffer, one command buffer, all made once here.
    """

    def __init__(self, i2c, addr=0x3C, width=128, height=64, external_vcc=False):
        import framebuf

        self.i2c, self.addr, self.width, self.height = i2c, addr, width, height
        self.digits = 8
        self.data = bytearray(1 + width * height // 8)
        self.data[0] = 0x40  # I2C control byte: what follows is display data
        self.fb = framebuf.FrameBuffer(memoryview(self.data)[1:], width, height, framebuf.MONO_VLSB)
        self.line_buf = bytearray(width)  # one 8-pixel line of text, width/8 characters
        self.line = framebuf.FrameBuffer(self.line_buf, width, 8, framebuf.MONO_VLSB)
        self.cmd_buf = bytearray(2)
        self.cmd_buf[0] = 0x80  # I2C control byte: one command byte follows
        self.window = (0x21, 0, width - 1, 0x22, 0, height // 8 - 1)  # the whole screen, made once
        for c in (0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, height - 1, 0xC8, 0xD3, 0x00,
                  0xDA, 0x02 if width > 2 * height else 0x12, 0xD5, 0x80, 0xD9, 0x22 if external_vcc else 0xF1,
                  0xDB, 0x30, 0x81, 0xFF, 0xA4, 0xA6, 0x8D, 0x10 if external_vcc else 0x14, 0xAF):
            self._cmd(c)

    def _cmd(self, c):
        self.cmd_buf[1] = c
        self.i2c.writeto(self.addr, self.cmd_buf)

    def _blit(self, first, last, x0, y0, scale):
        """Draw characters ``first``..``last - 1`` of the text line at (x0, y0), ``scale`` times."""
        line, fb = self.line, self.fb
        for x in range(first * 8, last * 8):
            for y in range(8):
                if line.pixel(x, y):
                    fb.fill_rect(x0 + (x - first * 8) * scale, y0 + y * scale, scale, scale, 1)

    def show(self, text):
        n = len(text)
        end = text.find("  ")  # the number ends where two spaces start
        if end < 0:
            end = n
        start = end
        while start < n and text.startswith(" ", start):
            start += 1
        self.line.fill(0)
        self.line.text(text, 0, 0, 1)
        self.fb.fill(0)
        cells = max(1, min(end, self.width // 8))
        scale = max(1, min(4, self.width // (cells * 8), (self.height - 12) // 8))
        x0 = (self.width - cells * 8 * scale) // 2
        self._blit(0, cells, x0, 2, scale)
        if start < n:  # the waiting count, 2x, bottom right
            rest = min(n, self.width // 8) - start
            if rest > 0:
                self._blit(start, start + rest, self.width - rest * 16, self.height - 16, 2)
        for c in self.window:
            self._cmd(c)
        self.i2c.writeto(self.addr, self.data)
