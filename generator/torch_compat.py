"""Import before torchvision/transformers/diffusers: the registry's torchvision 0.28.0 is a CUDA build
whose C++ ops are missing against the CPU torch, so `import torchvision` fails on `torchvision::nms`.
Defining the two op schemas lets transforms and models import (the C++ ops themselves stay unavailable).

The same shim as safety/torch_compat.py, on purpose: the domain packages never import one another (the
import-linter contracts in pyproject.toml), the top-level packages are fixed, so a workaround this small is
kept by each package that loads torchvision. tests/test_layering.py checks the two copies' code stays identical.
"""

from __future__ import annotations

import contextlib
import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

OPS = ("torchvision::nms", "torchvision::qnms")

for _name in OPS:
    with contextlib.suppress(RuntimeError):  # already defined: a real CPU build, or imported twice
        torch.library.define(_name, "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
