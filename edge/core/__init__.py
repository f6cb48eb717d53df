"""What every part of maskwatch and training share, with no maskwatch imports but its own.

Labels and the mask operating point, the face crop and pre-processing (what the model
saw in training is exactly what it sees on the Pi), the bundle format and its checks,
the typed configuration, clocks, errors a user can act on, box matching, image files and
stage timing. May import: nothing else of maskwatch.
"""
