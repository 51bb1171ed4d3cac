"""The contract between training and runtime: what an exported headpose ONNX model stores.

The exporter writes one ONNX ``metadata_props`` entry, key :data:`METADATA_KEY`, whose value is
the JSON of :class:`ModelMetadata`. The runtime reads it back with :func:`read_metadata`; nothing
about preprocessing, bins or angle order is hard-coded anywhere else.

Graph contract (``format_version`` 1):

* input ``input_name``: float32 ``(N, 3, H, W)``, colour order ``color_order``, pixel values
  scaled to [0, 1] then normalised per channel: ``(x / 255 - mean) / std``;
* output ``"angles"``: float32 ``(N, len(angles))`` in degrees, in the order of ``angles``;
* output ``"spread"`` (optional): float32 ``(N, len(angles))``, the standard deviation in
  degrees of the bin distribution of each angle (an uncertainty); peers made members
  (``headpose.export.peers``) have none.

A **pooled model** (``members`` non-empty) is a small graph that pools the outputs of its member
networks, ONNX files beside it, each with its own headpose metadata (input size, colour order,
normalisation, crop rule): inputs ``"member_angles"`` and ``"member_spread"``, float32
``(N, K, A)`` for K
members (a member without spread feeds zeros), outputs ``"angles"`` and ``"spread"`` as above.
The runtime crops each face once per member by that member's rule (:class:`headpose.pose_model.
PoseModel`). Written by ``python -m headpose.export.pool``.

Optional ``calibration`` (:class:`Calibration`, written by ``python -m headpose.export.calibrate``):
maps ``spread`` to the expected absolute error in degrees and a 90% interval. Models without it
(every model exported before it existed) load and behave exactly as before; its JSON key is
written only when present, so an uncalibrated model's metadata is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from headpose.errors import InvalidModelError

METADATA_KEY = "headpose"
FORMAT_VERSION = 1

ANGLE_CONVENTION = (
    "degrees; yaw>0: face turns toward the image's left (subject's right); pitch>0: looking up; "
    "roll>0: head tilts clockwise on screen (300W-LP/AFLW2000 Pose_Para, HopeNet, FSA-Net)"
)


#: ``CropRule.side``: the box length the crop side is ``scale`` times
CROP_SIDES = ("max", "mean")
#: ``CropRule.shift_of``: what ``shift_y`` is a fraction of
CROP_SHIFTS = ("height", "side")
#: ``CropRule.border``: pixels outside the image are edge copies, black, or cut off (the crop
#: is then the part inside the image, resized whole: its aspect ratio changes)
CROP_BORDERS = ("replicate", "zeros", "clip")


@dataclass(frozen=True)
class CropRule:
    """How a face box ``(x1, y1, x2, y2)`` becomes the model's input crop.

    The crop is a square of side ``scale * b``, where ``b`` is the box's longer side
    (``side="max"``) or the mean of its width and height (``side="mean"``), centred on the box
    centre moved down by ``shift_y`` times the box height (``shift_of="height"``) or times ``b``
    (``shift_of="side"``). Outside the image: ``border`` (:data:`CROP_BORDERS`). The defaults are
    the rule every headpose-trained model uses; peers keep their own (e.g. 3DDFA_V2:
    ``scale=1.58, shift_y=0.14, side="mean", shift_of="side", border="zeros"``).
    """

    scale: float = 1.5
    shift_y: float = 0.0
    side: str = "max"
    shift_of: str = "height"
    border: str = "replicate"


#: crop fields newer than format 1's first files: stored only when not their default, so the
#: metadata of every model exported before them reads back byte for byte
_CROP_OPTIONAL = {
    f.name: f.default for f in fields(CropRule) if f.name in ("side", "shift_of", "border")
}


@dataclass(frozen=True)
class Bins:
    """Angle bins of the classification heads: ``count`` bins of ``width`` degrees over
    ``[low, low + count * width)``."""

    width: float = 3.0
    count: int = 66
    low: float = -99.0

    @property
    def high(self) -> float:
        return self.low + self.count * self.width


@dataclass(frozen=True)
class Calibration:
    """Spread -> error in degrees, per angle (tuples in the order of ``ModelMetadata.angles``).

    For a face whose bin distribution has spread ``s`` (degrees) for angle ``a``:

    * expected absolute error ``E = intercept[a] + slope[a] * s`` degrees (``slope >= 0``, so
      a larger spread never means a smaller error; ``intercept >= 0``);
    * 90% interval half-width ``interval_factor[a] * E``: the true angle lies within
      ``prediction +- that`` for ``coverage`` (0.9) of the faces like those it was fitted on.

    ``method``: how it was fitted; ``data``: on what (free text); ``n``: faces per angle used.
    """

    intercept: tuple[float, ...]
    slope: tuple[float, ...]
    interval_factor: tuple[float, ...]
    coverage: float = 0.9
    method: str = "linear fit of mean |error| over spread bins"
    data: str = "unknown"
    n: tuple[int, ...] = ()

    def expected_error(self, spread: np.ndarray) -> np.ndarray:
        """Expected absolute error (degrees) for ``spread`` ``(N, A)`` degrees -> ``(N, A)``."""
        s = np.asarray(spread, dtype=np.float64)
        return np.asarray(self.intercept) + np.asarray(self.slope) * s

    def interval(self, spread: np.ndarray) -> np.ndarray:
        """Half-width (degrees) of the ``coverage`` interval for ``spread`` ``(N, A)`` -> ``(N, A)``."""
        half: np.ndarray = np.asarray(self.interval_factor) * self.expected_error(spread)
        return half

    def validate(self, n_angles: int, source: str = "<metadata>") -> None:
        """Raise :class:`InvalidModelError` if a field has the wrong length or range."""
        for name in ("intercept", "slope", "interval_factor"):
            values = getattr(self, name)
            if len(values) != n_angles or not all(np.isfinite(v) for v in values):
                raise InvalidModelError(
                    f"{source}: metadata field 'calibration.{name}': expected {n_angles} finite "
                    f"numbers (one per angle), got {values!r}"
                )
        if any(v < 0 for v in self.intercept) or any(v < 0 for v in self.slope):
            raise InvalidModelError(
                f"{source}: metadata field 'calibration': expected intercept >= 0 and slope >= 0, "
                f"got {self.intercept!r} and {self.slope!r}"
            )
        if any(v <= 0 for v in self.interval_factor):
            raise InvalidModelError(
                f"{source}: metadata field 'calibration.interval_factor': expected > 0, "
                f"got {self.interval_factor!r}"
            )
        if not 0.0 < self.coverage < 1.0:
            raise InvalidModelError(
                f"{source}: metadata field 'calibration.coverage': expected in (0, 1), "
                f"got {self.coverage!r}"
            )

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<metadata>") -> Calibration:
        """Parse the JSON object stored under ``calibration``."""
        if not isinstance(raw, dict):
            raise InvalidModelError(
                f"{source}: metadata field 'calibration': expected an object, got {raw!r}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidModelError(f"{source}: unknown calibration field(s) {unknown}")
        try:
            kwargs = dict(raw)
            for key in ("intercept", "slope", "interval_factor", "n"):
                if key in kwargs:
                    kwargs[key] = tuple(kwargs[key])
            return cls(**kwargs)
        except TypeError as exc:
            raise InvalidModelError(f"{source}: bad calibration metadata: {exc}") from exc


@dataclass(frozen=True)
class Member:
    """One network of a pooled model (:attr:`ModelMetadata.members`): an ONNX file beside the
    pool file, with its own headpose metadata (input rule, crop rule). ``sha256``: of the file,
    checked when the pool loads; ``name``, ``license``, ``train_data``: for the model card."""

    file: str
    sha256: str
    name: str = ""
    license: str = "unknown"
    train_data: str = "unknown"

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<metadata>") -> Member:
        """Parse one entry of the JSON list stored under ``members``."""
        if not isinstance(raw, dict):
            raise InvalidModelError(
                f"{source}: metadata field 'members': expected objects, got {raw!r}"
            )
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise InvalidModelError(f"{source}: unknown member field(s) {unknown}")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise InvalidModelError(f"{source}: bad member metadata: {exc}") from exc


@dataclass(frozen=True)
class ModelMetadata:
    """Everything the runtime needs to use an exported model."""

    input_size: tuple[int, int] = (224, 224)  # (height, width) in pixels
    input_name: str = "image"
    color_order: str = "RGB"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    angles: tuple[str, ...] = ("yaw", "pitch", "roll")
    bins: Bins = field(default_factory=Bins)
    crop: CropRule = field(default_factory=CropRule)
    angle_convention: str = ANGLE_CONVENTION
    backbone: str = "unknown"
    method: str = "unknown"
    train_data: str = "unknown"
    license: str = "unknown"
    headpose_version: str = "unknown"
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    calibration: Calibration | None = None
    #: a pooled model: its networks, files beside this one (the graph pools their outputs);
    #: empty for a single network
    members: tuple[Member, ...] = ()

    def to_json(self) -> str:
        """Serialise to the JSON string stored under :data:`METADATA_KEY` (``calibration`` only
        when set, so uncalibrated metadata reads exactly as before the field existed)."""
        raw = asdict(self)
        if raw["calibration"] is None:
            del raw["calibration"]
        if not raw["members"]:
            del raw["members"]
        for key, default in _CROP_OPTIONAL.items():  # written only when not the default
            if raw["crop"][key] == default:
                del raw["crop"][key]
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "<metadata>") -> ModelMetadata:
        """Parse and validate; raises :class:`InvalidModelError` naming ``source`` and the field."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidModelError(
                f"{source}: metadata '{METADATA_KEY}' is not JSON: {exc}"
            ) from exc
        if not isinstance(raw, dict):
            raise InvalidModelError(f"{source}: metadata '{METADATA_KEY}' must be a JSON object")
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise InvalidModelError(
                f"{source}: metadata format_version is {version!r}, this headpose reads {FORMAT_VERSION}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidModelError(f"{source}: unknown metadata field(s) {unknown}")
        try:
            kwargs = dict(raw)
            kwargs["bins"] = Bins(**raw.get("bins", {}))
            kwargs["crop"] = CropRule(**raw.get("crop", {}))
            if "members" in raw:
                if not isinstance(raw["members"], list):
                    raise InvalidModelError(
                        f"{source}: metadata field 'members': expected a list, "
                        f"got {raw['members']!r}"
                    )
                kwargs["members"] = tuple(Member.from_dict(m, source) for m in raw["members"])
            if raw.get("calibration") is not None:
                kwargs["calibration"] = Calibration.from_dict(raw["calibration"], source)
            for key in ("input_size", "mean", "std", "angles"):
                if key in kwargs:
                    kwargs[key] = tuple(kwargs[key])
            meta = cls(**kwargs)
        except TypeError as exc:
            raise InvalidModelError(f"{source}: bad metadata: {exc}") from exc
        meta.validate(source)
        return meta

    def validate(self, source: str = "<metadata>") -> None:
        """Raise :class:`InvalidModelError` if a field is out of range."""

        def bad(name: str, expected: str, got: Any) -> InvalidModelError:
            return InvalidModelError(
                f"{source}: metadata field '{name}': expected {expected}, got {got!r}"
            )

        if len(self.input_size) != 2 or any(int(v) <= 0 for v in self.input_size):
            raise bad("input_size", "two positive integers (height, width)", self.input_size)
        if self.color_order not in ("RGB", "BGR"):
            raise bad("color_order", "'RGB' or 'BGR'", self.color_order)
        if len(self.mean) != 3 or len(self.std) != 3 or any(s <= 0 for s in self.std):
            raise bad("mean/std", "three values each, std > 0", (self.mean, self.std))
        if not self.angles or not set(self.angles) <= {"yaw", "pitch", "roll"}:
            raise bad("angles", "a subset of ('yaw', 'pitch', 'roll')", self.angles)
        if self.bins.count <= 0 or self.bins.width <= 0:
            raise bad("bins", "count > 0 and width > 0", self.bins)
        if self.crop.scale <= 0:
            raise bad("crop.scale", "> 0", self.crop.scale)
        for name, allowed in (
            ("side", CROP_SIDES),
            ("shift_of", CROP_SHIFTS),
            ("border", CROP_BORDERS),
        ):
            if getattr(self.crop, name) not in allowed:
                raise bad(f"crop.{name}", f"one of {allowed}", getattr(self.crop, name))
        if self.calibration is not None:
            self.calibration.validate(len(self.angles), source)


def read_metadata(props: dict[str, str], source: str = "<model>") -> ModelMetadata:
    """Read :class:`ModelMetadata` from an ONNX model's ``metadata_props`` mapping."""
    if METADATA_KEY not in props:
        raise InvalidModelError(
            f"{source}: not a headpose model (no '{METADATA_KEY}' entry in the ONNX metadata; "
            "export one with headpose-export)"
        )
    return ModelMetadata.from_json(props[METADATA_KEY], source)
