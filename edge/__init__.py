"""maskwatch on the device: detect faces, classify mask / no mask, publish events.

This package depends only on numpy, OpenCV and a TFLite runtime. It holds the code
that training and the device must share (labels, face crop, pre-processing, bundle
format), so that what the model saw in training is exactly what it sees on the Pi.
"""
