"""antre firmware for MicroPython gerai nodes (Raspberry Pi Pico W, ESP32).

The modules here are pure logic (no machine, network or umqtt imports), so
they run unchanged on MicroPython and CPython, and tests check both.
"""
