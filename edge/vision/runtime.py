"""Load a TFLite interpreter from whichever lite runtime is installed.

``ai-edge-litert`` (the successor, numpy 2) is preferred; ``tflite-runtime`` 2.14
(Python 3.11, numpy < 2, also 32-bit Arm) has the same ``Interpreter`` API.
"""

import importlib
from pathlib import Path
from typing import Any

from maskwatch.core.errors import BundleError, MaskwatchError

RUNTIME_MODULES: dict[str, str] = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
}


def interpreter_class(runtime: str = "auto") -> tuple[str, Any]:
    """The runtime's name and its ``Interpreter`` class."""
    if runtime != "auto" and runtime not in RUNTIME_MODULES:
        known = ", ".join(["auto", *RUNTIME_MODULES])
        raise MaskwatchError(f"unknown TFLite runtime {runtime!r}; choose one of {known}")
    names = list(RUNTIME_MODULES) if runtime == "auto" else [runtime]
    for name in names:
        try:
            return name, importlib.import_module(RUNTIME_MODULES[name]).Interpreter
        except ImportError:
            continue
    raise MaskwatchError(
        f"no TFLite runtime found (tried {', '.join(names)}); "
        "install ai-edge-litert, or tflite-runtime==2.14.0 with numpy<2"
    )


def load_interpreter(model: Path, threads: int = 1, runtime: str = "auto") -> Any:
    """An allocated interpreter for ``model``; a broken file raises a one-line error."""
    _, interpreter_cls = interpreter_class(runtime)
    try:
        interpreter = interpreter_cls(model_path=str(model), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise BundleError(f"{model}: not a loadable TFLite model ({first_line})") from None
    return interpreter
