"""Device drivers (buttons, number displays, ESC/POS printers) and their mocks.

Not built yet: see the issue "Gerai edge agent and the hardware layer".
"""
