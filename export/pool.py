"""A pooled model: several pose networks, each with its own input and crop rule, one answer.

    python -m headpose.export.pool -o models/pool.onnx MEMBER [MEMBER ...] \\
        [--weights 1,1,1,1] [--spread-weight 0.25] [--peers-dir ../shared/peers]

``MEMBER`` is an exported headpose model (``model.onnx``), one network of a model that
``headpose-export`` made from several checkpoints, plain view (``model.onnx#1``: its second
network), or a public peer (``peer:fsanet``, ``peer:shaw-b66``, ``peer:3ddfa-v2-mb05``;
:mod:`headpose.export.peers`); ``LABEL=MEMBER`` names it. Each member is written beside the
output as ``<output stem>.<label>.onnx`` with its own headpose metadata; the output is a small
graph that
pools their outputs (the contract: :mod:`headpose.metadata`):

* angles: the weighted mean of the members' angles (weights normalised to sum 1);
* spread: ``sqrt(sum_k w_k (c * s_k^2 + (a_k - mean)^2))``, the spread of the weighted mixture of
  the members' bin distributions with their spreads ``s_k`` scaled by ``c`` (``--spread-weight``;
  a member without spread counts only through its disagreement ``a_k - mean``).

Calibrate the result like any model (``python -m headpose.export.calibrate``); its members stay
beside it. Nothing is overwritten without ``--overwrite``.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np

from headpose.cli.options import EXISTING_DIR, command, headpose_errors_as_usage
from headpose.cli.options import run as run_command
from headpose.errors import InvalidInputError, InvalidModelError
from headpose.files import check_output
from headpose.metadata import METADATA_KEY, Member, ModelMetadata, read_metadata
from headpose.pose_model import OUTPUT_NAMES, POOL_INPUTS, PoseModel, file_sha256

from .output_files import save_new_onnx
from .peers import PEERS, peer_graph

PROG = "python -m headpose.export.pool"


def read_onnx_metadata(model: object, source: str) -> ModelMetadata:
    """The headpose metadata of a loaded ONNX model."""
    props = {p.key: p.value for p in model.metadata_props}  # type: ignore[attr-defined]
    return read_metadata(props, source)


def _with_metadata(model: object, meta: ModelMetadata) -> object:
    props = model.metadata_props  # type: ignore[attr-defined]
    del props[:]
    entry = props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    return model


def ensemble_member(path: str | Path, index: int) -> object:
    """Network ``index`` of a model ``headpose-export`` made from several checkpoints, plain view
    only (no mirror pass), as a model of its own: the subgraph from the input to that network's
    decoded angles and spread, metadata describing that network."""
    import onnx  # onnx: optional, the [export] extra
    from onnx import utils

    path = Path(path)
    model = onnx.load(str(path))
    meta = read_onnx_metadata(model, str(path))
    networks = meta.extra.get("ensemble", [])
    if not 0 <= index < len(networks):
        raise InvalidInputError(
            f"{path}#{index}: the model holds {len(networks)} network(s) (extra.ensemble); "
            f"expected an index in 0..{len(networks) - 1}"
        )
    names = {o for n in model.graph.node for o in n.output}
    outs = [f"/members.{index}/MatMul_output_0", f"/members.{index}/Sqrt_output_0"]
    missing = [o for o in outs if o not in names]
    if missing:
        raise InvalidModelError(
            f"{path}: no tensor(s) {missing}: not a graph headpose-export wrote from several "
            "checkpoints"
        )
    sub = utils.Extractor(onnx.shape_inference.infer_shapes(model)).extract_model(
        [meta.input_name], outs
    )
    for value, inner, name in zip(sub.graph.output, outs, OUTPUT_NAMES, strict=True):
        sub.graph.node.append(onnx.helper.make_node("Identity", [inner], [name]))
        value.name = name
    net = networks[index]
    extra = {k: v for k, v in meta.extra.items() if k not in ("ensemble", "flip_average")}
    extra["source"] = f"{path.name}#{index}"
    one = dataclasses.replace(
        meta,
        method=str(net.get("method", meta.method)),
        backbone=str(net.get("backbone", meta.backbone)),
        extra=extra,
        calibration=None,
    )
    del sub.opset_import[:]
    sub.opset_import.extend(model.opset_import)
    sub.ir_version = model.ir_version
    return _with_metadata(sub, one)


_LABEL = re.compile(r"^([A-Za-z0-9_-]+)=(.+)$")


def member_model(entry: str, peers_dir: Path | None) -> tuple[str, object]:
    """``(label, ONNX model)`` of one ``MEMBER`` argument (see the module doc); ``LABEL=MEMBER``
    names the member file ``<output stem>.LABEL.onnx``."""
    import onnx  # onnx: optional, the [export] extra

    named = _LABEL.match(entry)
    if named:
        return named.group(1), member_model(named.group(2), peers_dir)[1]

    if entry.startswith("peer:"):
        name = entry[len("peer:") :]
        if name not in PEERS:
            raise InvalidInputError(f"{entry}: unknown peer; expected one of {sorted(PEERS)}")
        if peers_dir is None:
            raise InvalidInputError(f"{entry}: pass --peers-dir (the folder of the peers' files)")
        return name, peer_graph(name, peers_dir)
    file, _, index = entry.partition("#")
    if not Path(file).is_file():
        raise InvalidInputError(f"{file}: member model file not found")
    if index:
        if not index.isdigit():
            raise InvalidInputError(f"{entry}: expected FILE#INDEX with a whole number")
        return f"{Path(file).stem}-net{index}", ensemble_member(file, int(index))
    model = onnx.load(file)
    meta = read_onnx_metadata(model, file)
    if meta.members:
        raise InvalidInputError(f"{file}: is a pooled model; give its members instead")
    return Path(file).stem, model


def pool_graph(count: int, n_angles: int, weights: Sequence[float], spread_weight: float) -> object:
    """The pooling graph for ``count`` members: inputs ``angles``/``spread`` ``(N, K, A)``,
    outputs ``angles``/``spread`` ``(N, A)`` (formulas in the module doc)."""
    from onnx import TensorProto, helper, numpy_helper  # onnx: optional, the [export] extra

    a_in, s_in = POOL_INPUTS
    w = np.asarray(weights, dtype=np.float32).reshape(1, count, 1)
    shape = ["N", count, n_angles]
    inits = [
        numpy_helper.from_array(w / w.sum(), "weights"),
        numpy_helper.from_array(np.asarray(spread_weight, dtype=np.float32), "spread_weight"),
        numpy_helper.from_array(np.asarray([1], dtype=np.int64), "member_axis"),
    ]
    nodes = [
        helper.make_node("Mul", [a_in, "weights"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "member_axis"], ["mean3"], keepdims=1),
        helper.make_node("Squeeze", ["mean3", "member_axis"], ["angles"]),
        helper.make_node("Sub", [a_in, "mean3"], ["dev"]),
        helper.make_node("Mul", ["dev", "dev"], ["dev2"]),
        helper.make_node("Mul", [s_in, s_in], ["s2"]),
        helper.make_node("Mul", ["s2", "spread_weight"], ["s2c"]),
        helper.make_node("Add", ["s2c", "dev2"], ["var_k"]),
        helper.make_node("Mul", ["var_k", "weights"], ["var_w"]),
        helper.make_node("ReduceSum", ["var_w", "member_axis"], ["var"], keepdims=0),
        helper.make_node("Sqrt", ["var"], ["spread"]),
    ]
    graph = helper.make_graph(
        nodes,
        "headpose-pool",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in POOL_INPUTS],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", n_angles])
            for n in OUTPUT_NAMES
        ],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def build_pool(
    entries: Sequence[str],
    output: str | Path,
    weights: Sequence[float] | None = None,
    spread_weight: float = 1.0,
    peers_dir: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the pooled model ``output`` and its member files beside it; returns ``output``.
    Never writes over a member's source file; other existing files only with ``overwrite``."""
    unlabelled = [_LABEL.sub(r"\2", e) for e in entries]
    sources = [e.partition("#")[0] for e in unlabelled if not e.startswith("peer:")]
    output = check_output(output, overwrite, inputs=sources)
    if len(entries) < 2:
        raise InvalidInputError(f"members: expected at least 2, got {len(entries)}")
    weights = [1.0] * len(entries) if weights is None else list(weights)
    if len(weights) != len(entries) or min(weights) < 0 or sum(weights) <= 0:
        raise InvalidInputError(
            f"--weights: expected {len(entries)} numbers >= 0 (one per member), got {weights}"
        )
    if spread_weight < 0:
        raise InvalidInputError(f"--spread-weight: expected >= 0, got {spread_weight}")
    peers = Path(peers_dir) if peers_dir is not None else None
    models = [member_model(e, peers) for e in entries]
    files = [output.parent / f"{output.stem}.{label}.onnx" for label, _ in models]
    for i, file in enumerate(files):  # every member file checked before any is written
        if file in files[:i]:
            raise InvalidInputError(f"{file}: two members would share this file (name them LABEL=)")
        check_output(file, overwrite, inputs=sources)
    members, metas = [], []
    for (label, model), file in zip(models, files, strict=True):
        meta = read_onnx_metadata(model, label)
        save_new_onnx(model, file, overwrite, verify=lambda p: PoseModel(p, providers="cpu"))
        metas.append(meta)
        members.append(
            Member(
                file=file.name,
                sha256=file_sha256(file),
                name=f"{label}: {meta.method}",
                license=meta.license,
                train_data=meta.train_data,
            )
        )
    angles = metas[0].angles
    for (label, _), meta in zip(models, metas, strict=True):
        if meta.angles != angles:
            raise InvalidInputError(
                f"{label}: predicts {list(meta.angles)}, the first member {list(angles)}"
            )
    graph = pool_graph(len(members), len(angles), weights, spread_weight)
    first = metas[0]
    shown = ", ".join(f"{w:g}" for w in weights)
    meta = ModelMetadata(
        input_size=first.input_size,
        angles=angles,
        crop=first.crop,
        backbone=f"pool of {len(members)}",
        method=f"pool (weights {shown}; spread weight {spread_weight:g}) of: "
        + " | ".join(m.name for m in members),
        train_data=" | ".join(sorted({m.train_data for m in members})),
        license=" | ".join(sorted({m.license for m in members})),
        headpose_version=first.headpose_version,
        created=first.created,
        extra={"pool": {"weights": list(weights), "spread_weight": spread_weight}},
        members=tuple(members),
    )
    return save_new_onnx(
        _with_metadata(graph, meta),
        output,
        overwrite,
        verify=lambda p: PoseModel(p, providers="cpu"),
    )


@command(PROG, (__doc__ or "").split("\n\n")[0])
@click.argument("members", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="new file")
@click.option("--weights", help="one weight per member, comma-separated (default: equal)")
@click.option(
    "--spread-weight",
    type=click.FloatRange(0.0),
    default=1.0,
    show_default=True,
    help="c: how much the members' own spreads count beside their disagreement",
)
@click.option("--peers-dir", type=EXISTING_DIR, help="the folder of the peers' ONNX files")
@click.option("--overwrite", is_flag=True, help="replace existing output and member files")
def cli(
    members: tuple[str, ...],
    output: Path,
    weights: str | None,
    spread_weight: float,
    peers_dir: Path | None,
    overwrite: bool,
) -> None:
    with headpose_errors_as_usage():
        parsed = None
        if weights is not None:
            try:
                parsed = [float(v) for v in weights.split(",")]
            except ValueError as exc:
                raise InvalidInputError(
                    f"--weights: expected numbers separated by commas, got {weights!r}"
                ) from exc
        path = build_pool(members, output, parsed, spread_weight, peers_dir, overwrite)
    model = PoseModel(path, providers="cpu")
    click.echo(f"wrote {path} ({len(model.members)} members):")
    for member in model.meta.members:
        click.echo(f"  {member.file}: {member.name}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
