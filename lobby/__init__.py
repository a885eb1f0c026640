"""The lobby: Indonesian voice announcements and the lobby screens.

:mod:`antre.lobby.speech` is pure logic (numbers to words, clip lists);
:mod:`antre.lobby.voicepack` builds and loads WAV clips; pygame is imported
only by the playback and display modules.  A lobby is its own deployable: a
process on MQTT with its own identity; it shares only :mod:`antre.broker`
with the central (and reads the site file).
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
