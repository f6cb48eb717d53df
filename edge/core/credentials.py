"""Secrets (the broker's password, the status page's) from outside the configuration file,
and URLs with their secrets taken out before they are shown, logged or sent."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from maskwatch.core.errors import ConfigError


def read_secret(
    key: str, path: Path | None, credential: str, variable: str,
    environ: dict[str, str] | None = None,
) -> str | None:  # fmt: skip
    """The file at config key ``key`` (``path``), else the systemd credential ``credential``
    (``LoadCredential=``), else the environment variable ``variable``; an empty one counts
    as none. Never logged, never in the configuration."""
    environ = os.environ if environ is None else environ
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    candidates = [(key, path)]
    if credentials:
        candidates.append(("systemd credential", Path(credentials) / credential))
    for name, candidate in candidates:
        if candidate is None or (name != key and not candidate.is_file()):
            continue
        try:
            secret = candidate.read_text().rstrip("\r\n")
        except OSError as error:
            raise ConfigError(f"{name} {candidate}: cannot read it ({error.strerror})") from None
        if secret:  # the installer leaves empty files for "no password"
            return secret
    return environ.get(variable) or None


def redact_url(text: str) -> str:
    """``text`` as it may be shown or sent: a URL's user name and password (``user:pass@``)
    and its query's values (tokens) replaced by ``***``; anything else unchanged."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return "***"  # not even a URL: it may still hold a secret
    if not parts.scheme or not parts.netloc:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}=***" if sep else name
        for name, sep, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
