"""One frame's pixels to labelled faces: motion, where to look (regions), face detectors
(plugins), the TFLite classifier and its runtime, and the pipeline that joins them.

May import: ``maskwatch.core``. Training and conversion use this part to evaluate
exactly what the device runs.
"""
