"""maskwatch: face-mask detection on the edge.

The package's parts follow the frame's walk, and each imports only the parts below it
(``tests/test_architecture.py`` checks it; ``docs/architecture.md`` draws it):

- ``service``: the daemon, frame sources, the CLI, the status page, systemd glue;
- ``publish``: the durable event queue, MQTT, Home Assistant discovery;
- ``tracking``: the frame loop, people followed across frames, the classification
  schedule, the event payload;
- ``vision``: motion, regions, face detectors, the TFLite classifier, one frame's pipeline;
- ``core``: what every part and training share: labels, face crop and pre-processing,
  the bundle format, the typed configuration, clocks, errors, box matching.

``publish`` and ``tracking`` do not import each other. ``maskwatch.train`` and
``maskwatch.convert`` (the workstation's, from ``train/`` and ``convert/``) use ``core``
and ``vision`` only, so training evaluates exactly what the device runs. The device part
depends only on numpy, OpenCV and a TFLite runtime, never TensorFlow.
"""
