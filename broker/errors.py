"""One root for the errors antre reports to a person, each with the exit status of its kind.

Every deployable shares :mod:`antre.broker`, so the root lives here.  An error
that stops a command (a bad site file, a storage failure, a fenced central)
derives from :class:`AntreError`; the command line catches the root once,
prints ``antre: <what> error: <message>`` and exits with the error's
``exit_status``.  Anything else escaping a command is a bug and keeps its
traceback.

Exit statuses (sysexits.h where one fits; 3 and 4 are antre's own, documented
in README.md and PROTOCOL.md, and kept for the scripts and units that use them):

    0  success
    1  EX_FAILURE      the command ran and found a fault (a selftest fault, no such entry, ...)
    2  EX_USAGE        a command line that argparse (or antre, right after it) refused
    3  EX_STORAGE      the event log cannot be written or read (StorageError)
    4  EX_FENCED       another central owns the site (FencedError)
   69  EX_UNAVAILABLE  a program the command needs is not installed (espeak-ng, mpremote)
   78  EX_CONFIG       a configuration error: site file, device file, node file, credentials
                       file, or a command-line value found wrong only after parsing

A subclass sets its status and its name in the message either as class
attributes or, where a module may change nothing but its ``class`` line, as
class keywords::

    class StorageError(AntreError, RuntimeError, exit_status=EX_STORAGE, what="storage", detail="{cause.value}"):

``detail`` is formatted with the error's attributes and shown in parentheses:
``antre: storage error (disk_full): cannot write ...``.
"""

from __future__ import annotations

from typing import Any, ClassVar

EX_OK = 0
EX_FAILURE = 1
#: argparse's status for a command line it refuses (sysexits' EX_USAGE, 64, is not what argparse uses)
EX_USAGE = 2
#: the central's event log cannot be written or read
EX_STORAGE = 3
#: another central owns the site (the same value as antre.central.lease.EXIT_FENCED)
EX_FENCED = 4
#: sysexits.h EX_UNAVAILABLE: a required program or service is missing
EX_UNAVAILABLE = 69
#: sysexits.h EX_CONFIG: a configuration error
EX_CONFIG = 78


class AntreError(Exception):
    """An error a person must act on; stops the command with ``exit_status``."""

    #: the process exit status when this error stops a command
    exit_status: ClassVar[int] = EX_FAILURE
    #: what went wrong, as the command line names it: "antre: <what> error: ..."
    what: ClassVar[str] = "antre"
    #: optional detail after the name, formatted with the error's attributes, e.g. "{cause.value}"
    detail: ClassVar[str] = ""

    def __init_subclass__(cls, *, exit_status: int | None = None, what: str | None = None,
                          detail: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if exit_status is not None:
            cls.exit_status = exit_status
        if what is not None:
            cls.what = what
        if detail is not None:
            cls.detail = detail

    def label(self) -> str:
        """``<what> error`` or ``<what> error (<detail>)``."""
        detail = self.detail.format(**vars(self)) if self.detail else ""
        return f"{self.what} error ({detail})" if detail else f"{self.what} error"

    def report(self) -> str:
        """The one line the command line prints: ``antre: <what> error: <message>``."""
        return f"antre: {self.label()}: {self}"


class ConfigurationError(AntreError, exit_status=EX_CONFIG, what="config"):
    """A configuration that cannot work: a file, a credential, or a command-line value (exit 78)."""


class MissingToolError(AntreError, exit_status=EX_UNAVAILABLE, what="tool"):
    """A program the command needs is not installed (exit 69); the message says how to install it."""
