"""``python -m maskwatch.service.card_check CONFIG [WEB_PASSWORD_FILE]``: is this config
fit for a flash-and-go card (``systemd/sd-card.sh``)? One line and exit 78 when not.

The config is read as ``maskwatch run`` reads it; and a status page reachable off
loopback needs the password the card carries (``WEB_PASSWORD_FILE``, installed as the
systemd credential ``web_password``), since the device cannot read a file named on this
machine: without it the device would exit 78 at every boot and never start.
"""

import sys
from pathlib import Path

from maskwatch.core.config import Config, load_config
from maskwatch.core.errors import ConfigError, MaskwatchError


def check_web_password(config: Config, web_password_file: str) -> None:
    if not config.web.enabled or config.web.loopback:
        return
    if config.web.password_file is not None:
        raise ConfigError(
            f"config key web.password_file: {config.web.password_file} is a file on this "
            "machine, not on the card; leave it unset and give the password as "
            "WEB_PASSWORD_FILE=file: the card carries it"
        )
    if not web_password_file:
        raise ConfigError(
            f"config key web.listen: {config.web.listen} is reachable from the network, so "
            "the page needs a password: give it as WEB_PASSWORD_FILE=file (the card carries "
            "it), or listen on 127.0.0.1 and use ssh -L"
        )


def main(argv: list[str]) -> int:
    config_path, web_password_file = argv[0], (argv[1] if len(argv) > 1 else "")
    try:
        check_web_password(load_config(Path(config_path), environ={}), web_password_file)
    except MaskwatchError as error:
        print(f"sd-card: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
