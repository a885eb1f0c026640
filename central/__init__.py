"""The central side of antre: the queue engine and its durable log.

:mod:`central.engine` is pure logic (no MQTT, no pygame, no hardware);
:mod:`central.config` reads the site file; :mod:`central.store` is the
SQLite event log; :mod:`central.service` applies wire commands exactly once.
"""
