"""Pooled models: peers made members, one network cut out of an ensemble, the pool file, and the
runtime running each member on its own crop (python -m headpose.export.pool)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from headpose import Estimator
from headpose.errors import InvalidInputError, InvalidModelError
from headpose.export.onnx_export import export_onnx
from headpose.export.peers import PEERS, peer_graph
from headpose.export.pool import build_pool, ensemble_member
from headpose.export.pool import main as pool_main
from headpose.pose_model import PoseModel
from headpose.runtime import import_onnxruntime

IMAGE = "image00002.jpg"
BOX = (120.0, 110.0, 260.0, 280.0)


@pytest.fixture(scope="module")
def peers_dir(shared_dir: Path) -> Path:
    return shared_dir / "peers"


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_member_matches_the_published_files(
    name: str, peers_dir: Path, crops_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.onnx"
    onnx.save(peer_graph(name, peers_dir), str(path))
    model = PoseModel(path)
    assert not model.has_spread and model.meta.crop == PEERS[name].crop
    image = cv2.imread(str(crops_dir / "images" / IMAGE))
    x = model.prepare([image])
    ort = import_onnxruntime()
    originals = [
        ort.InferenceSession(str(peers_dir / f), providers=["CPUExecutionProvider"])
        for f in PEERS[name].files
    ]
    expected = np.mean([s.run(None, {"input": x})[0] for s in originals], axis=0)
    angles, spread = model.predict_crops([image])
    np.testing.assert_allclose(angles, expected, atol=1e-4)
    assert np.isnan(spread).all()
    assert -40 < angles[0, 0] < 40  # a near-frontal face (label yaw 1.0)


def test_one_network_of_an_ensemble_is_its_plain_view(
    tiny_checkpoint: Path, second_checkpoint: Path, crops_dir: Path, tmp_path: Path
) -> None:
    both = export_onnx(
        [tiny_checkpoint, second_checkpoint],
        tmp_path / "both.onnx",
        verify_images=crops_dir / "images",
        flip_average=True,
    )
    images = [cv2.imread(str(p)) for p in sorted((crops_dir / "images").iterdir())[:3]]
    views = []
    for i in (0, 1):
        onnx.save(ensemble_member(both.path, i), str(tmp_path / f"net{i}.onnx"))
        net = PoseModel(tmp_path / f"net{i}.onnx")
        assert "flip_average" not in net.meta.extra and net.meta.extra["source"] == f"both.onnx#{i}"
        plain = net.predict_crops(images)[0]
        mirrored = net.predict_crops([im[:, ::-1] for im in images])[0] * [-1, 1, -1]
        views += [plain, mirrored]
    angles = PoseModel(both.path).predict_crops(images)[0]
    np.testing.assert_allclose(np.mean(views, axis=0), angles, atol=1e-3)
    with pytest.raises(InvalidInputError, match=r"holds 2 network"):
        ensemble_member(both.path, 2)


def test_pool_runs_each_member_on_its_own_crop(
    exported, peers_dir: Path, crops_dir: Path, tmp_path: Path
) -> None:
    out = build_pool(
        [f"net={exported.path}", "peer:shaw-b66", "peer:3ddfa-v2-mb05"],
        tmp_path / "pool.onnx",
        weights=[2.0, 1.0, 1.0],
        spread_weight=0.25,
        peers_dir=peers_dir,
    )
    pool = PoseModel(out)
    assert [m.file for m in pool.meta.members] == [
        "pool.net.onnx",
        "pool.shaw-b66.onnx",
        "pool.3ddfa-v2-mb05.onnx",
    ]
    image = cv2.imread(str(crops_dir / "images" / IMAGE))
    parts = [m.predict_boxes(image, [BOX]) for m in pool.members]
    crops = {m.meta.crop for m in pool.members}
    assert len(crops) == 3  # three different crop rules
    w = np.array([0.5, 0.25, 0.25])[:, None]
    a = np.stack([p[0][0] for p in parts])
    s = np.nan_to_num(np.stack([p[1][0] for p in parts]))
    mean = (w * a).sum(axis=0)
    spread = np.sqrt((w * (0.25 * s**2 + (a - mean) ** 2)).sum(axis=0))
    got_a, got_s = pool.predict_boxes(image, [BOX])
    np.testing.assert_allclose(got_a[0], mean, atol=1e-3)
    np.testing.assert_allclose(got_s[0], spread, atol=1e-3)
    # the pool's answer from answers its members already gave (bench/intervals.py): the same
    pooled_a, pooled_s = pool.pool_answers(parts)
    np.testing.assert_allclose(pooled_a, got_a, atol=1e-6)
    np.testing.assert_allclose(pooled_s, got_s, atol=1e-6)
    # the Estimator runs the same path (its own detector box)
    faces = Estimator(model=out).predict(image)
    assert len(faces) == 1 and np.isfinite(faces[0].angles).all()
    # nothing is overwritten: the pool and its member files
    with pytest.raises(InvalidInputError, match="already exists"):
        build_pool([str(exported.path), "peer:shaw-b66"], out, peers_dir=peers_dir)


def test_pool_checks_its_member_files(exported, peers_dir: Path, tmp_path: Path) -> None:
    out = build_pool(
        [str(exported.path), "peer:shaw-b66"], tmp_path / "p.onnx", peers_dir=peers_dir
    )
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(out, moved / out.name)
    with pytest.raises(InvalidModelError, match=r"member file 'p.tiny.onnx' .* is missing"):
        PoseModel(moved / out.name)
    shutil.copy(tmp_path / "p.shaw-b66.onnx", moved / "p.tiny.onnx")  # a different file
    with pytest.raises(InvalidModelError, match=r"p.tiny.onnx: member of .* has sha256"):
        PoseModel(moved / out.name)


def test_pool_cli_errors_are_one_line(exported, peers_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "q.onnx"
    assert pool_main([str(exported.path), "peer:nope", "-o", str(out)]) == 2
    assert "peer:nope: unknown peer" in capsys.readouterr().err
    args = [str(exported.path), "peer:fsanet", "-o", str(out), "--peers-dir", str(peers_dir)]
    assert pool_main([*args, "--weights", "1"]) == 2
    assert "expected 2 numbers" in capsys.readouterr().err
    assert not out.exists()
    assert pool_main(args) == 0
    assert "2 members" in capsys.readouterr().out


def test_a_metadata_copy_of_a_pool_takes_its_members_along(
    exported, peers_dir: Path, tmp_path: Path
) -> None:
    from headpose.export.set_video import set_video

    out = build_pool(
        [str(exported.path), "peer:shaw-b66"], tmp_path / "p.onnx", peers_dir=peers_dir
    )
    other = tmp_path / "other"
    other.mkdir()
    copy = set_video(out, other / "p2.onnx", {"detect_every": 2})
    assert PoseModel(copy).meta.extra["video"] == {"detect_every": 2}
    assert sorted(f.name for f in other.iterdir()) == ["p.shaw-b66.onnx", "p.tiny.onnx", "p2.onnx"]
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "p.tiny.onnx").write_bytes(b"not the member")
    with pytest.raises(InvalidInputError, match="a different file has the name of a member"):
        set_video(out, clash / "p3.onnx", {})
    assert not (clash / "p3.onnx").exists()


def test_two_members_never_share_a_file(exported, peers_dir: Path, tmp_path: Path) -> None:
    entries = [f"a={exported.path}", "a=peer:shaw-b66"]
    with pytest.raises(InvalidInputError, match="two members would share this file"):
        build_pool(entries, tmp_path / "p.onnx", peers_dir=peers_dir, overwrite=True)
    assert list(tmp_path.iterdir()) == []
