"""Fold zero-padding ``Pad`` nodes into the convolution that reads them (same numbers, less time).

An anti-aliased backbone (timm's BlurPool, ``aa_layer="blurpc"``) pads each blur with zeros in a
separate ``Pad`` node before a depthwise convolution. onnxruntime runs that ``Pad`` on its own and
converts the tensor out of and back into its blocked convolution layout around it; on one CPU
thread this costs about a quarter of the shipped ``fast`` network's time. A convolution pads with
zeros itself, so ``Pad(zeros) -> Conv`` equals ``Conv`` with the pads added to its own: exact.

``headpose-export`` applies this to every graph it writes (the parity check against PyTorch then
covers it). For a model already exported::

    python -m headpose.export.fold_pads MODEL.onnx -o NEW.onnx

writes a new file with the same metadata after checking, with onnxruntime, that both files give
the same angles and spread on face crops (the shared AFLW2000 crops, or ``--images``).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from headpose.cli.options import command, headpose_errors_as_usage
from headpose.cli.options import run as run_command
from headpose.errors import InvalidInputError
from headpose.export.ort_session import cpu_session, run_batched
from headpose.export.output_files import save_new_onnx
from headpose.export.verify import verification_inputs
from headpose.files import check_output
from headpose.metadata import read_metadata

#: largest |difference| in degrees allowed between a model and its folded copy
ATOL_DEGREES = 1e-3


#: operators that :func:`_constants` evaluates when all their inputs are known (how torch's
#: exporter computes ``F.pad``'s pads: Constant, ConstantOfShape, Concat, Reshape, Slice, ...)
FOLDABLE = {
    "Cast", "Concat", "ConstantOfShape", "Reshape", "Transpose", "Slice", "Unsqueeze", "Squeeze",
    "Gather", "Add", "Sub", "Mul", "Neg",
}  # fmt: skip


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Small tensors known before run time: initializers, ``Constant`` nodes and the outputs of
    :data:`FOLDABLE` nodes whose inputs are all known (evaluated with onnx's reference
    implementation, in graph order)."""
    known = {
        init.name: numpy_helper.to_array(init) for init in graph.initializer if _small(init.dims)
    }
    for node in graph.node:
        if node.op_type == "Constant":
            if len(node.attribute) == 1 and node.attribute[0].name == "value":
                known[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type in FOLDABLE and all(not i or i in known for i in node.input):
            feeds = {i: known[i] for i in node.input if i}
            values = ReferenceEvaluator(node).run(None, feeds)
            known.update((name, np.asarray(v)) for name, v in zip(node.output, values, strict=True))
    return known


def _small(dims: object) -> bool:
    return int(np.prod(list(dims))) <= 4096  # type: ignore[call-overload]


def _attribute(node: onnx.NodeProto, name: str, default: object) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def fold_pads_into_convs(model: onnx.ModelProto) -> int:
    """Fold every constant zero ``Pad`` of a 4-D tensor (spatial pads only, one reader, a
    ``Conv`` without ``auto_pad``) into that ``Conv``'s ``pads``; in place. Returns how many
    were folded; nodes left without readers (the pads' constants) are removed."""
    graph = model.graph
    known = _constants(graph)
    readers: Counter[str] = Counter(name for node in graph.node for name in node.input)
    readers.update(out.name for out in graph.output)
    by_input = {node.input[0]: node for node in graph.node if node.op_type == "Conv"}
    folded = []
    for pad in graph.node:
        if pad.op_type != "Pad" or _attribute(pad, "mode", b"constant") not in (
            b"constant",
            "constant",
        ):
            continue
        if len(pad.input) < 2 or pad.input[1] not in known or readers[pad.output[0]] != 1:
            continue
        if len(pad.input) > 2 and pad.input[2]:
            value = known.get(pad.input[2])
            if value is None or np.any(value != 0):
                continue
        if len(pad.input) > 3 and pad.input[3]:  # explicit axes: not produced by our export
            continue
        pads = [int(p) for p in np.asarray(known[pad.input[1]]).ravel()]
        conv = by_input.get(pad.output[0])
        if len(pads) != 8 or any(p < 0 for p in pads) or conv is None:
            continue
        if pads[0] or pads[1] or pads[4] or pads[5]:  # batch or channel padding
            continue
        if _attribute(conv, "auto_pad", b"NOTSET") != b"NOTSET":
            continue
        own = list(_attribute(conv, "pads", [0, 0, 0, 0]))
        new = [own[0] + pads[2], own[1] + pads[3], own[2] + pads[6], own[3] + pads[7]]
        kept = [a for a in conv.attribute if a.name != "pads"]
        del conv.attribute[:]
        conv.attribute.extend([*kept, onnx.helper.make_attribute("pads", new)])
        conv.input[0] = pad.input[0]
        folded.append(pad)
    for pad in folded:
        graph.node.remove(pad)
    _drop_unread(graph)
    return len(folded)


def _drop_unread(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is read (repeatedly: a chain goes at once)."""
    while True:
        read = {name for node in graph.node for name in node.input}
        read.update(out.name for out in graph.output)
        dead = [n for n in graph.node if not any(o in read for o in n.output if o)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def fold_file(
    model_path: str | Path, output: str | Path, images: str | Path | None = None
) -> tuple[int, float]:
    """Write ``output``: ``model_path`` with its pads folded and the same metadata, after
    checking both give the same outputs (within :data:`ATOL_DEGREES`) on face crops. Refuses
    to write over the input or an existing file. Returns (pads folded, largest difference)."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise InvalidInputError(f"{model_path}: model file not found")
    output = check_output(output, inputs=[model_path, *([images] if images else [])])
    model = onnx.load(str(model_path))
    meta = read_metadata({p.key: p.value for p in model.metadata_props}, str(model_path))
    count = fold_pads_into_convs(model)
    onnx.checker.check_model(model, full_check=True)
    inputs, _ = verification_inputs(meta, images)
    before = run_batched(cpu_session(model_path, threads=1), inputs)
    worst = 0.0

    def same_outputs(tmp: Path) -> None:
        nonlocal worst
        after = run_batched(cpu_session(tmp, threads=1), inputs)
        worst = max(float(np.max(np.abs(a - b))) for a, b in zip(before, after, strict=True))
        if worst > ATOL_DEGREES:
            raise InvalidInputError(
                f"{model_path}: folded graph differs by {worst:.2e} deg (> {ATOL_DEGREES}); "
                "nothing written"
            )

    save_new_onnx(model, output, verify=same_outputs)
    return count, worst


PROG = "python -m headpose.export.fold_pads"


@command(PROG, (__doc__ or "").split("\n\n")[0])
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="new file")
@click.option("--images", type=click.Path(path_type=Path), help="face crops for the check")
def cli(model: Path, output: Path, images: Path | None) -> int:
    with headpose_errors_as_usage():
        count, worst = fold_file(model, output, images)
    click.echo(f"wrote {output}: {count} Pad node(s) folded; largest difference {worst:.1e} deg")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (bad input: one line ``PROG: error: ...`` and 2)."""
    return run_command(cli, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
