"""headpose: where a head is pointing (yaw, pitch, roll in degrees) from images and video.

>>> from headpose import Estimator
>>> faces = Estimator().predict("photo.jpg")

The runtime needs only numpy, OpenCV and onnxruntime; it never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headpose._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from headpose.estimator import Estimator, Face

__all__ = ["Estimator", "Face", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Estimator", "Face"):
        from headpose import estimator  # import cost: `import headpose` stays cheap (no OpenCV)

        return getattr(estimator, name)
    raise AttributeError(f"module 'headpose' has no attribute {name!r}")
