"""An IP camera on loopback: an HTTP MJPEG stream (multipart/x-mixed-replace) that a
test can freeze, as a hung camera does: the connection stays open, no frame comes."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "maskwatchframe"


def face_scene(face) -> bytes:  # noqa: ANN001  (maskwatch.train.datasets.FaceSample)
    """The face with its surroundings (twice its size each way), as a doorway camera sees
    it, as JPEG bytes 320 px wide."""
    image = cv2.imread(str(face.image))
    x1, y1, x2, y2 = face.box
    w, h = x2 - x1, y2 - y1
    crop = image[max(0, y1 - h) : y2 + h, max(0, x1 - w) : x2 + w]
    frame = cv2.resize(crop, (320, 320 * crop.shape[0] // crop.shape[1]))
    return cv2.imencode(".jpg", frame)[1].tobytes()


def empty_scene() -> bytes:
    """A doorway with nobody in it."""
    return cv2.imencode(".jpg", np.full((240, 320, 3), 127, np.uint8))[1].tobytes()


class MjpegCamera:
    def __init__(self, jpeg: bytes, fps: float = 10.0) -> None:
        self.jpeg = jpeg
        self.streaming = threading.Event()
        self.streaming.set()
        self._closed = threading.Event()
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                try:
                    while not camera._closed.is_set():
                        if camera.streaming.is_set():
                            self.wfile.write(
                                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                f"Content-Length: {len(camera.jpeg)}\r\n\r\n".encode()
                                + camera.jpeg
                                + b"\r\n"
                            )
                            self.wfile.flush()
                        time.sleep(1.0 / fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpg"

    def show(self, jpeg: bytes) -> None:
        """What the camera sees from the next frame on."""
        self.jpeg = jpeg

    def freeze(self) -> None:
        """The camera hangs: the stream stays open and sends nothing."""
        self.streaming.clear()

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
