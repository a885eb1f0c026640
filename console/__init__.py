"""The operations console: a web application for an MPP's supervisors, staff and technicians.

``antre console run --config SITE.toml`` serves it (Starlette and Jinja2 under uvicorn, htmx
vendored in ``static/vendor``, pushed updates over server-sent events).  It reads the site live
from MQTT as ``console.<id>`` (retained gerai and service states, calls, presence, health, the
central's lease) and the day's figures from the central's event log, read-only; every action a
person takes there is one ``console_cmd`` to the central naming that person, so the central stays
the one writer of the queue and ``antre audit`` names who acted.

- :mod:`antre.console.accounts`: accounts (admin, supervisor, technician, staff bound to gerai),
  scrypt password hashes, the session key, alarm history, the access journal;
- :mod:`antre.console.live`: the live model and its alarms;
- :mod:`antre.console.history`: the day's figures from the event log;
- :mod:`antre.console.link`: the MQTT connection and the actions;
- :mod:`antre.console.forms`: bounded, strict form reading;
- :mod:`antre.console.web`: the pages, sessions, CSRF, rate limiting, SSE;
- :mod:`antre.console.main`: ``antre console run``.
"""
