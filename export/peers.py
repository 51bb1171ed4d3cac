"""Public pose networks made pool members: each peer's ONNX file(s) copied with headpose metadata
that states its input rule (size, colour order, normalisation, crop from the detector box).

The three peers (all MIT, trained on 300W-LP; their files and licences are in ``../shared/peers``)
and their rules, as their authors' code prepares a face:

* ``fsanet``: FSA-Net (Yang et al., CVPR 2019), the mean of its two published models (one graph
  here); BGR 64x64, ``(x - 127.5) / 128``; crop 1.5x the longer side of the box (the loose crops
  it was trained on; ``bench/accuracy.py`` has measured it with this rule since the start);
* ``shaw-b66``: Shaw-git/Lightweight-Head-Pose-Estimation, 66 bins decoded in the graph; RGB
  224x224, ImageNet mean/std; a square of 1.2x the longer side, same centre, cut off at the
  image border (its MTCNN script);
* ``3ddfa-v2-mb05``: 3DDFA_V2 ``mb05_120x120``; BGR 120x120, ``(x - 127.5) / 128``; its
  ``parse_roi_box_from_bbox``: side 1.58 x the mean of width and height, centre moved down 0.14
  x that mean, black outside the image.

None of them outputs a spread: in a pool they count through the members' disagreement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from headpose._version import __version__
from headpose.errors import InvalidInputError
from headpose.metadata import METADATA_KEY, CropRule, ModelMetadata

#: ``(x - 127.5) / 128`` in the contract's ``(x / 255 - mean) / std``
_HALF = (0.5, 0.5, 0.5)
_STD_128 = (128.0 / 255.0,) * 3


@dataclass(frozen=True)
class Peer:
    """A public network and its input rule: ``files`` (averaged when several, sharing input
    ``input``), ``output`` (its angles output, ``[yaw, pitch, roll]`` degrees)."""

    files: tuple[str, ...]
    output: str
    input_size: int
    color_order: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop: CropRule
    backbone: str
    method: str
    license: str
    train_data: str = "300W-LP (122k synthesized faces; research use)"


PEERS: dict[str, Peer] = {
    "fsanet": Peer(
        files=("fsanet-1x1-iter-688590.onnx", "fsanet-var-iter-688590.onnx"),
        output="output",
        input_size=64,
        color_order="BGR",
        mean=_HALF,
        std=_STD_128,
        crop=CropRule(scale=1.5),
        backbone="FSA-Net (2 models averaged)",
        method="peer: FSA-Net, Yang et al. CVPR 2019 (PyTorch re-implementation)",
        license="MIT (FSA-Net PyTorch re-implementation; fsanet.LICENSE)",
    ),
    "shaw-b66": Peer(
        files=("shaw-b66.onnx",),
        output="angles",
        input_size=224,
        color_order="RGB",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        crop=CropRule(scale=1.2, border="clip"),
        backbone="Shaw-git lightweight 66-bin network",
        method="peer: Shaw-git/Lightweight-Head-Pose-Estimation (commit aed1802)",
        license="MIT (Shaw-git/Lightweight-Head-Pose-Estimation; shaw-b66.LICENSE)",
    ),
    "3ddfa-v2-mb05": Peer(
        files=("3ddfa-v2-mb05.onnx",),
        output="angles",
        input_size=120,
        color_order="BGR",
        mean=_HALF,
        std=_STD_128,
        crop=CropRule(scale=1.58, shift_y=0.14, side="mean", shift_of="side", border="zeros"),
        backbone="3DDFA_V2 MobileNet x0.5 (3-D face model fit)",
        method="peer: 3DDFA_V2 mb05_120x120 (cleardusk/3DDFA_V2, commit 1b6c676)",
        license="MIT (cleardusk/3DDFA_V2; 3ddfa-v2.LICENSE)",
    ),
}


def peer_metadata(name: str) -> ModelMetadata:
    """The headpose metadata of peer ``name`` (:data:`PEERS`)."""
    peer = PEERS[name]
    return ModelMetadata(
        input_size=(peer.input_size, peer.input_size),
        input_name="input",
        color_order=peer.color_order,
        mean=peer.mean,
        std=peer.std,
        crop=peer.crop,
        backbone=peer.backbone,
        method=peer.method,
        train_data=peer.train_data,
        license=peer.license,
        headpose_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def peer_graph(name: str, peers_dir: str | Path) -> object:
    """The ONNX model of peer ``name`` from the files in ``peers_dir``: one input ``input``, one
    output ``angles`` (the mean of its files' outputs), with its headpose metadata."""
    import onnx  # onnx: optional, the [export] extra
    from onnx import compose, helper

    if name not in PEERS:
        raise InvalidInputError(
            f"peer: {name!r} is not a known peer; expected one of {sorted(PEERS)}"
        )
    peer = PEERS[name]
    paths = [Path(peers_dir) / f for f in peer.files]
    for path in paths:
        if not path.is_file():
            raise InvalidInputError(f"{path}: peer file not found (peer {name!r})")
    models = [onnx.load(str(p)) for p in paths]
    if len(models) == 1:
        model = models[0]
        for out in model.graph.output:
            if out.name == peer.output:
                for node in model.graph.node:
                    node.output[:] = ["angles" if o == peer.output else o for o in node.output]
                out.name = "angles"
    else:
        # one graph: every file's nodes under its own prefix, the shared input, the mean output
        parts = [compose.add_prefix(m, f"m{i}/") for i, m in enumerate(models)]
        graph = helper.make_graph(
            [],
            f"{name}-mean",
            [parts[0].graph.input[0]],
            [],
        )
        graph.input[0].name = "input"
        outputs = []
        for i, part in enumerate(parts):
            prefix = f"m{i}/"
            for node in part.graph.node:
                node.input[:] = ["input" if v == f"{prefix}input" else v for v in node.input]
            graph.node.extend(part.graph.node)
            graph.initializer.extend(part.graph.initializer)
            outputs.append(f"{prefix}{peer.output}")
        graph.node.extend(
            [
                helper.make_node("Sum", outputs, ["sum"]),
                helper.make_node(
                    "Mul",
                    ["sum", "inv_count"],
                    ["angles"],
                ),
            ]
        )
        graph.initializer.append(
            helper.make_tensor("inv_count", onnx.TensorProto.FLOAT, [], [1.0 / len(parts)])
        )
        out = onnx.ValueInfoProto()
        out.CopyFrom(parts[0].graph.output[0])
        out.name = "angles"
        graph.output.append(out)
        model = helper.make_model(
            graph, opset_imports=list(models[0].opset_import), ir_version=models[0].ir_version
        )
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, peer_metadata(name).to_json()
    onnx.checker.check_model(model)
    return model
