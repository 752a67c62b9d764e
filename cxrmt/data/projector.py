"""Cone-beam PA projection of a slab stack: one homography warp per slab.

World frame: RAS+ millimetres, origin at the isocentre. The source sits posterior at
(0, -sod, 0), the detector plane is y = sdd - sod (anterior), so rays run posterior -> anterior.
Detector column c grows towards the patient's left (image left = patient's right, PA view) and
row r grows inferiorly. Every slab is a plane, and a pinhole maps a plane to the detector by a
homography, so sampling each slab where the ray crosses it is exact up to bilinear interpolation;
the path length per slab, thickness / |cos(ray, slab normal)|, is one map shared by all slabs.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from .prepare import SlabStack


@dataclass
class Geometry:
    size: int = 512            # detector pixels per side
    sdd: float = 1800.0        # source-detector distance, mm
    iso_to_detector: float = 160.0  # isocentre to detector, mm (patient against the detector)
    detector_mm: float = 430.0  # detector side (17 in)

    @property
    def sod(self) -> float:
        return self.sdd - self.iso_to_detector

    @property
    def pixel_mm(self) -> float:
        return self.detector_mm / self.size

    @property
    def centre(self) -> float:
        return (self.size - 1) / 2.0

    def intrinsics(self) -> np.ndarray:
        """K: (W_x, W_y + sod, W_z) -> homogeneous (c, r, 1)."""
        f, c = self.sdd / self.pixel_mm, self.centre
        return np.array([[-f, c, 0.0], [0.0, c, -f], [0.0, 1.0, 0.0]])

    def project_point(self, w) -> tuple:
        """Pinhole projection of a world point (mm) to (column, row)."""
        h = self.intrinsics() @ np.array([w[0], w[1] + self.sod, w[2]])
        return h[0] / h[2], h[1] / h[2]


@dataclass
class Pose:
    """Patient pose: world = scale * R @ p + shift_mm, R from angles (degrees) about the world
    axes x (tilt), y (in-plane, along the beam) and z (twist), applied z, then x, then y."""

    rot_deg: tuple = (0.0, 0.0, 0.0)
    shift_mm: tuple = (0.0, 0.0, 0.0)
    scale: float = 1.0

    def matrix(self) -> np.ndarray:
        ax, ay, az = np.deg2rad(self.rot_deg)
        rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
        rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
        return self.scale * (ry @ rx @ rz)

    def apply(self, p) -> np.ndarray:
        return self.matrix() @ np.asarray(p, float) + np.asarray(self.shift_mm, float)


def slab_homographies(stack: SlabStack, geo: Geometry, pose: Pose) -> np.ndarray:
    """(n, 3, 3): maps from slab k's (column, row, 1) to detector (c, r, 1)."""
    sx, _, sz = stack.spacing
    to_mm = np.zeros((len(stack.y_mm), 3, 3))              # (col, row, 1) -> volume mm
    to_mm[:, 0, 0], to_mm[:, 0, 2] = sx, stack.x0_mm
    to_mm[:, 1, 2] = stack.y_mm
    to_mm[:, 2, 1], to_mm[:, 2, 2] = -sz, stack.z0_mm
    a = pose.matrix() @ to_mm
    a[:, :, 2] += np.asarray(pose.shift_mm, float) + np.array([0.0, geo.sod, 0.0])
    return geo.intrinsics() @ a


def slab_homography(stack: SlabStack, k: int, geo: Geometry, pose: Pose) -> np.ndarray:
    """3x3 map from slab k's (column, row, 1) to detector (c, r, 1)."""
    return slab_homographies(stack, geo, pose)[k]


def path_length_map(stack: SlabStack, geo: Geometry, pose: Pose) -> np.ndarray:
    """(size, size) mm of ray inside one slab, per detector pixel."""
    c = (np.arange(geo.size) - geo.centre) * geo.pixel_mm
    dx, dz = np.meshgrid(-c, -c)  # detector x (patient's right +) and z (superior +)
    d = np.stack([dx, np.full_like(dx, geo.sdd), dz], axis=-1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    normal = pose.matrix()[:, 1] / pose.scale
    return (pose.scale * stack.spacing[1] / np.abs(d @ normal)).astype(np.float32)


def match_resolution(stack: SlabStack, geo: Geometry) -> SlabStack:
    """Area-average the slabs when detector pixels are much coarser than voxels: bilinear
    sampling alone would alias (small test/preview sizes)."""
    at_iso = geo.pixel_mm * geo.sod / geo.sdd
    fx = max(1, int(at_iso / stack.spacing[0]))
    fz = max(1, int(at_iso / stack.spacing[2]))
    if fx == fz == 1:
        return stack
    if (fx, fz) not in stack.derived:
        stack.derived[(fx, fz)] = _block_mean(stack, fx, fz)
    return stack.derived[(fx, fz)]


def _block_mean(stack: SlabStack, fx: int, fz: int) -> SlabStack:
    n, rows, cols, ch = stack.slabs.shape
    r2, c2 = rows // fz, cols // fx
    small = stack.slabs[:, :r2 * fz, :c2 * fx].reshape(n, r2, fz, c2, fx, ch).mean(axis=(2, 4))
    sx, sy, sz = stack.spacing
    # Block centres: the first block's centre lies (f - 1) / 2 voxels in.
    return SlabStack(np.ascontiguousarray(small, dtype=np.float32), stack.y_mm,
                     (sx * fx, sy, sz * fz), stack.x0_mm + (fx - 1) / 2.0 * sx,
                     stack.z0_mm - (fz - 1) / 2.0 * sz)


def channel_groups(stack: SlabStack) -> list:
    """[(array, boxes)]: the slabs as contiguous arrays of 1, 3 or 4 channels (OpenCV's warps
    have fast paths for those counts only; 2, 5 or 6 channels run 2-4x slower per channel), and
    per slab the (row0, row1, col0, col1) box of its non-zero pixels, None when empty."""
    if "groups" not in stack.derived:
        c = stack.slabs.shape[-1]
        sizes = {1: [1], 2: [1, 1], 3: [3], 4: [4], 5: [4, 1], 6: [3, 3]}.get(c) or [1] * c
        edges = np.cumsum([0] + sizes)
        groups = [np.ascontiguousarray(stack.slabs[..., a:b])
                  for a, b in zip(edges[:-1], edges[1:])]
        stack.derived["groups"] = [(g, [_content_box(s) for s in g]) for g in groups]
    return stack.derived["groups"]


def _content_box(slab: np.ndarray):
    rows, cols = np.nonzero(np.any(slab != 0, axis=-1))
    return (rows.min(), rows.max(), cols.min(), cols.max()) if rows.size else None


def _detector_roi(h: np.ndarray, box, size: int):
    """Detector rectangle (x0, y0, x1, y1) that can receive the box's content, 1 px margin for
    bilinear support; a plane in front of the source maps a rectangle to a convex quad."""
    r0, r1, c0, c1 = box
    corners = np.array([[c0 - 1, r0 - 1, 1], [c1 + 1, r0 - 1, 1], [c0 - 1, r1 + 1, 1],
                        [c1 + 1, r1 + 1, 1]], float) @ h.T
    xy = corners[:, :2] / corners[:, 2:]
    x0, y0 = np.maximum(0, np.floor(xy.min(axis=0))).astype(int)
    x1, y1 = np.minimum(size, np.ceil(xy.max(axis=0)) + 1).astype(int)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def project(stack: SlabStack, geo: Geometry, pose: Pose) -> np.ndarray:
    """Line integrals (size, size, C) of every channel: sum_k slab_k(ray) * path length.
    Each slab is warped only into the detector rectangle its content can reach."""
    stack = match_resolution(stack, geo)
    groups = channel_groups(stack)
    sums = [np.zeros((geo.size, geo.size, g.shape[-1]), np.float32) for g, _ in groups]
    for k, h in enumerate(slab_homographies(stack, geo, pose)):
        for (g, boxes), acc in zip(groups, sums):
            roi = boxes[k] and _detector_roi(h, boxes[k], geo.size)
            if not roi:
                continue
            x0, y0, x1, y1 = roi
            shifted = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]]) @ h
            warped = cv2.warpPerspective(g[k], shifted, (x1 - x0, y1 - y0),
                                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            acc[y0:y1, x0:x1] += warped.reshape(y1 - y0, x1 - x0, -1)
    return np.concatenate(sums, axis=-1) * path_length_map(stack, geo, pose)[..., None]
