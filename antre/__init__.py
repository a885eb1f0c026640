"""antre: the queue controller for the gerai of Indonesian public service malls.

One namespace.  The repository keeps one folder per role, as the design card
has it (``broker/``, ``central/``, ``edge/``, ``hardware/``, ``lobby/``, ``console/``,
``firmware/``, ``examples/``); each is the subpackage of the same name here
(``antre/broker`` is a symlink to ``../broker``).  So Python, mypy, pyright and
setuptools all see one ordinary package tree, ``antre.broker``,
``antre.central``, ..., with no import hooks, and a wheel installs only
``antre``.  Nothing may import the bare folder names (a test checks).
This package itself is the command line (:mod:`antre.cli`) and the laptop
demo (:mod:`antre.demo`); the firmware and the example sites ship as data.
"""

from pathlib import Path

__version__ = "0.1.0"

#: the example site files shipped with antre (MPP Kota Kupang)
EXAMPLES = Path(__file__).resolve().parent / "examples"
EXAMPLE_SITE = EXAMPLES / "kupang.toml"
