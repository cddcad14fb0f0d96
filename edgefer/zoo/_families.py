"""Imports every architecture family so their models register (one line per family)."""

import importlib

FAMILIES = (
    "edgefer.zoo.mobilenetv3",  # seed 000
    "edgefer.zoo.mobilenet_v1",  # seed 001
    "edgefer.zoo.convnext",  # seed 002
    "edgefer.zoo.densenet",  # seed 003
    "edgefer.zoo.vgg",  # seed 004
    "edgefer.zoo.resnet",  # seed 004
    "edgefer.zoo.inception",  # seed 004
)

for _name in FAMILIES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # family not written yet
        if exc.name != _name:
            raise
