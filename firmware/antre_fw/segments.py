"""Seven-segment patterns (MAX7219 no-decode order: DP A B C D E F G), letters legible on 7 segments
(no two letters alike: X is the Greek Xi, three bars, not an H).

Must stay equal to hardware/display.py's SEGMENTS (a test compares them)."""

A, B, C, D, E, F, G, DP = 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01, 0x80

SEGMENTS = {
    "0": A | B | C | D | E | F, "1": B | C, "2": A | B | G | E | D, "3": A | B | G | C | D,
    "4": F | G | B | C, "5": A | F | G | C | D, "6": A | F | G | E | D | C,
    "7": A | B | C, "8": 0x7F, "9": A | B | C | D | F | G, " ": 0, "-": G, "_": D,
    "A": A | B | C | E | F | G, "B": F | E | D | C | G, "C": A | F | E | D,
    "D": B | C | D | E | G, "E": A | F | G | E | D, "F": A | F | G | E,
    "G": A | F | E | D | C, "H": F | E | G | B | C, "I": E | F, "J": B | C | D | E,
    "K": F | E | G | C, "L": F | E | D, "M": A | E | C, "N": E | G | C, "O": C | D | E | G,
    "P": A | B | F | G | E, "Q": A | B | F | G | C, "R": E | G, "S": A | F | G | C | D,
    "T": F | E | D | G, "U": F | E | D | C | B, "V": E | D | C, "W": B | D | F,
    "X": A | G | D, "Y": F | G | B | C | D, "Z": A | B | G | E | D,
}


def encode(text, digits):
    """Segment bytes for ``digits`` positions, right-aligned; '.' lights the previous digit's point."""
    out = []
    for ch in text.upper():
        if ch == "." and out:
            out[-1] |= DP
        else:
            out.append(SEGMENTS.get(ch, D))
    out = out[-digits:]
    return [0] * (digits - len(out)) + out


def fit_number(ticket, digits, phase=0):
    """A ticket number on ``digits`` positions, never cut: as printed when it fits (A012);
    else with as few of the sequence's leading zeros dropped as needed (AB012 -> AB12 on 4
    digits); else the prefix and the sequence in turn, ``phase`` 0 and 1 (AB123 -> AB, 123)."""
    if len(ticket) <= digits:
        return ticket
    i = 0
    while i < len(ticket) and not ("0" <= ticket[i] <= "9"):
        i += 1
    prefix, seq = ticket[:i], ticket[i:]
    while len(prefix) + len(seq) > digits and len(seq) > 1 and seq[0] == "0":
        seq = seq[1:]
    if len(prefix) + len(seq) <= digits:
        return prefix + seq
    return prefix if phase % 2 == 0 else seq[-digits:]


def frames(ticket, digits):
    """2 when :func:`fit_number` shows the prefix and the sequence in turn, else 1."""
    if ticket is None or len(ticket) <= digits:
        return 1
    return 1 if fit_number(ticket, digits, 0) == fit_number(ticket, digits, 1) else 2


def display_text(ticket, waiting, status, digits, online, phase=0):
    """What the number display shows, in the Pi's words (its MAX7219, hardware.display):
    serving, the number; idle ``SIAP``; paused ``JEDA``; closed ``TUTUP`` (``TUTP`` on 4
    digits); offline ``OFF``; no state yet (``status`` None) ``----``.  On ``digits`` >= 8 the
    waiting count goes right of the number, ``SIAP`` or ``JEDA`` when it fits whole with a
    space between."""
    if not online:
        return "OFF"
    counted = True
    if status == "serving" and ticket is not None:
        head = fit_number(ticket, digits, phase)
    elif status == "paused":
        head = "JEDA"
    elif status == "closed":
        head, counted = ("TUTUP" if digits >= 5 else "TUTP"), False
    elif status is None:
        head, counted = "----", False
    else:  # idle (or serving with no number)
        head = "SIAP"
    if counted and digits >= 8:
        w = str(waiting)
        gap = digits - len(head) - len(w)
        if gap >= 1:
            return head + " " * gap + w
    return head
