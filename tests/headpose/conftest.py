"""Fixtures for the runtime tests: a tiny but valid headpose ONNX model built with onnx.helper
(no exporter, no torch), and real images from ../shared."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _unshadow_headpose() -> None:
    """This folder is called ``headpose`` and has no ``__init__.py``; once pytest puts ``tests/``
    on ``sys.path`` it can be imported as a namespace package ``headpose`` in place of the real
    one (an editable install's finder comes after the path finder). A regular package anywhere on
    ``sys.path`` wins over a namespace one, so put the repository root on it; if the shadow was
    imported already, drop it (and shadowed subpackages) and keep the real modules loaded."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    mod = sys.modules.get("headpose")
    if mod is None or getattr(mod, "__file__", None) is not None:
        return
    for name in [n for n in sys.modules if n == "headpose" or n.startswith("headpose.")]:
        if getattr(sys.modules[name], "__file__", None) is None:  # a namespace shadow
            del sys.modules[name]
    import headpose as real

    for name, sub in list(sys.modules.items()):
        if name.startswith("headpose.") and name.count(".") == 1:
            setattr(real, name.split(".", 1)[1], sub)


_unshadow_headpose()

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from headpose.metadata import METADATA_KEY, ModelMetadata  # noqa: E402

TINY_SIZE = 32


class SpySession:
    """Test double: wraps an onnxruntime session, counts ``run()`` calls and their batch sizes
    (``batches``), and passes everything else through."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.batches: list[int] = []

    def run(self, names: Any, feeds: dict[str, Any]) -> Any:
        self.batches.append(int(next(iter(feeds.values())).shape[0]))
        return self._session.run(names, feeds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@pytest.fixture
def spy_session() -> type[SpySession]:
    """The :class:`SpySession` class: ``spy = spy_session(model.session)``."""
    return SpySession


def build_tiny_model(
    path: Path,
    angles: tuple[str, ...] = ("yaw", "pitch", "roll"),
    input_size: tuple[int, int] = (TINY_SIZE, TINY_SIZE),
    batch: int | str = "N",
    outputs: tuple[str, ...] = ("angles", "spread"),
    metadata: ModelMetadata | None | bool = True,
) -> Path:
    """Write a small ONNX with the headpose contract: input "image" (N, 3, H, W) ->
    ReduceMean over H, W -> MatMul (3, A) + bias -> "angles" (N, A) degrees;
    "spread" = 2 + 0.05 * |angles|. The angles depend on the image colours, so different crops
    give different answers."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    h, w = input_size
    a = len(angles)
    weight = np.array([[20.0, -5.0, 3.0], [-10.0, 15.0, -4.0], [8.0, 6.0, 12.0]], np.float32)[:, :a]
    bias = np.array([1.0, -2.0, 0.5], np.float32)[:a]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "W"], ["lin"]),
        helper.make_node("Add", ["lin", "b"], [outputs[0]]),
        helper.make_node("Abs", [outputs[0]], ["absval"]),
        helper.make_node("Mul", ["absval", "k"], ["scaled"]),
        helper.make_node("Add", ["scaled", "two"], [outputs[1]]),
    ]
    inits = [
        numpy_helper.from_array(weight, "W"),
        numpy_helper.from_array(bias, "b"),
        numpy_helper.from_array(np.array(0.05, np.float32), "k"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_headpose",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, h, w])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [batch, a]) for n in outputs],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is True:
        metadata = ModelMetadata(
            input_size=input_size, angles=angles, backbone="tiny-test", license="MIT"
        )
    if metadata:
        helper.set_model_props(model, {METADATA_KEY: metadata.to_json()})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def make_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``make_model(name, **options)`` -> path of a tiny headpose ONNX (see
    :func:`build_tiny_model`)."""
    root = tmp_path_factory.mktemp("models")

    def make(name: str = "tiny.onnx", **options: object) -> Path:
        return build_tiny_model(root / name, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def tiny_model(make_model: Callable[..., Path]) -> Path:
    """A tiny valid yaw+pitch+roll headpose model with a 32x32 input."""
    return make_model("tiny.onnx")


@pytest.fixture(scope="session")
def pose_photos(shared_dir: Path) -> list[Path]:
    """The 15 grey 640x480 pose photos (pose_{left,right,up,down,mid}_N.jpg)."""
    files = sorted((shared_dir / "data" / "pose-photos").glob("*.jpg"))
    if not files:
        pytest.skip("no pose photos in ../shared")
    return files


@pytest.fixture(scope="session")
def aflw_crops(crops_dir: Path) -> list[Path]:
    """A handful of AFLW2000 384x384 colour crops."""
    files = sorted((crops_dir / "images").glob("*.jpg"))[:4]
    if not files:
        pytest.skip("no AFLW2000 crops in ../shared")
    return files


@pytest.fixture(scope="session")
def crop_bgr(aflw_crops: list[Path]) -> np.ndarray:
    """One real 384x384 BGR face crop."""
    import cv2

    return cv2.imread(str(aflw_crops[0]), cv2.IMREAD_COLOR)


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory, pose_photos: list[Path]) -> Path:
    """A 6-frame 320x240 MJPG .avi made from pose photos."""
    import cv2

    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV cannot write MJPG video")
    for p in pose_photos[:6]:
        writer.write(cv2.resize(cv2.imread(str(p)), (320, 240)))
    writer.release()
    return path


@pytest.fixture(scope="session")
def shipped_estimator():
    """Estimator() with the model shipped in the package and the default detector; skips while
    headpose/models/headpose_default.onnx is not there yet."""
    from headpose.errors import InvalidModelError
    from headpose.estimator import Estimator, default_model_path

    try:
        default_model_path()
    except InvalidModelError:
        pytest.skip("the default model headpose/models/headpose_default.onnx is not built yet")
    return Estimator()
