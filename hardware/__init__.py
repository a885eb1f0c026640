"""Device drivers and their mocks: call buttons (gpiozero), number displays (luma),
ESC/POS ticket printers (pyserial), and the gesture logic they share.
"""
