"""The gerai edge agent (runs on each gerai's Raspberry Pi): ``antre edge``.

:mod:`antre.edge.config` reads the device file, :mod:`antre.edge.setup` builds the hardware
(real drivers or library mocks), :mod:`antre.edge.agent` speaks MQTT.  It depends on
:mod:`antre.broker` (the wire contract) and :mod:`antre.hardware`, never on :mod:`antre.central`.
"""
