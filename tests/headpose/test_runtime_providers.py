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
        ('"headpose[gpu]"', '"headpose[cpu]"') if gpu else ('"headpose[cpu]"', '"headpose[gpu]"')
    )
    assert f"pip install {wanted}" in msg
    assert other not in msg


def test_missing_onnxruntime_is_an_import_error(no_onnxruntime: None) -> None:
    with pytest.raises(ImportError):
        runtime.choose_providers()


def test_default_providers_end_with_cpu_and_keep_gpu_order(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = runtime.import_onnxruntime()
    assert runtime.choose_providers()[-1] == "CPUExecutionProvider"
    fake = [
        "AzureExecutionProvider",
        "CUDAExecutionProvider",
        "TensorrtExecutionProvider",
        "CPUExecutionProvider",
    ]
    monkeypatch.setattr(ort, "get_available_providers", lambda: fake)
    assert runtime.choose_providers() == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert runtime.choose_providers() == ["CPUExecutionProvider"]


def test_explicit_providers_override_and_aliases() -> None:
    assert runtime.choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert runtime.choose_providers("cpu") == ["CPUExecutionProvider"]


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
