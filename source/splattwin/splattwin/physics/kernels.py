"""Warp kernels of the push simulation: only ``@wp.func`` and ``@wp.kernel`` definitions, named verb-first.

Batch layout: index ``b`` runs over trajectories (several pushes of one object, or of many objects, in one
launch); ``p`` over an object's contact points. State arrays are ``[steps + 1, B]`` (one row per step, never
overwritten, so ``wp.Tape`` can replay them); the per-point bristle state is ``[steps + 1, B, P]``. Parameters
are indexed through ``param_index[b]`` so several trajectories can share one object's parameters.

Quaternions here are Warp's ``wp.quat`` (x, y, z, w); the solver converts from wxyz at its boundary.
"""

from __future__ import annotations

import warp as wp

__all__ = [
    "accumulate_pose_loss",
    "accumulate_table_contacts",
    "compute_closest_point_on_triangle",
    "find_closest_faces",
    "integrate_bodies",
]


@wp.func
def compute_closest_point_on_triangle(p: wp.vec3, a: wp.vec3, b: wp.vec3, c: wp.vec3) -> wp.vec3:
    """Closest point to ``p`` on triangle ``abc`` (Ericson, Real-Time Collision Detection 5.1.5); differentiable."""
    ab = b - a
    ac = c - a
    ap = p - a
    d1 = wp.dot(ab, ap)
    d2 = wp.dot(ac, ap)
    if d1 <= 0.0 and d2 <= 0.0:
        return a
    bp = p - b
    d3 = wp.dot(ab, bp)
    d4 = wp.dot(ac, bp)
    if d3 >= 0.0 and d4 <= d3:
        return b
    vc = d1 * d4 - d3 * d2
    if vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0:
        return a + ab * (d1 / (d1 - d3))
    cp = p - c
    d5 = wp.dot(ab, cp)
    d6 = wp.dot(ac, cp)
    if d6 >= 0.0 and d5 <= d6:
        return c
    vb = d5 * d2 - d1 * d6
    if vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0:
        return a + ac * (d2 / (d2 - d6))
    va = d3 * d6 - d5 * d4
    if va <= 0.0 and (d4 - d3) >= 0.0 and (d5 - d6) >= 0.0:
        return b + (c - b) * ((d4 - d3) / ((d4 - d3) + (d5 - d6)))
    denom = 1.0 / (va + vb + vc)
    return a + ab * (vb * denom) + ac * (vc * denom)


@wp.kernel
def find_closest_faces(
    step: int,
    mesh_ids: wp.array[wp.uint64],
    mesh_index: wp.array[wp.int32],
    body_x: wp.array2d[wp.vec3],
    body_q: wp.array2d[wp.quat],
    pusher_x: wp.array2d[wp.vec3],
    max_distance: float,
    faces: wp.array2d[wp.int32],
):
    """Triangle nearest the fingertip centre, per trajectory (BVH query; launched outside the tape: it has no
    useful derivative and its adjoint gave NaN)."""
    b = wp.tid()
    local = wp.quat_rotate_inv(body_q[step, b], pusher_x[step, b] - body_x[step, b])
    query = wp.mesh_query_point_no_sign(mesh_ids[mesh_index[b]], local, max_distance)
    if query.result:
        faces[step, b] = query.face
    else:
        faces[step, b] = -1


@wp.kernel
def accumulate_table_contacts(
    step: int,
    dt: float,
    points_body: wp.array2d[wp.vec3],
    point_count: wp.array[wp.int32],
    support_count: wp.array[float],
    param_index: wp.array[wp.int32],
    log_mass: wp.array[float],
    table_friction: wp.array[float],
    table_height: wp.array[float],
    table_omega: float,
    table_damping_ratio: float,
    body_x: wp.array2d[wp.vec3],
    body_q: wp.array2d[wp.quat],
    body_v: wp.array2d[wp.vec3],
    body_w: wp.array2d[wp.vec3],
    bristle: wp.array3d[wp.vec3],
    force: wp.array2d[wp.vec3],
    torque: wp.array2d[wp.vec3],
):
    """Penalty normal force and bristle (stick-slip) friction of each contact point against the table plane.

    Stiffnesses scale with the body's mass (``m * omega^2`` shared by the supporting points), so the resting
    penetration (``g / omega^2``) and the stability margin do not depend on the mass being identified. Friction is a
    tangential spring-damper capped at ``mu * fn``: it holds a resting object still (no creep) and slides at the cap.
    """
    b, p = wp.tid()
    if p >= point_count[b]:
        bristle[step + 1, b, p] = wp.vec3(0.0, 0.0, 0.0)
        return
    k = param_index[b]
    mass = wp.exp(log_mass[k])
    q = body_q[step, b]
    r = wp.quat_rotate(q, points_body[b, p])
    x = body_x[step, b] + r
    v = body_v[step, b] + wp.cross(body_w[step, b], r)
    depth = table_height[b] - x[2]
    if depth <= 0.0:
        bristle[step + 1, b, p] = wp.vec3(0.0, 0.0, 0.0)
        return
    per_point = mass / support_count[b]
    kn = per_point * table_omega * table_omega
    cn = 2.0 * table_damping_ratio * per_point * table_omega
    fn = wp.max(kn * depth - cn * v[2], 0.0)
    vt = wp.vec3(v[0], v[1], 0.0)
    trial = bristle[step, b, p] + vt * dt
    ft = -kn * trial - cn * vt
    cap = table_friction[k] * fn
    size = wp.sqrt(wp.dot(ft, ft) + 1.0e-20)  # not wp.length: its derivative at 0 is NaN
    if size > cap:
        ratio = cap / size
        ft = ft * ratio
        trial = trial * ratio
    bristle[step + 1, b, p] = trial
    f = wp.vec3(ft[0], ft[1], fn)
    wp.atomic_add(force, step, b, f)
    wp.atomic_add(torque, step, b, wp.cross(r, f))


@wp.kernel
def integrate_bodies(
    step: int,
    dt: float,
    gravity: wp.vec3,
    mesh_ids: wp.array[wp.uint64],
    mesh_index: wp.array[wp.int32],
    mesh_points: wp.array[wp.vec3],
    mesh_faces: wp.array[wp.int32],
    face_offset: wp.array[wp.int32],
    faces: wp.array2d[wp.int32],
    param_index: wp.array[wp.int32],
    log_mass: wp.array[float],
    log_contact_stiffness: wp.array[float],
    inertia_unit: wp.array[wp.mat33],
    pusher_radius: wp.array[float],
    pusher_mass: wp.array[float],
    pusher_kp: wp.array[float],
    pusher_kd: wp.array[float],
    pusher_friction: wp.array[float],
    contact_damping_ratio: float,
    target_x: wp.array2d[wp.vec3],
    target_v: wp.array2d[wp.vec3],
    force: wp.array2d[wp.vec3],
    torque: wp.array2d[wp.vec3],
    body_x: wp.array2d[wp.vec3],
    body_q: wp.array2d[wp.quat],
    body_v: wp.array2d[wp.vec3],
    body_w: wp.array2d[wp.vec3],
    pusher_x: wp.array2d[wp.vec3],
    pusher_v: wp.array2d[wp.vec3],
):
    """Fingertip-object contact on the pre-found face, the fingertip's PD drive, semi-implicit Euler for both."""
    b = wp.tid()
    k = param_index[b]
    mass = wp.exp(log_mass[k])
    q = body_q[step, b]
    x = body_x[step, b]
    v = body_v[step, b]
    w = body_w[step, b]
    px = pusher_x[step, b]
    pv = pusher_v[step, b]
    f_body = force[step, b]
    t_body = torque[step, b]
    f_pusher = wp.vec3(0.0, 0.0, 0.0)
    face = faces[step, b]
    if face >= 0:
        base = face_offset[mesh_index[b]]
        ia = mesh_faces[base + 3 * face + 0]
        ib = mesh_faces[base + 3 * face + 1]
        ic = mesh_faces[base + 3 * face + 2]
        pa = mesh_points[ia]
        pb = mesh_points[ib]
        pc = mesh_points[ic]
        local = wp.quat_rotate_inv(q, px - x)
        closest = compute_closest_point_on_triangle(local, pa, pb, pc)
        offset = local - closest
        distance = wp.sqrt(wp.dot(offset, offset) + 1.0e-20)
        face_normal = wp.normalize(wp.cross(pb - pa, pc - pa))
        side = wp.dot(offset, face_normal)
        radius = pusher_radius[b]
        normal_local = face_normal
        depth = radius + distance
        if side >= 0.0:
            depth = radius - distance
            if distance > 1.0e-9:
                normal_local = offset / distance
        if depth > 0.0:
            normal = wp.quat_rotate(q, normal_local)
            r = wp.quat_rotate(q, closest)
            relative = pv - (v + wp.cross(w, r))
            approach = -wp.dot(relative, normal)
            reduced = mass * pusher_mass[b] / (mass + pusher_mass[b])
            # In series with the explicit-Euler stability limit (0.5 m / dt^2): stays stable for every mass tried.
            limit = 0.5 * reduced / (dt * dt)
            kc_raw = wp.exp(log_contact_stiffness[k])
            kc = kc_raw * limit / (kc_raw + limit)
            cc = 2.0 * contact_damping_ratio * wp.sqrt(kc * reduced)
            fn = wp.max(kc * depth + cc * approach, 0.0)
            sliding = relative + normal * approach
            speed = wp.sqrt(wp.dot(sliding, sliding) + 1.0e-6)
            # Regularised Coulomb: a viscous slope mu fn / speed near sticking. Where it exceeds the explicit-Euler
            # damping limit (~ m_red / dt; a heavy object pressed hard, e.g. a 1 kg bottle: 780 N s/m against the
            # fingertip's free vertical axis) the stick phase chatters and the tape gradient grows without bound
            # (1e20 and NaN). In series with 0.5 m_red / dt, like k_c: unchanged where it was stable.
            slope = pusher_friction[b] * fn / speed
            slope_limit = 0.5 * reduced / dt
            slope = slope * slope_limit / (slope + slope_limit)
            f_pusher = normal * fn - sliding * slope
            f_body = f_body - f_pusher
            t_body = t_body + wp.cross(r, -f_pusher)
    drive = pusher_kp[b] * (target_x[step, b] - px) + pusher_kd[b] * (target_v[step, b] - pv)
    pv_next = pv + (drive + f_pusher) * (dt / pusher_mass[b])
    pusher_v[step + 1, b] = pv_next
    pusher_x[step + 1, b] = px + pv_next * dt
    v_next = v + (f_body / mass + gravity) * dt
    rotation = wp.quat_to_matrix(q)
    inertia = rotation * (inertia_unit[b] * mass) * wp.transpose(rotation)
    w_next = w + wp.inverse(inertia) * (t_body - wp.cross(w, inertia * w)) * dt
    body_v[step + 1, b] = v_next
    body_w[step + 1, b] = w_next
    body_x[step + 1, b] = x + v_next * dt
    spin = wp.quat(w_next[0], w_next[1], w_next[2], 0.0) * q
    body_q[step + 1, b] = wp.normalize(q + spin * (0.5 * dt))


@wp.kernel
def accumulate_pose_loss(
    observed_step: wp.array2d[wp.int32],
    observed_x: wp.array2d[wp.vec3],
    observed_q: wp.array2d[wp.quat],
    observed_pusher: wp.array2d[wp.vec3],
    pusher_weight: wp.array[float],
    sample_weight: wp.array2d[float],
    length_scale: float,
    body_x: wp.array2d[wp.vec3],
    body_q: wp.array2d[wp.quat],
    pusher_x: wp.array2d[wp.vec3],
    loss: wp.array[float],
):
    """``0.5 * w * (|dx|^2 + l^2 |dtheta|^2 + wp^2 |dpusher|^2)`` per observation, summed per trajectory.

    ``dtheta`` is the rotation vector of ``q_sim * conj(q_obs)`` (small-angle: twice its vector part, sign of
    the shortest arc), ``l`` [m/rad] weighs orientation against position.
    """
    i, b = wp.tid()
    s = observed_step[i, b]
    dx = body_x[s, b] - observed_x[i, b]
    dq = body_q[s, b] * wp.quat_inverse(observed_q[i, b])
    sign = 1.0
    if dq[3] < 0.0:
        sign = -1.0
    dtheta = wp.vec3(dq[0], dq[1], dq[2]) * (2.0 * sign * length_scale)
    dp = (pusher_x[s, b] - observed_pusher[i, b]) * pusher_weight[b]
    value = 0.5 * sample_weight[i, b] * (wp.dot(dx, dx) + wp.dot(dtheta, dtheta) + wp.dot(dp, dp))
    wp.atomic_add(loss, b, value)
