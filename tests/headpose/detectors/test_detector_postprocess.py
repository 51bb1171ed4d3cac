"""Post-processing pieces shared by the detectors: IoU, NMS, weighted NMS, SSD anchors, clipping."""

from __future__ import annotations

import numpy as np

from headpose.detectors._common import clipped_detections, iou_matrix, nms, weighted_nms
from headpose.detectors.blazeface import ssd_anchor_centres


def test_iou_matrix_known_values() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0], atol=1e-6)


def test_nms_keeps_best_of_overlapping_and_all_disjoint() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 2, 0]
    assert nms(boxes[:0], scores[:0], 0.3).tolist() == []


def test_weighted_nms_averages_the_overlapping_group() -> None:
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.75, 0.25, 0.6], np.float32)
    points = np.array([[[0, 0]], [[4, 0]], [[55, 55]]], np.float32)
    out_b, out_s, out_p = weighted_nms(boxes, scores, points, 0.3)
    np.testing.assert_allclose(out_b[0], [0.5, 0, 10.5, 10], atol=1e-6)
    np.testing.assert_allclose(out_p[0, 0], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out_s, [0.75, 0.6])
    np.testing.assert_allclose(out_b[1], boxes[2])


def test_blazeface_anchor_layout() -> None:
    anchors = ssd_anchor_centres()
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])  # 2 anchors per stride-8 cell
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])  # first stride-16 cell
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])
    assert np.all((anchors > 0) & (anchors < 1))


def test_detections_are_clipped_to_the_image_by_the_runtime_rule() -> None:
    boxes = np.array([[-5, -2, 30, 50], [25, 0, 30, 10]], np.float64)  # 2nd: fully outside
    scores = np.array([0.9, 0.8])
    marks = np.zeros((2, 5, 2))
    dets, kept = clipped_detections(boxes, scores, marks, width=20, height=40)
    assert dets.boxes.dtype == np.float32 and dets.boxes.tolist() == [[0, 0, 20, 40]]
    assert kept.tolist() == [0] and dets.scores.tolist() == [np.float32(0.9)]
    assert dets.landmarks is not None and dets.landmarks.shape == (1, 5, 2)
