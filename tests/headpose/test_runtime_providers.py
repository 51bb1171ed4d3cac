"""onnxruntime import guard and provider choice."""

from __future__ import annotations

import sys

import pytest

from headpose import runtime
from headpose.errors import InvalidInputError, MissingDependencyError


@pytest.fixture
def no_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_ort", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail


@pytest.mark.parametrize("gpu", [False, True])
def test_missing_onnxruntime_names_exactly_one_extra(
    no_onnxruntime: None, monkeypatch: pytest.MonkeyPatch, gpu: bool
) -> None:
    monkeypatch.setattr(runtime, "_gpu_wanted", lambda: gpu)
    with pytest.raises(MissingDependencyError) as info:
        runtime.import_onnxruntime()
    msg = str(info.value)
    wanted, other = (
        ('"headpose-hmtl[gpu]"', '"headpose-hmtl[cpu]"')
        if gpu
        else ('"headpose-hmtl[cpu]"', '"headpose-hmtl[gpu]"')
    )
    assert f"pip install {wanted}" in msg
    assert other not in msg


def test_missing_onnxruntime_is_an_import_error(no_onnxruntime: None) -> None:
    with pytest.raises(ImportError):
        runtime.choose_providers()


GPU_BUILD = [
    "AzureExecutionProvider",
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
]


def test_default_providers_are_cuda_then_cpu_never_tensorrt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ort = runtime.import_onnxruntime()
    assert runtime.choose_providers()[-1] == "CPUExecutionProvider"
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    assert runtime.choose_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert runtime.choose_providers() == ["CPUExecutionProvider"]


def test_tensorrt_is_opt_in_with_caches_fp16_and_a_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    ort = runtime.import_onnxruntime()
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setenv("HEADPOSE_TRT_CACHE", str(tmp_path / "trt"))
    chosen = runtime.choose_providers("tensorrt", input_shape=("image", (3, 224, 224)))
    assert [runtime._provider_name(p) for p in chosen] == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",  # for the nodes TensorRT does not take
    ]
    options = chosen[0][1]
    assert options["trt_engine_cache_enable"] is True
    assert options["trt_timing_cache_enable"] is True
    assert options["trt_fp16_enable"] is True
    assert (
        options["trt_engine_cache_path"]
        == options["trt_timing_cache_path"]
        == str(tmp_path / "trt")
    )
    lo, opt, hi = runtime.TRT_BATCH
    assert options["trt_profile_min_shapes"] == f"image:{lo}x3x224x224"
    assert options["trt_profile_opt_shapes"] == f"image:{opt}x3x224x224"
    assert options["trt_profile_max_shapes"] == f"image:{hi}x3x224x224"
    # a user's own options pass through untouched
    own = ("TensorrtExecutionProvider", {"trt_fp16_enable": False})
    assert runtime.choose_providers([own, "cpu"]) == [own, "CPUExecutionProvider"]


class _FakeSession:
    """An InferenceSession whose GPU providers did not load (missing CUDA/cuDNN libraries)."""

    def __init__(self, model, sess_options=None, providers=None) -> None:
        self.requested = providers

    def get_providers(self) -> list[str]:
        return ["CPUExecutionProvider"]


def test_explicit_gpu_request_that_does_not_load_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tiny_model
) -> None:
    ort = runtime.import_onnxruntime()
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    with pytest.raises(MissingDependencyError) as info:
        runtime.create_session(str(tiny_model), providers="cuda")
    msg = str(info.value)
    assert "CUDAExecutionProvider" in msg and "cudnn" in msg and "CPUExecutionProvider" in msg
    from headpose.pose_model import PoseModel

    with pytest.raises(MissingDependencyError, match="CUDAExecutionProvider"):
        PoseModel(tiny_model, providers="cuda")


def test_automatic_choice_that_does_not_load_warns_once(
    monkeypatch: pytest.MonkeyPatch, tiny_model
) -> None:
    ort = runtime.import_onnxruntime()
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    monkeypatch.setattr(runtime, "_warned_fallback", False)
    with pytest.warns(RuntimeWarning, match="CUDAExecutionProvider.*could not load"):
        session = runtime.create_session(str(tiny_model))
    assert session.requested == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runtime.create_session(str(tiny_model))  # once per process


def test_pose_model_on_tensorrt_gets_its_profile_and_stays_inside_it(
    monkeypatch: pytest.MonkeyPatch, tiny_model, tmp_path
) -> None:
    """TensorRT emulated: the real CPU session runs, but reports the TensorRT provider."""
    import numpy as np

    ort = runtime.import_onnxruntime()
    real_session = ort.InferenceSession
    made: list[tuple[object, list]] = []
    batches: list[int] = []

    class Session:
        def __init__(self, model, sess_options=None, providers=None) -> None:
            self.inner = real_session(model, sess_options, providers=["CPUExecutionProvider"])
            self.names = [runtime._provider_name(p) for p in providers]
            made.append((model, providers))

        def get_providers(self) -> list[str]:
            return self.names

        def run(self, outputs, feeds):
            batches.append(len(next(iter(feeds.values()))))
            return self.inner.run(outputs, feeds)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(ort, "InferenceSession", Session)
    monkeypatch.setenv("HEADPOSE_TRT_CACHE", str(tmp_path / "cache"))
    from headpose.pose_model import PoseModel

    model = PoseModel(tiny_model, providers="tensorrt")
    assert model.providers[:2] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    options = made[-1][1][0][1]
    h, w = model.input_size
    hi = runtime.TRT_BATCH[2]
    assert options["trt_profile_max_shapes"] == f"{model.meta.input_name}:{hi}x3x{h}x{w}"
    assert (tmp_path / "cache").is_dir()
    crops = np.zeros((hi * 2 + 3, h, w, 3), np.uint8)
    angles, _ = model.predict_crops(crops)
    assert angles.shape[0] == hi * 2 + 3
    assert batches == [hi, hi, 3]  # never a batch outside the engine's profile


def test_explicit_providers_override_and_aliases() -> None:
    assert runtime.choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert runtime.choose_providers("cpu") == ["CPUExecutionProvider"]


def test_gpu_provider_on_the_cpu_build_names_the_gpu_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """providers="cuda" on a CPU install said only "not available" (issue 40); docs/USAGE.md
    promises the extra to install."""
    ort = runtime.import_onnxruntime()
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    for name in ("cuda", "tensorrt", ["CUDAExecutionProvider", "cpu"]):
        with pytest.raises(MissingDependencyError) as info:
            runtime.choose_providers(name)
        msg = str(info.value)
        assert "CPU build of onnxruntime" in msg and '"headpose-hmtl[gpu]"' in msg


def test_unavailable_provider_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="NoSuchExecutionProvider.*available"):
        runtime.choose_providers(["NoSuchExecutionProvider"])
    with pytest.raises(InvalidInputError, match="at least one"):
        runtime.choose_providers([])


def test_session_options_threads() -> None:
    opts = runtime.session_options(threads=1)
    assert opts.intra_op_num_threads == 1
    assert opts.inter_op_num_threads == 1
    with pytest.raises(InvalidInputError, match="threads"):
        runtime.session_options(threads=-2)


def test_default_threads_leave_cores_free_on_small_machines() -> None:
    from headpose.runtime import default_threads, session_options

    assert [default_threads(n) for n in (1, 2, 3, 4, 8, 64)] == [1, 1, 1, 2, 4, 4]
    assert session_options().intra_op_num_threads == default_threads()
    assert session_options(0).intra_op_num_threads == 0  # onnxruntime's own choice
