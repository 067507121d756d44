"""Moving a model call's inputs onto the device and its outputs off it, without waiting on either.

On a GPU, kernels run asynchronously: the host can prepare and launch the next model call, then
decode the last one, while the device computes. That only holds if nothing in between waits for
the device, so inputs go up from pinned memory and each call's outputs come back in one copy
into pinned memory, with an event to wait on only when the host needs them. On the CPU every
step here is a plain, synchronous no-op wrapper.

>>> out = HostCopy.of(torch.arange(6.0).reshape(2, 3))
>>> out.numpy().tolist()
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array on ``device``; to a GPU through pinned memory, so the copy does not block the host."""
    tensor = torch.from_numpy(array)
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


@dataclass
class HostCopy:
    """A device tensor's copy on the host, complete once :meth:`numpy` returns."""

    tensor: torch.Tensor
    event: Any = None

    @classmethod
    def of(cls, tensor: torch.Tensor) -> HostCopy:
        """Start copying ``tensor`` to the host (one transfer); returns at once on a GPU."""
        if tensor.device.type != "cuda":
            return cls(tensor.detach())
        host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        host.copy_(tensor.detach(), non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return cls(host, event)

    def numpy(self) -> np.ndarray:
        """The values, waiting for the copy if it is still under way."""
        if self.event is not None:
            self.event.synchronize()
            self.event = None
        return self.tensor.numpy()
