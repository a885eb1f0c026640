"""The lobby: Indonesian voice announcements and the lobby screens.

:mod:`antre.lobby.speech` is pure logic (numbers to words, clip lists and pauses);
:mod:`antre.lobby.room` is what one lobby serves and what its voice pack needs;
:mod:`antre.lobby.voicepack` builds, reads (libsndfile), resamples (libsoxr) and
loudness-matches clips; :mod:`antre.lobby.announcer` is the announcement queue
and its player; :mod:`antre.lobby.model` is one frame's data and
:mod:`antre.lobby.screen` draws it; pygame is imported only by the playback
and display modules.  A lobby is its own deployable: a
process on MQTT with its own identity; it shares only :mod:`antre.broker`
with the central (and reads the site file).
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
