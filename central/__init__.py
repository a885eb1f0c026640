"""The central side of antre: the queue engine and its durable log.

:mod:`antre.central.engine` is pure logic (no MQTT, no pygame, no hardware);
:mod:`antre.central.config` reads the site file; :mod:`antre.central.store` is the
SQLite event log; :mod:`antre.central.service` applies wire commands exactly once.
"""
