"""The running device: the daemon and its frame loop's supervision, frame sources
(picamera2, OpenCV capture, video, folders), the ``maskwatch`` CLI, ``replay``, the
status page, ``maskwatch check`` and systemd's notify protocol.

May import: every part below it (``publish``, ``tracking``, ``vision``, ``core``).
"""
