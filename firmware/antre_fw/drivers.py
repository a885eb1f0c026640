"""Display drivers for MicroPython boards: TM1637 (4 digits), MAX7219 (8 digits), SSD1306 (framebuf).

Each has ``show(text)``.  They take machine objects (Pin, SPI, I2C) from the caller.
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
    """Four-digit TM1637 module on two GPIO pins (CLK, DIO), bit-banged."""

    def __init__(self, clk, dio, brightness=7, delay_us=None):
        self.clk, self.dio = clk, dio
        self.brightness = brightness & 7
        self.clk.init(clk.OUT, value=0)
        self.dio.init(dio.OUT, value=0)

    def _start(self):
        self.dio(0)
        self.clk(0)

    def _stop(self):
        self.dio(0)
        self.clk(1)
        self.dio(1)

    def _write(self, byte):
        for _ in range(8):
            self.dio((byte >> _) & 1)
            self.clk(1)
            self.clk(0)
        self.clk(1)  # ack clock
        self.clk(0)

    def show(self, text):
        data = [_tm1637_order(b) for b in segments.encode(text, 4)]
        self._start()
        self._write(0x40)  # auto-increment
        self._stop()
        self._start()
        self._write(0xC0)  # address 0
        for b in data:
            self._write(b)
        self._stop()
        self._start()
        self._write(0x88 | self.brightness)  # display on
        self._stop()


class MAX7219:
    """Eight-digit MAX7219 seven-segment module on SPI (no-decode mode)."""

    def __init__(self, spi, cs, digits=8):
        self.spi, self.cs, self.digits = spi, cs, digits
        self.cs.init(cs.OUT, value=1)
        for reg, value in ((0x0C, 1), (0x09, 0), (0x0A, 8), (0x0B, digits - 1), (0x0F, 0)):
            self._reg(reg, value)

    def _reg(self, reg, value):
        self.cs(0)
        self.spi.write(bytes((reg, value)))
        self.cs(1)

    def show(self, text):
        data = segments.encode(text, self.digits)
        for i, b in enumerate(reversed(data)):
            self._reg(i + 1, b)


class SSD1306Text:
    """An SSD1306 128x64 OLED via framebuf: the ticket number large (scaled 8x8 font) and a status line."""

    def __init__(self, i2c, addr=0x3C, width=128, height=64):
        import framebuf

        self.i2c, self.addr, self.width, self.height = i2c, addr, width, height
        self.buffer = bytearray(width * height // 8)
        self.fb = framebuf.FrameBuffer(self.buffer, width, height, framebuf.MONO_VLSB)
        self.glyph = bytearray(8)
        self.small = framebuf.FrameBuffer(self.glyph, 8, 8, framebuf.MONO_VLSB)
        for cmd in (0xAE, 0x20, 0x00, 0x40, 0xA1, 0xC8, 0xDA, 0x12, 0x81, 0xCF, 0xD9, 0xF1, 0xDB, 0x40,
                    0xA4, 0xA6, 0x8D, 0x14, 0xAF):
            self.i2c.writeto(self.addr, bytes((0x80, cmd)))

    def show(self, text):
        self.fb.fill(0)
        scale = 4
        x = max(0, (self.width - len(text) * 8 * scale) // 2)
        for ch in text[: self.width // (8 * scale)]:
            self.small.fill(0)
            self.small.text(ch, 0, 0, 1)
            for gy in range(8):
                for gx in range(8):
                    if self.small.pixel(gx, gy):
                        self.fb.fill_rect(x + gx * scale, 16 + gy * scale, scale, scale, 1)
            x += 8 * scale
        for cmd in (0x21, 0, self.width - 1, 0x22, 0, self.height // 8 - 1):
            self.i2c.writeto(self.addr, bytes((0x80, cmd)))
        self.i2c.writeto(self.addr, b"\x40" + self.buffer)
