"""Obtaining the detector at set-up: local folder first, else a download; sha256 always."""

import dataclasses
import functools
import http.server
import shutil
import threading

import pytest

from maskwatch.convert.detector_files import YUNET, FetchError, fetch
from maskwatch.core.bundle import sha256_file


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over a folder holding the real YuNet file."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def yunet(data_root):
    return data_root.parent / "models" / YUNET.name


def test_the_local_folder_is_used_first(yunet, tmp_path):
    dest = fetch(YUNET, yunet.parent, tmp_path / "bundle" / YUNET.name)
    assert sha256_file(dest) == YUNET.sha256


def test_a_download_is_verified(server, yunet, tmp_path):
    served, url = server
    shutil.copyfile(yunet, served / YUNET.name)
    remote = dataclasses.replace(YUNET, url=f"{url}/{YUNET.name}")
    dest = fetch(remote, tmp_path / "empty", tmp_path / "bundle" / YUNET.name)
    assert sha256_file(dest) == YUNET.sha256


def test_a_download_with_the_wrong_checksum_is_refused(server, yunet, tmp_path):
    served, url = server
    (served / YUNET.name).write_bytes(yunet.read_bytes()[:-10] + b"0123456789")
    remote = dataclasses.replace(YUNET, url=f"{url}/{YUNET.name}")
    dest = tmp_path / "bundle" / YUNET.name
    with pytest.raises(FetchError, match=f"{YUNET.name} from {url}.*does not match"):
        fetch(remote, None, dest)
    assert not dest.exists()


def test_a_failed_download_says_where_to_put_the_file(server, tmp_path):
    _, url = server
    remote = dataclasses.replace(YUNET, url=f"{url}/missing.onnx")
    with pytest.raises(FetchError, match="404.*put the file in a local model folder"):
        fetch(remote, tmp_path, tmp_path / "bundle" / YUNET.name)
