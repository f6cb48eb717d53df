"""Keras to TFLite conversion and assembly of the model bundle deployed to the device."""
