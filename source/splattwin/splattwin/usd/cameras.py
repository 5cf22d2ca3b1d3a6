"""Calibrated cameras on the twin: ``UsdGeom.Camera`` prims under ``/World/Cameras`` with exact intrinsics.

A pinhole ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` for a ``width`` x ``height`` image maps onto USD's camera
model (``Gf.Camera``: the frustum window on the plane one focal length in front of the eye spans
``[-a/2 + o, a/2 + o] / f`` for aperture ``a`` and offset ``o``, in each direction, +y up) as:

- ``horizontalAperture`` = :data:`HORIZONTAL_APERTURE_MM` (the 35 mm default USD uses), ``focalLength`` =
  ``fx * horizontalAperture / width``;
- ``verticalAperture`` = ``focalLength * height / fy``: the window's aspect is the image's only when fx == fy;
  otherwise the pixels are not square and the aperture says how (USD keeps no pixel aspect of its own);
- ``horizontalApertureOffset`` = ``(width / 2 - cx) * horizontalAperture / width`` and
  ``verticalApertureOffset`` = ``(cy - height / 2) * verticalAperture / height``: an offset moves the window, so
  the optical axis lands away from the image centre by the opposite amount (image y points down);
- ``customData["splattwin:image"]`` = {``width``, ``height``} [px], ``customData["splattwin:distortion"]`` =
  {``model`` and the coefficients ``k1 k2 p1 p2 k3 k4`` (OpenCV's), those the file gave}.

The prim's transform is rigid (translate + orient, doubles) and takes the OpenCV camera (x right, y down, z
forward) to the world through USD's camera axes (x right, y up, looking down -z). :func:`read_cameras` reads
every camera back as a :class:`~splattwin.render.camera.Camera` at its stored size.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.camera import Camera
from splattwin.geometry.transforms import Similarity, matrix_to_quat_wxyz
from splattwin.usd.prims import world_matrix

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "CAMERAS_PATH",
    "DISTORTION_KEY",
    "HORIZONTAL_APERTURE_MM",
    "IMAGE_KEY",
    "USD_TO_OPENCV_CAMERA",
    "camera_from_usd_prim",
    "check_intrinsics",
    "cameras_by_name",
    "define_camera",
    "intrinsics_from_usd",
    "move_camera",
    "moved_pose",
    "prim_name",
    "read_cameras",
    "stored_image_size",
    "usd_from_intrinsics",
]

CAMERAS_PATH = "/World/Cameras"
IMAGE_KEY = "splattwin:image"
DISTORTION_KEY = "splattwin:distortion"
HORIZONTAL_APERTURE_MM = 20.955
"""The horizontal aperture every imported camera gets (USD's default); only ratios to it matter."""
USD_TO_OPENCV_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])
"""USD camera axes (y up, looking down -z) -> OpenCV camera axes (y down, looking down +z); its own inverse."""
_CLIPPING_M = (0.01, 1.0e4)


def check_intrinsics(K: np.ndarray, width: int, height: int, where: str) -> np.ndarray:  # noqa: N803
    """Refuse intrinsics no pinhole camera has; the 3x3 float64 K.

    Raises:
        InputError: naming ``where``: K not 3x3, NaN/Inf, a skew, fx or fy <= 0, a last row other than
            (0, 0, 1), a size that is not a positive integer, or a principal point far outside the image.
    """
    K = np.asarray(K, dtype=np.float64)  # noqa: N806
    if K.shape != (3, 3):
        raise InputError(where, f"K must be 3x3, got shape {K.shape}")
    if not np.isfinite(K).all():
        raise InputError(where, f"K has NaN or Inf: {K.tolist()}")
    if not (isinstance(width, int | np.integer) and isinstance(height, int | np.integer)) or width <= 0 or height <= 0:
        raise InputError(where, f"image size must be positive integers, got {width}x{height}")
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise InputError(where, f"focal lengths fx={K[0, 0]:g}, fy={K[1, 1]:g} px must be > 0")
    if abs(K[0, 1]) > 1e-9 * K[0, 0] or K[1, 0] != 0 or not np.allclose(K[2], (0, 0, 1), atol=1e-12):
        raise InputError(where, f"K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {K.tolist()}")
    cx, cy = K[0, 2], K[1, 2]
    if not (-width <= cx <= 2 * width and -height <= cy <= 2 * height):
        raise InputError(where, f"principal point ({cx:g}, {cy:g}) px is far outside the {width}x{height} image")
    return K


def usd_from_intrinsics(K: np.ndarray, width: int, height: int) -> dict[str, float]:  # noqa: N803
    """USD camera attributes reproducing ``K`` on a ``width`` x ``height`` image (module docstring).

    Returns:
        ``focalLength``, ``horizontalAperture``, ``verticalAperture``, ``horizontalApertureOffset``,
        ``verticalApertureOffset`` (USD's attribute names; apertures and focal length in one unit, "mm").
    """
    fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    h_aperture = HORIZONTAL_APERTURE_MM
    focal = fx * h_aperture / width
    v_aperture = focal * height / fy
    return dict(
        focalLength=focal,
        horizontalAperture=h_aperture,
        verticalAperture=v_aperture,
        horizontalApertureOffset=(width / 2.0 - cx) * h_aperture / width,
        verticalApertureOffset=(cy - height / 2.0) * v_aperture / height,
    )


def intrinsics_from_usd(
    *,
    focal_length: float,
    horizontal_aperture: float,
    vertical_aperture: float | None,
    horizontal_offset: float,
    vertical_offset: float,
    width: int,
    height: int,
) -> np.ndarray:
    """K [px] of a USD camera filling a ``width`` x ``height`` image; the inverse of :func:`usd_from_intrinsics`.

    ``vertical_aperture`` None: square pixels, the window fitted to the image width (the vertical aperture taken
    as ``horizontal_aperture * height / width``, USD's "fit horizontally" for a camera with no stored size).
    """
    if vertical_aperture is None:
        vertical_aperture = horizontal_aperture * height / width
    fx = focal_length * width / horizontal_aperture
    fy = focal_length * height / vertical_aperture
    cx = width / 2.0 - horizontal_offset * width / horizontal_aperture
    cy = height / 2.0 + vertical_offset * height / vertical_aperture
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _pose_ops(prim: Any, camera_to_parent: np.ndarray) -> None:
    from pxr import Gf, UsdGeom  # noqa: PLC0415

    rotation = camera_to_parent[:3, :3]
    w, x, y, z = matrix_to_quat_wxyz(rotation).tolist()
    xform = UsdGeom.Xformable(prim)
    ops = {op.GetOpType(): op for op in xform.GetOrderedXformOps()}
    translate = ops.get(UsdGeom.XformOp.TypeTranslate) or xform.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble)
    orient = ops.get(UsdGeom.XformOp.TypeOrient) or xform.AddOrientOp(UsdGeom.XformOp.PrecisionDouble)
    xform.SetXformOpOrder([translate, orient])
    translate.Set(Gf.Vec3d(*camera_to_parent[:3, 3].tolist()))
    orient.Set(Gf.Quatd(w, Gf.Vec3d(x, y, z)))


def define_camera(
    stage: Usd.Stage,
    prim_path: str,
    *,
    K: np.ndarray,  # noqa: N803
    width: int,
    height: int,
    camera_to_world: np.ndarray,
    distortion: dict[str, Any] | None = None,
    custom_data: dict[str, Any] | None = None,
) -> Any:
    """Author a ``UsdGeom.Camera`` reproducing ``K`` and the pose (the stage's current edit target).

    Args:
        stage: the stage.
        prim_path: where (``/World/Cameras/<name>``); the parent must exist or be definable as an Xform.
        K: [3, 3] intrinsics [px], checked by :func:`check_intrinsics`.
        width, height: image size [px].
        camera_to_world: [4, 4] rigid OpenCV camera (x right, y down, z forward) -> world, metres.
        distortion: ``model`` and coefficients, stored as customData.
        custom_data: more customData (the frame record).

    Returns:
        The ``UsdGeom.Camera``.
    """
    from pxr import Gf, UsdGeom  # noqa: PLC0415

    K = check_intrinsics(K, width, height, prim_path)  # noqa: N806
    usd_to_world = np.asarray(camera_to_world, dtype=np.float64) @ USD_TO_OPENCV_CAMERA
    parent_path = prim_path.rsplit("/", 1)[0] or "/"
    parent = stage.GetPrimAtPath(parent_path)
    parent_world = world_matrix(parent) if parent else np.eye(4)
    camera_to_parent = np.linalg.inv(parent_world) @ usd_to_world
    camera = UsdGeom.Camera.Define(stage, prim_path)
    values = usd_from_intrinsics(K, int(width), int(height))
    camera.CreateProjectionAttr().Set(UsdGeom.Tokens.perspective)
    camera.CreateFocalLengthAttr().Set(values["focalLength"])
    camera.CreateHorizontalApertureAttr().Set(values["horizontalAperture"])
    camera.CreateVerticalApertureAttr().Set(values["verticalAperture"])
    camera.CreateHorizontalApertureOffsetAttr().Set(values["horizontalApertureOffset"])
    camera.CreateVerticalApertureOffsetAttr().Set(values["verticalApertureOffset"])
    camera.CreateClippingRangeAttr().Set(Gf.Vec2f(*_CLIPPING_M))
    _pose_ops(camera.GetPrim(), camera_to_parent)
    prim = camera.GetPrim()
    prim.SetCustomDataByKey(IMAGE_KEY, {"width": int(width), "height": int(height)})
    if distortion:
        prim.SetCustomDataByKey(
            DISTORTION_KEY, {str(k): (v if isinstance(v, str) else float(v)) for k, v in distortion.items()}
        )
    for key, value in (custom_data or {}).items():
        prim.SetCustomDataByKey(key, value)
    return camera


def moved_pose(camera_to_world: np.ndarray, transform: Similarity) -> np.ndarray:
    """A camera pose [4, 4] (rigid, any camera axes) moved by a world similarity: the centre goes to
    ``transform(centre)``, the axes rotate; the scale changes where the camera is, never its intrinsics (an image
    does not change with the units). Any scale on the pose's own axes is removed."""
    pose = np.asarray(camera_to_world, dtype=np.float64)
    axes = pose[:3, :3] / np.linalg.norm(pose[:3, :3], axis=0, keepdims=True)
    moved = np.eye(4)
    moved[:3, :3] = transform.rotation @ axes
    moved[:3, 3] = transform.apply_points(pose[:3, 3][None])[0]
    return moved


def move_camera(prim: Any, transform: Similarity) -> None:
    """Move a camera prim by a world similarity (:func:`moved_pose`)."""
    moved = moved_pose(world_matrix(prim), transform)
    parent_world = world_matrix(prim.GetParent())
    _pose_ops(prim, np.linalg.inv(parent_world) @ moved)


def prim_name(name: str) -> str:
    """A valid USD prim name for a camera named ``name`` (an image stem): characters USD does not allow become
    ``_``, a leading digit gets a ``cam_`` prefix (``000123`` -> ``cam_000123``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "camera"
    return f"cam_{cleaned}" if cleaned[0].isdigit() else cleaned


def _stage_path(stage: Usd.Stage) -> str:
    return stage.GetRootLayer().identifier


def stored_image_size(prim: Any) -> tuple[int, int] | None:
    """(width, height) [px] an imported camera was calibrated at, or None for a camera without one."""
    data = prim.GetCustomDataByKey(IMAGE_KEY)
    if not data:
        return None
    return int(data["width"]), int(data["height"])


def camera_from_usd_prim(
    stage: Usd.Stage, prim_path: str, *, width: int | None = None, height: int | None = None
) -> Camera:
    """A :class:`Camera` from a ``UsdGeom.Camera`` prim: focal length, apertures, offsets, clipping, transform.

    A camera with a stored image size (``customData["splattwin:image"]``, every imported one) gets its exact
    intrinsics at that size (fx and fy from the two apertures, non-square pixels included), scaled to
    ``width`` x ``height`` when those differ. A camera without one (authored elsewhere) has square pixels and
    the window fitted to the image width (USD's "fit horizontally"); it needs ``width`` and ``height``. Either
    way the aperture offsets move the window as ``Gf.Camera``'s frustum does.

    Raises:
        InputError: no such prim, a prim that is not a camera, a non-positive focal length or aperture, a
            clipping range that is not 0 < near < far, or no size at all (the message names the stage file).
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    where = _stage_path(stage)
    prim = stage.GetPrimAtPath(prim_path) if prim_path.startswith("/") else Usd.Prim()
    if not prim:
        raise InputError(where, f"no prim at {prim_path!r} (give an absolute prim path of a Camera)")
    if not prim.IsA(UsdGeom.Camera):
        raise InputError(where, f"{prim_path} is a {prim.GetTypeName() or 'typeless'} prim, not a Camera")
    camera = UsdGeom.Camera(prim)
    values = {
        "focal length": camera.GetFocalLengthAttr().Get(),
        "horizontal aperture": camera.GetHorizontalApertureAttr().Get(),
        "vertical aperture": camera.GetVerticalApertureAttr().Get(),
    }
    for what, value in values.items():
        if value is None or not (np.isfinite(float(value)) and float(value) > 0):
            raise InputError(where, f"camera {prim_path} has an impossible {what} {value} (must be > 0)")
    offsets = [camera.GetHorizontalApertureOffsetAttr().Get(), camera.GetVerticalApertureOffsetAttr().Get()]
    h_offset, v_offset = (float(v or 0.0) for v in offsets)
    if not (np.isfinite(h_offset) and np.isfinite(v_offset)):
        raise InputError(where, f"camera {prim_path} has a NaN or Inf aperture offset ({h_offset}, {v_offset})")
    near, far = (float(v) for v in camera.GetClippingRangeAttr().Get())
    if not (0 < near < far):
        raise InputError(where, f"camera {prim_path} has a clipping range ({near}, {far}); need 0 < near < far")
    stored = stored_image_size(prim)
    if stored is None and (width is None or height is None):
        raise InputError(where, f"camera {prim_path} has no stored image size; give one (--size WxH)")
    size = stored if stored is not None else (int(width), int(height))  # type: ignore[arg-type]
    K = intrinsics_from_usd(  # noqa: N806
        focal_length=float(values["focal length"]),
        horizontal_aperture=float(values["horizontal aperture"]),
        vertical_aperture=float(values["vertical aperture"]) if stored is not None else None,
        horizontal_offset=h_offset,
        vertical_offset=v_offset,
        width=size[0],
        height=size[1],
    )
    out_w, out_h = (size[0] if width is None else int(width)), (size[1] if height is None else int(height))
    if (out_w, out_h) != size:
        # A resized image: pixel coordinates (edges at 0 and W) scale with the image.
        K = np.diag([out_w / size[0], out_h / size[1], 1.0]) @ K  # noqa: N806
    camera_to_world = world_matrix(prim) @ USD_TO_OPENCV_CAMERA
    # Remove any scale on the camera's transform: only its position and orientation matter.
    axes = camera_to_world[:3, :3]
    camera_to_world[:3, :3] = axes / np.linalg.norm(axes, axis=0, keepdims=True)
    return Camera(viewmat=np.linalg.inv(camera_to_world), K=K, width=out_w, height=out_h, near=near, far=far)


def read_cameras(stage: Usd.Stage) -> dict[str, Camera]:
    """Every camera under ``/World/Cameras`` as a :class:`Camera` at its stored image size, in the world frame.

    Returns:
        prim name -> Camera (stage order); empty when the twin has no cameras.

    Raises:
        InputError: a camera prim there with impossible intrinsics or no stored image size (names the prim).
    """
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    root = stage.GetPrimAtPath(CAMERAS_PATH)
    if not root:
        return {}
    cameras: dict[str, Camera] = {}
    for prim in Usd.PrimRange(root):
        if prim.IsA(UsdGeom.Camera) and prim.IsActive():
            cameras[prim.GetName()] = camera_from_usd_prim(stage, str(prim.GetPath()))
    return cameras


def cameras_by_name(stage: Usd.Stage, names: list[str], flag: str = "--camera") -> list[Camera]:
    """The twin's cameras named by ``names`` (a name under ``/World/Cameras`` or a full prim path), in that order;
    an unknown name is an :class:`~splattwin.errors.InputError` on ``flag`` listing the cameras there are."""
    available = read_cameras(stage)
    by_path = {f"{CAMERAS_PATH}/{k}": v for k, v in available.items()}
    out = []
    for name in names:
        camera = available.get(name, by_path.get(name))
        if camera is None:
            known = ", ".join(sorted(available)) or "none"
            raise InputError(flag, f"no camera {name!r} on the stage (cameras: {known})")
        out.append(camera)
    return out
