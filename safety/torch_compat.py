"""Import before torchvision/transformers/open_clip: the registry's torchvision 0.28.0 is a CUDA build
whose C++ ops are missing against the CPU torch, so `import torchvision` fails on `torchvision::nms`.
Defining the two op schemas lets transforms and models import (the C++ ops themselves stay unavailable).
"""

from __future__ import annotations

import contextlib
import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

for _name in ("torchvision::nms", "torchvision::qnms"):
    with contextlib.suppress(RuntimeError):  # already defined: a real CPU build, or imported twice
        torch.library.define(_name, "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
