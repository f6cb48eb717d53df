import pytest

from maskwatch.core.errors import MaskwatchError
from maskwatch.vision.runtime import RUNTIME_MODULES, interpreter_class


def test_runtime_auto_finds_an_installed_runtime():
    name, interpreter = interpreter_class("auto")
    assert name in ("ai-edge-litert", "tflite-runtime") and callable(interpreter)


def test_an_unknown_runtime_is_refused():
    with pytest.raises(MaskwatchError, match="unknown TFLite runtime 'tensorflow'"):
        interpreter_class("tensorflow")


def test_a_missing_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setitem(RUNTIME_MODULES, "tflite-runtime", "no_such_runtime.interpreter")
    with pytest.raises(MaskwatchError, match="install ai-edge-litert, or tflite-runtime"):
        interpreter_class("tflite-runtime")
