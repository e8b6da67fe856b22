"""Object-detection ops: NON_MAX_SUPPRESSION_V4 and V5 (single-class NMS, V5 with Soft-NMS).

The kernel follows LiteRT's float kernel (kernels/internal/reference/non_max_suppression.h):
candidates above the score threshold are taken best first, IoU is computed in float32 on
boxes [y1, x1, y2, x2] whose corners may come in either order, and the outputs are padded
with zeros to max_output_size, so their shapes are static once max_output_size is constant.
Equal scores are taken lowest index first, as TensorFlow's kernel does (LiteRT's queue leaves
that order to its heap).
"""
from __future__ import annotations

import heapq

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape
from .registry import register


def _max_outputs(op: Op, value) -> int:
    size = int(np.ravel(value)[0]) if np.size(value) == 1 else -1
    if size < 0:
        raise ConversionError(f"{op!r}: max_output_size must be one number >= 0, not {np.ravel(value).tolist()}")
    return size


def _infer(op: Op, boxes: Tensor, scores: Tensor, max_output_size: Tensor, *_thresholds: Tensor):
    box_shape, score_shape = need_shape(op, boxes), need_shape(op, scores)
    if len(box_shape) != 2 or box_shape[1] != 4 or tuple(score_shape) != (box_shape[0],):
        raise ConversionError(f"{op!r}: needs boxes [N, 4] and scores [N], not {list(box_shape)} "
                              f"and {list(score_shape)}")
    size = _max_outputs(op, need_const(op, max_output_size, "max_output_size"))
    selected = [((size,), "int32")]
    if op.type == "NON_MAX_SUPPRESSION_V5":
        selected.append(((size,), "float32"))
    return selected + [((), "int32")]


def _iou(boxes: np.ndarray, i: int, j: int) -> np.float32:
    zero = np.float32(0)
    (ay1, ax1, ay2, ax2), (by1, bx1, by2, bx2) = boxes[i], boxes[j]
    a_ymin, a_ymax, a_xmin, a_xmax = min(ay1, ay2), max(ay1, ay2), min(ax1, ax2), max(ax1, ax2)
    b_ymin, b_ymax, b_xmin, b_xmax = min(by1, by2), max(by1, by2), min(bx1, bx2), max(bx1, bx2)
    area_a = (a_ymax - a_ymin) * (a_xmax - a_xmin)
    area_b = (b_ymax - b_ymin) * (b_xmax - b_xmin)
    if area_a <= zero or area_b <= zero:
        return zero
    inter = (max(min(a_ymax, b_ymax) - max(a_ymin, b_ymin), zero)
             * max(min(a_xmax, b_xmax) - max(a_xmin, b_xmin), zero))
    union = area_a + area_b - inter
    return zero if union == zero else inter / union


def _nms(op: Op, boxes, scores, max_output_size, iou_threshold, score_threshold, sigma=None):
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores, np.float32)
    size = _max_outputs(op, max_output_size)
    iou_limit = np.float32(np.ravel(iou_threshold)[0])
    floor = np.float32(np.ravel(score_threshold)[0])
    sigma = np.float32(0 if sigma is None else np.ravel(sigma)[0])
    scale = np.float32(-0.5) / sigma if sigma > 0 else np.float32(0)
    # (-score, index, suppress_begin_index): the best score first, then the lowest index.
    queue = [(-s, i, 0) for i, s in enumerate(scores) if s > floor]
    heapq.heapify(queue)
    count = min(len(queue), size)
    indices = np.zeros(size, np.int32)
    selected_scores = np.zeros(size, np.float32)
    selected = 0
    while selected < count and queue:
        negative, index, begin = heapq.heappop(queue)
        original = score = -negative
        hard = False
        for j in range(selected - 1, begin - 1, -1):
            iou = _iou(boxes, index, int(indices[j]))
            if iou >= iou_limit:
                hard = True
                break
            if sigma > 0:
                score = np.float32(score * np.exp(scale * iou * iou, dtype=np.float32))
            if score <= floor:
                break
        if hard:
            continue
        begin = selected
        if score == original:
            indices[selected], selected_scores[selected] = index, score
            selected += 1
        if score > floor:
            # LiteRT queues a selected box again too (TensorFlow does not); its IoU with
            # itself suppresses it when next taken.
            heapq.heappush(queue, (-score, index, begin))
    valid = np.int32(selected)
    if op.type == "NON_MAX_SUPPRESSION_V5":
        return indices, selected_scores, valid
    return indices, valid


register("NON_MAX_SUPPRESSION_V4", infer=_infer, kernel=_nms, float32_only=True)
register("NON_MAX_SUPPRESSION_V5", infer=_infer, kernel=_nms, float32_only=True)
