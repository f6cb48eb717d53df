"""Errors a user can act on. Each carries one line naming what is wrong and what to do."""

from pathlib import Path
from typing import TextIO

# sysexits.h EX_CONFIG: systemd's RestartPreventExitStatus=78 stops restart loops on it.
EXIT_CONFIG = 78
EXIT_FAILURE = 1


class MaskwatchError(Exception):
    """An error reported to the user as a single line, then exit with ``exit_code``."""

    exit_code = EXIT_FAILURE


class ConfigError(MaskwatchError):
    """The configuration file or an override is wrong."""

    exit_code = EXIT_CONFIG


class BundleError(MaskwatchError):
    """The model bundle is missing, corrupted or does not match its manifest."""

    exit_code = EXIT_CONFIG


class ImageError(MaskwatchError):
    """An input image cannot be read or decoded."""


class SourceError(MaskwatchError):
    """A frame source (folder, video file, camera) cannot be opened."""


def open_output(option: str, path: Path) -> TextIO:
    """``path`` opened for writing, or one line naming the option and why it cannot be."""
    try:
        return path.open("w")
    except OSError as error:
        raise MaskwatchError(f"{option} {path}: cannot write it ({error.strerror})") from None
