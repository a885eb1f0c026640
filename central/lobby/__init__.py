"""The lobby: Indonesian voice announcements and the lobby screens.

:mod:`central.lobby.speech` is pure logic (numbers to words, clip lists);
:mod:`central.lobby.voicepack` builds and loads WAV clips; pygame is imported
only by the playback and display modules.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
