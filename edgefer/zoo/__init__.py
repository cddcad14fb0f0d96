"""The papers' model zoo, in plain PyTorch. See `registry` for the API."""

from edgefer.zoo.registry import (
    FER7_CLASSES,
    ModelEntry,
    Preprocessing,
    create_model,
    get_entry,
    list_models,
    register_model,
)

__all__ = [
    "FER7_CLASSES",
    "ModelEntry",
    "Preprocessing",
    "create_model",
    "get_entry",
    "list_models",
    "register_model",
]
