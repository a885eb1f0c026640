"""The gerai edge agent (runs on each gerai's Raspberry Pi): ``antre edge``.

:mod:`edge.config` reads the device file, :mod:`edge.setup` builds the hardware
(real drivers or library mocks), :mod:`edge.agent` speaks MQTT.  It depends on
:mod:`broker` (the wire contract) and :mod:`hardware`, never on :mod:`central`.
"""
