"""The gerai edge agent (runs on each gerai's Raspberry Pi).

Not built yet: see the issue "Gerai edge agent and the hardware layer".  It
will depend on :mod:`broker` (the wire contract) and :mod:`hardware`, never on
:mod:`central`.
"""
