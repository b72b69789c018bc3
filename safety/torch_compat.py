"""Import before torchvision/transformers/open_clip: the registry's torchvision 0.28.0 is a CUDA build
whose C++ ops are missing against the CPU torch, so `import torchvision` fails on `torchvision::nms`.
Defining the two op schemas lets transforms and models import (the C++ ops themselves stay unavailable).
"""

from __future__ import annotations

import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

for _schema in (
    "torchvision::nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "torchvision::qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
):
    try:
        torch.library.define(_schema.split("(")[0], "(" + _schema.split("(", 1)[1])
    except RuntimeError:
        pass  # already defined (real CPU build, or imported twice)
