"""Errors a user can act on. Each carries one line naming what is wrong and what to do."""

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
