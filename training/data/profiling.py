"""Face profiling: turn a face in a photo to a new pose and render it, with the exact new label.

The face is lifted to 3-D by the 468-point face mesh (:mod:`.face_mesh`), in camera coordinates
of the image (x right, y down, z forward; pixels; weak perspective). Anchor points extend it to
the rest of the picture: rings around the face on an ellipsoid that curves back from the face's
border (hair, ears, neck), and fixed points (an outer ring and the image border) for the
background. Everything is triangulated once (the mesh's own triangles plus a Delaunay
triangulation of the anchors). Rendering turns the points by ``delta`` about the head centre
(anchors between face and background by a share of the turn that falls from 1 to 0, so the
background stays put and no holes open), projects them orthographically, paints the triangles'
ids far to near (face triangles turned away from the camera are dropped) and warps the source
image piecewise-affinely through one ``cv2.remap``.

The head's rotation in the render is ``delta @ R0`` exactly (R0: the source's pose as a matrix of
:mod:`headpose.rotation`): a rotation of every 3-D point about one centre followed by an
orthographic projection changes the pose by ``delta`` and nothing else.

``hidden`` measures self-occlusion: the share of the rendered face's pixels whose mesh triangle
was turned away or covered in the source, so that its texture is another part's (an eye painted
over by the nose's side). Parts seen at a grazing angle are only blurred and do not count (a
frontal face turned to 90 degrees stays near 0; a face at 30 degrees turned frontal is about
0.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import Delaunay

from .errors import DataError
from .face_mesh import NUM_POINTS, mesh_triangles

#: kinds of triangles; FILL: anchor triangles over the face (Delaunay is not constrained to the
#: face's border), painted under everything to close cracks along that border
FACE, HEAD, BACKGROUND, FILL = 0, 1, 2, 3
#: anchor rings around the face border: (scale of the centre-to-border distance, share of the
#: turn the ring follows, depth as a share of the way from the border to the head centre's depth)
HEAD_RINGS = ((1.2, 1.0, 0.45), (1.45, 0.8, 0.8), (1.75, 0.45, 1.0))
BACKGROUND_RING = 2.2
#: head centre depth behind the face border's mean depth, as a share of the face width
CENTRE_DEPTH = 0.3


@dataclass
class HeadModel:
    """A face lifted to 3-D with its anchors, in pixels of the source image.

    ``points (N, 3)`` (the first 468 are the face mesh), ``follow (N,)`` share of a turn each
    point follows (1 face, 0 background), ``triangles (M, 3)``, ``kind (M,)`` (FACE, HEAD,
    BACKGROUND or FILL), ``centre (3,)`` the point turns are about, ``size (h, w)`` of the image.
    """

    points: np.ndarray
    follow: np.ndarray
    triangles: np.ndarray
    kind: np.ndarray
    centre: np.ndarray
    size: tuple[int, int]
    source_area: np.ndarray

    def mirrored(self) -> HeadModel:
        """The model of the left-right mirrored image (x -> w - 1 - x; windings reversed)."""
        pts = self.points.copy()
        pts[:, 0] = self.size[1] - 1 - pts[:, 0]
        centre = self.centre.copy()
        centre[0] = self.size[1] - 1 - centre[0]
        return HeadModel(
            pts,
            self.follow,
            self.triangles[:, ::-1].copy(),
            self.kind,
            centre,
            self.size,
            self.source_area,
        )


@dataclass
class Render:
    """A rendered image (same size and colour order as the source), the projected points
    ``(N, 3)`` (x, y in pixels, z depth), the hidden share of its face (0..1) and the share of
    its pixels no triangle covers (holes; 0 by construction)."""

    image: np.ndarray
    points: np.ndarray
    hidden: float
    uncovered: float = 0.0

    @property
    def face_points(self) -> np.ndarray:
        """The 468 face-mesh points ``(468, 3)`` of the render."""
        return self.points[:NUM_POINTS]


def border_loop(triangles: np.ndarray) -> np.ndarray:
    """Indices of the outer border of a triangle mesh (edges used once), in loop order."""
    edges = np.sort(
        np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1
    )
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    single = unique[counts == 1]
    neighbours: dict[int, list[int]] = {}
    for a, b in single:
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    # the longest loop is the outer border (eyes and mouth are inner holes)
    loops, seen = [], set()
    for start in neighbours:
        if start in seen:
            continue
        loop, prev, cur = [start], -1, start
        seen.add(start)
        while True:
            nxt = [n for n in neighbours[cur] if n != prev]
            if not nxt or nxt[0] == start:
                break
            prev, cur = cur, nxt[0]
            if cur in seen:
                break
            loop.append(cur)
            seen.add(cur)
        loops.append(loop)
    return np.asarray(max(loops, key=len), dtype=np.int64)


def lift(face_points: np.ndarray, size: tuple[int, int]) -> HeadModel:
    """Build the :class:`HeadModel` of a face whose mesh points ``(468, 3)`` (pixels, camera
    axes) were fitted in an image of ``size`` ``(h, w)``."""
    face = np.asarray(face_points, dtype=np.float64)
    if face.shape != (NUM_POINTS, 3) or not np.isfinite(face).all():
        raise DataError(f"face mesh points: expected finite (468, 3), got {face.shape}")
    h, w = size
    tri = mesh_triangles()
    loop = border_loop(tri)
    border = face[loop]
    centre2 = border[:, :2].mean(axis=0)
    width = float(np.ptp(border[:, 0]) + np.ptp(border[:, 1])) / 2.0
    centre_z = float(border[:, 2].mean()) + CENTRE_DEPTH * width
    centre = np.array([centre2[0], centre2[1], centre_z])
    ring_src = border[::2]
    offsets = ring_src[:, :2] - centre2
    anchors, follow = [], []
    for scale, share, depth in HEAD_RINGS:
        z = ring_src[:, 2] + depth * (centre_z - ring_src[:, 2])
        anchors.append(np.column_stack([centre2 + scale * offsets, z]))
        follow.append(np.full(len(ring_src), share))
    outer = centre2 + BACKGROUND_RING * offsets
    n_side = 6
    t = np.linspace(0.0, 1.0, n_side, endpoint=False)
    frame = np.concatenate(
        [
            np.column_stack([t * (w - 1), np.zeros_like(t)]),
            np.column_stack([np.full_like(t, w - 1), t * (h - 1)]),
            np.column_stack([(1 - t) * (w - 1), np.full_like(t, h - 1)]),
            np.column_stack([np.zeros_like(t), (1 - t) * (h - 1)]),
        ]
    )
    # a margin outside the image so that nothing inside it is ever uncovered
    margin = np.array([-0.5 * w, -0.5 * h])
    far = np.concatenate([outer, frame, frame * 2 + margin])
    anchors.append(np.column_stack([far, np.full(len(far), centre_z + width)]))
    follow.append(np.zeros(len(far)))
    extra = np.concatenate(anchors)
    points = np.concatenate([face, extra])
    follow_all = np.concatenate([np.ones(NUM_POINTS), *follow])
    # Delaunay over the border and the anchors
    ids = np.concatenate([loop, NUM_POINTS + np.arange(len(extra))])
    dela = ids[Delaunay(points[ids, :2]).simplices]
    polygon = border[:, :2].astype(np.float32).reshape(-1, 1, 2)
    centroids = points[dela, :2].mean(axis=1)
    inside_face = np.array(
        [cv2.pointPolygonTest(polygon, (float(x), float(y)), False) > 0 for x, y in centroids]
    )
    is_bg = np.all(follow_all[dela] == 0.0, axis=1)
    kind_dela = np.where(inside_face, FILL, np.where(is_bg, BACKGROUND, HEAD))
    kind = np.concatenate([np.full(len(tri), FACE), kind_dela]).astype(np.int64)
    triangles = np.concatenate([tri, dela])
    return HeadModel(
        points, follow_all, triangles, kind, centre, (h, w), source_areas(face, (h, w))
    )


def _rotations(delta: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)``: ``delta`` turned by a share of its angle about its own axis."""
    rvec, _ = cv2.Rodrigues(np.asarray(delta, dtype=np.float64))
    angle = float(np.linalg.norm(rvec))
    out = np.empty((len(shares), 3, 3))
    if angle < 1e-12:
        out[:] = np.eye(3)
        return out
    axis = rvec.ravel() / angle
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = shares[:, None, None] * angle
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def transform_points(model: HeadModel, delta: np.ndarray) -> np.ndarray:
    """Points ``(N, 3)`` after the turn (each by its share of ``delta`` about the centre)."""
    rot = _rotations(delta, model.follow)
    rel = model.points - model.centre
    return np.einsum("nij,nj->ni", rot, rel) + model.centre


def _signed_area(xy: np.ndarray, tri: np.ndarray) -> np.ndarray:
    a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    return 0.5 * (
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    )


def paint_ids(
    xy: np.ndarray,
    z: np.ndarray,
    tri: np.ndarray,
    keep: np.ndarray,
    size: tuple[int, int],
    ids: np.ndarray | None = None,
) -> np.ndarray:
    """Triangle id per pixel ``(h, w)`` int32 (-1: none), painted far to near (painter's order
    by mean depth); only triangles where ``keep``; over ``ids`` when given (changed in place)."""
    h, w = size
    if ids is None:
        ids = np.full((h, w), -1, dtype=np.int32)
    order = np.nonzero(keep)[0]
    order = order[np.argsort(-z[tri[order]].mean(axis=1), kind="stable")]
    fixed = np.round(xy * 16.0).astype(np.int32)
    for t in order:
        cv2.fillConvexPoly(ids, fixed[tri[t]], int(t), lineType=cv2.LINE_8, shift=4)
    return ids


def render(image: np.ndarray, model: HeadModel, delta: np.ndarray) -> Render:
    """Render ``image`` (the source, ``(h, w, 3)``) with the head turned by ``delta`` ``(3, 3)``."""
    h, w = model.size
    if image.shape[:2] != (h, w):
        raise DataError(
            f"render: image is {image.shape[:2]}, the head model was fitted on {(h, w)}"
        )
    src = model.points
    dst = transform_points(model, delta)
    tri = model.triangles
    is_face = model.kind == FACE
    area_dst = _signed_area(dst[:, :2], tri)
    keep = np.abs(area_dst) > 1e-6
    away = keep & ((is_face & (area_dst <= 0)) | (model.kind == FILL))
    # face triangles turned away and FILL triangles only fill what nothing else covers
    ids = paint_ids(dst[:, :2], dst[:, 2], tri, away, (h, w))
    ids = paint_ids(dst[:, :2], dst[:, 2], tri, keep & ~away, (h, w), ids)
    # per-triangle affine from render pixels to source pixels
    d = np.stack([dst[tri, 0], dst[tri, 1], np.ones(tri.shape)], axis=1)  # (M, 3, 3) columns
    d[~keep] = np.eye(3)
    s = np.stack([src[tri, 0], src[tri, 1]], axis=1)  # (M, 2, 3)
    affine = s @ np.linalg.inv(d)  # (M, 2, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.maximum(ids, 0)
    a = affine[t]
    map_x = (a[..., 0, 0] * xx + a[..., 0, 1] * yy + a[..., 0, 2]).astype(np.float32)
    map_y = (a[..., 1, 0] * xx + a[..., 1, 1] * yy + a[..., 1, 2]).astype(np.float32)
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Render(out, dst, hidden_share(model, ids), float(np.mean(ids < 0)))


def source_areas(face_points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area in pixels ``(898,)`` with which the source image shows each mesh triangle (0 when
    it is turned away or covered there)."""
    tri = mesh_triangles()
    area = _signed_area(face_points[:, :2], tri)
    ids = paint_ids(face_points[:, :2], face_points[:, 2], tri, area > 0, size)
    seen = np.zeros(len(tri), dtype=bool)
    seen[np.unique(ids[ids >= 0])] = True
    return np.where(seen, np.maximum(area, 0.0), 0.0)


def hidden_share(model: HeadModel, ids: np.ndarray) -> float:
    """Share (0..1) of the rendered face's pixels that the source does not show: their mesh
    triangle was turned away or covered in the source (its texture is another part's)."""
    tri = mesh_triangles()
    n = len(tri)
    counts = np.bincount(ids[(ids >= 0) & (ids < n)], minlength=n)[:n].astype(np.float64)
    total = counts.sum()
    if total == 0:
        return 1.0
    return float(counts[model.source_area <= 0].sum() / total)


def recover_rotation(source: np.ndarray, seen_xy: np.ndarray) -> tuple[np.ndarray, float]:
    """The rotation ``(3, 3)`` that turns the 3-D points ``source`` ``(N, 3)`` into points whose
    orthographic projection best matches ``seen_xy`` ``(N, 2)`` (least squares, both centred,
    scale 1), and the RMS residual in pixels. Checks a render: fit the mesh again on it and
    recover the turn from the 2-D points, where the landmark model is most accurate."""
    x = source - source.mean(axis=0)
    y = seen_xy - seen_xy.mean(axis=0)

    def residual(v: np.ndarray) -> np.ndarray:
        rot = cv2.Rodrigues(v)[0]
        return ((x @ rot.T)[:, :2] - y).ravel()

    sol = least_squares(residual, np.zeros(3))
    return cv2.Rodrigues(sol.x)[0], float(np.sqrt(np.mean(sol.fun**2)))


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees of the rotation between two rotation matrices."""
    cos = (np.trace(a @ np.asarray(b).T) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
