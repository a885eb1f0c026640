"""Seven-segment patterns (MAX7219 no-decode order: DP A B C D E F G), letters legible on 7 segments.

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
    "X": F | B | G | E | C, "Y": F | G | B | C | D, "Z": A | B | G | E | D,
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


def display_text(ticket, waiting, status, digits, online):
    if not online:
        return "OFF"
    if status == "paused":
        return "----"
    number = ticket or "----"
    if digits >= 8:
        w = str(min(waiting, 9999))
        return number + " " * (8 - len(number) - len(w)) + w
    return number
