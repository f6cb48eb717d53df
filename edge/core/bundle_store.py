"""The bundles a fleet device was rolled out, and which one it runs.

One folder per version under the store, and ``state.json``: the ``current`` version, the
``previous`` one (kept, to go back to), a ``trial`` while a new bundle has not yet proven
itself, and the versions that ``failed`` with their reasons (never installed again). No
``current``: the bundle the config names (the one the card came with). Every change is
written to a new file and renamed over the old, so a power cut leaves one state or the
other.

A trial counts its starts: the first start of a new bundle is expected; a second start
without the trial having been confirmed means the daemon crashed or was killed during it,
and :meth:`BundleStore.start` rolls back.
"""

import json
import os
import shutil
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from maskwatch.core.bundle import load_bundle
from maskwatch.core.errors import BundleError

STATE_FILE = "state.json"
TRIAL_STARTS = 1  # starts a trial may take; one more means it crashed or was killed


@dataclass
class StoreState:
    current: str | None = None
    previous: str | None = None
    trial: dict | None = None  # {"version", "previous", "starts"}
    failed: dict[str, str] = field(default_factory=dict)  # version -> why it was rolled back
    last_rollback: dict | None = None  # {"version", "reason"}: the newest, to report


class BundleStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = self._read()

    def _read(self) -> StoreState:
        path = self.root / STATE_FILE
        if not path.is_file():
            return StoreState()
        try:
            return StoreState(**json.loads(path.read_text()))
        except (ValueError, TypeError) as error:
            raise BundleError(f"{path}: unreadable ({error}); remove it to go back to the "
                              "bundle the config names") from None  # fmt: skip

    def _write(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f"{STATE_FILE}.new"
        temporary.write_text(json.dumps(asdict(self.state), indent=1))
        os.replace(temporary, self.root / STATE_FILE)

    def path(self, default: Path) -> Path:
        """The bundle to run: the current version's folder, else the config's bundle."""
        return self.root / self.state.current if self.state.current else default

    @property
    def in_trial(self) -> bool:
        return self.state.trial is not None

    def install(self, archive: Path, version: str) -> None:
        """Unpack a downloaded (already verified) archive as ``version`` and check it
        against its manifest; a bundle that fails is removed again."""
        if Path(version).name != version or version.startswith("."):
            raise BundleError(f"bundle version {version!r}: not a plain name")
        target, unpacking = self.root / version, self.root / f".{version}.unpacking"
        shutil.rmtree(unpacking, ignore_errors=True)
        unpacking.mkdir(parents=True)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(unpacking, filter="data")
            load_bundle(unpacking)
        except (tarfile.TarError, OSError, EOFError) as error:
            shutil.rmtree(unpacking, ignore_errors=True)
            raise BundleError(f"bundle {version}: not a readable .tar.gz ({error})") from None
        except BundleError:
            shutil.rmtree(unpacking, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        os.replace(unpacking, target)

    def begin_trial(self, version: str) -> None:
        """Switch to ``version`` on trial; the running one stays, to go back to."""
        self.state.trial = {"version": version, "previous": self.state.current, "starts": 0}
        self.state.current = version
        self._write()

    def start(self) -> None:
        """Count one start of a trial; roll back a trial that started once already."""
        trial = self.state.trial
        if trial is None:
            return
        trial["starts"] += 1
        if trial["starts"] > TRIAL_STARTS:
            self.roll_back("the daemon crashed or was stopped during the trial")
        else:
            self._write()

    def confirm(self) -> str:
        """The trial passed: keep it, and keep only it and the one before."""
        trial, self.state.trial = self.state.trial, None
        self.state.previous, self.state.last_rollback = trial["previous"], None
        self._write()
        keep = {self.state.current, self.state.previous}
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
        return trial["version"]

    def roll_back(self, reason: str) -> None:
        """Back to the bundle that ran before the trial; the trial's version is not tried again."""
        trial, self.state.trial = self.state.trial, None
        self.state.failed[trial["version"]] = reason
        self.state.last_rollback = {"version": trial["version"], "reason": reason}
        self.state.current = trial["previous"]
        self._write()
