"""Linear FE homogenization of periodic beam lattices: :func:`homogenize`, :func:`homogenize_many`.

Every strut is one exact frame element (:mod:`trussvae.fem.beam`), the cell has periodic
boundary conditions (:mod:`trussvae.fem.periodic`), and the six unit macro-strain load cases
share one dense Cholesky factorisation (LAPACK ``dpotrf``/``dtrtrs`` called from numba) of the
reduced fluctuation stiffness ``K`` (``n = 6 N - 3``). The effective stiffness is the energy
form

``C = (K_ee - F K^{-1} F^T) / V``   (Voigt 11, 22, 33, 23, 13, 12, engineering shear, units of E_s)

symmetrised. Conventions: :mod:`trussvae.fem.elasticity`.

Mechanisms. For rigid-jointed frames the reduced system is positive definite exactly when the
periodic network is connected (one component of the quotient graph) and its cycles span three
directions, and then ``C`` is positive definite too. Anything else raises
:class:`MechanismError`; detection is topological (:meth:`PeriodicFrame.periodic_connectivity`)
and numerical (Cholesky failure, pivot ``L_kk^2 / K_kk`` below :data:`PIVOT_TOL`, or
``min eig C / max eig C`` below :data:`STIFFNESS_TOL`). Interpenetrating copies (periodic index
> 1) are fine: the cell-periodic problem is regular and ``C`` is their sum.
"""

from __future__ import annotations

import ctypes
import logging
from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np
from numba.extending import get_cython_function_address

from trussvae.fem.beam import beam_flag
from trussvae.fem.blas import single_threaded_blas
from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S
from trussvae.fem.periodic import assemble_packed

__all__ = ["MechanismError", "homogenize", "homogenize_many", "mechanism_reason", "pack_frames", "PIVOT_TOL",
           "STIFFNESS_TOL"]

log = logging.getLogger(__name__)

#: smallest accepted Cholesky pivot relative to the original diagonal entry
PIVOT_TOL = 1e-11
#: smallest accepted ratio of the extreme eigenvalues of C
STIFFNESS_TOL = 1e-10

_OK, _NOT_PD, _TINY_PIVOT, _C_SINGULAR, _TOPOLOGY = 0, 1, 2, 3, 4


class MechanismError(ValueError):
    """The lattice cannot carry load in some direction (mechanism / singular cell system)."""


def _lapack(name: str, n_args: int):
    addr = get_cython_function_address("scipy.linalg.cython_lapack", name)
    return ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n_args))(addr)


# passed to the kernel as arguments (first-class functions), so the kernel stays cacheable
_DPOTRF = _lapack("dpotrf", 5)  # uplo, n, a, lda, info
_DTRTRS = _lapack("dtrtrs", 10)  # uplo, trans, diag, n, nrhs, a, lda, b, ldb, info


@nb.njit(cache=True, nogil=True)
def solve_batch(s_begin, s_end, node_off, strut_off, cells, nodes, struts, shifts, radii, E, nu,
                timoshenko, pivot_tol, stop_after, potrf, trtrs, C, status, detail):
    """Homogenize structures ``s_begin .. s_end-1`` of a packed batch (in place).

    Parameters
    ----------
    node_off, strut_off : (S+1,) offsets of each structure into ``nodes`` (N_tot, 3, fractional)
        and ``struts`` (E_tot, 2, local node indices), ``shifts`` (E_tot, 3), ``radii`` (E_tot,).
    cells : (S, 3, 3) lattice vectors (rows).  E, nu : base material.  timoshenko : 1 or 0.
    pivot_tol : smallest accepted Cholesky pivot ratio ``L_kk^2 / K_kk`` (else status 2).
    stop_after : 3 = full solve; 1 = geometry + assembly only, 2 = + factorisation (timing).
    potrf, trtrs : LAPACK ``dpotrf`` / ``dtrtrs`` (ctypes functions).
    C : (S, 6, 6) output.  status : (S,) int64 output (0 ok, 1 not positive definite,
        2 tiny pivot).  detail : (S,) float64 output (failing reduced DOF or min pivot ratio).
    """
    uplo = np.array([76], np.uint8)  # 'L'
    notrans = np.array([78], np.uint8)  # 'N'
    nonunit = np.array([78], np.uint8)  # 'N'
    nrhs = np.array([6], np.int32)
    nn = np.zeros(1, np.int32)
    info = np.zeros(1, np.int32)
    for s in range(s_begin, s_end):
        K, F, Kee, n_used, vol = assemble_packed(s, node_off, strut_off, cells, nodes, struts, shifts, radii, E, nu,
                                                 timoshenko)
        n = 6 * n_used - 3
        if stop_after == 1:
            continue
        diag = np.empty(n)
        for p in range(n):
            diag[p] = K[p, p]
        nn[0] = n
        info[0] = 0
        potrf(uplo.ctypes, nn.ctypes, K.ctypes, nn.ctypes, info.ctypes)
        if info[0] != 0:
            status[s] = 1
            detail[s] = info[0] - 1
            continue
        worst = np.inf
        for p in range(n):
            ratio = K[p, p] * K[p, p] / diag[p]
            if ratio < worst:
                worst = ratio
                detail[s] = p
        if worst < pivot_tol:
            status[s] = 2
            continue
        detail[s] = worst
        if stop_after == 2:
            continue
        # F^T K^-1 F = Y^T Y with L Y = F: one triangular solve with 6 right-hand sides
        trtrs(uplo.ctypes, notrans.ctypes, nonunit.ctypes, nn.ctypes, nrhs.ctypes, K.ctypes, nn.ctypes,
              F.ctypes, nn.ctypes, info.ctypes)
        for a in range(6):
            for b in range(a, 6):
                acc = 0.0
                for p in range(n):
                    acc += F[a, p] * F[b, p]
                v = (0.5 * (Kee[a, b] + Kee[b, a]) - acc) / vol
                C[s, a, b] = v
                C[s, b, a] = v
        status[s] = 0


def mechanism_reason(frame) -> str | None:
    """Topological reason why ``frame`` is a mechanism, or ``None`` if it spans 3D connectedly."""
    n_comp, rank = frame.periodic_connectivity()[:2]
    if n_comp > 1:
        return f"disconnected: the cell has {n_comp} separate strut networks (each can translate freely)"
    if rank < 3:
        return (f"periodic rank {rank} < 3: load paths span only {rank} lattice direction(s), "
                "so the lattice has no stiffness in some direction")
    return None


def pack_frames(frames):
    """Concatenate the raw arrays of many frames (no per-frame numpy work beyond a copy)."""
    n = len(frames)
    node_off = np.zeros(n + 1, np.int64)
    strut_off = np.zeros(n + 1, np.int64)
    node_off[1:] = np.cumsum([fr.n_nodes for fr in frames])
    strut_off[1:] = np.cumsum([fr.n_struts for fr in frames])
    radii = np.empty(strut_off[-1])
    for s, fr in enumerate(frames):
        radii[strut_off[s]:strut_off[s + 1]] = fr.radius
    cat = np.concatenate
    return (node_off, strut_off, np.array([fr.lattice_vectors for fr in frames]).reshape(n, 3, 3),
            cat([fr.nodes for fr in frames]).reshape(-1, 3), cat([fr.struts for fr in frames]).reshape(-1, 2),
            cat([fr.shifts for fr in frames]).reshape(-1, 3), radii)


def _chunks(costs: np.ndarray, n_jobs: int) -> list[tuple[int, int]]:
    """Contiguous ranges of roughly equal total cost."""
    cum = np.concatenate([[0.0], np.cumsum(costs)])
    cuts = np.searchsorted(cum, np.linspace(0, cum[-1], n_jobs + 1)[1:-1])
    bounds = [0, *[int(c) for c in cuts], len(costs)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _check_material(E_s, nu_s):
    if not (np.isfinite(E_s) and E_s > 0):
        raise ValueError(f"E_s must be positive and finite, got {E_s}")
    if not (np.isfinite(nu_s) and -1.0 < nu_s < 0.5):
        raise ValueError(f"nu_s must be in (-1, 0.5), got {nu_s}")


def homogenize_many(frames, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S, beam: str = DEFAULT_BEAM,
                    errors: str = "raise", return_errors: bool = False, n_jobs: int = 1,
                    check_topology: bool = True, _stop_after: int = 3):
    """Effective stiffness of many periodic frames in one batched numba call.

    Parameters
    ----------
    frames : sequence of :class:`~trussvae.fem.frame.PeriodicFrame` (radii already set, e.g. by
        ``frame.with_relative_density(DEFAULT_RELATIVE_DENSITY)``).
    E_s, nu_s : base material (defaults: :mod:`trussvae.fem.elasticity`).
    beam : ``"timoshenko"`` or ``"euler_bernoulli"``.
    errors : ``"raise"`` (default) raises :class:`MechanismError` at the first mechanism;
        ``"nan"`` fills that structure's tensor with NaN and carries on.
    return_errors : also return the list of reasons (``None`` for good structures).
    n_jobs : threads running the (GIL-free) kernel on contiguous slices of the batch.
    check_topology : run the cheap topological check on every frame first (otherwise only on
        frames that fail numerically, to explain them).

    Returns
    -------
    C : (n, 6, 6) stiffness, Voigt 11, 22, 33, 23, 13, 12, engineering shear, units of E_s.
    reasons : list of ``str | None`` (only if ``return_errors``).
    """
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
    _check_material(E_s, nu_s)
    timo = beam_flag(beam)
    frames = list(frames)
    n = len(frames)
    reasons: list[str | None] = [None] * n
    if check_topology:
        for s, fr in enumerate(frames):
            reasons[s] = mechanism_reason(fr)
            if reasons[s] is not None and errors == "raise":
                raise MechanismError(f"structure #{s}: {reasons[s]}")
    C = np.full((n, 6, 6), np.nan)
    status = np.full(n, _TOPOLOGY, np.int64)
    detail = np.zeros(n)
    todo = [s for s in range(n) if reasons[s] is None]
    if todo:
        packed = pack_frames([frames[s] for s in todo])
        m = len(todo)
        Cw, stw, dw = np.full((m, 6, 6), np.nan), np.zeros(m, np.int64), np.zeros(m)

        def run(rng):
            with single_threaded_blas():
                solve_batch(rng[0], rng[1], *packed, float(E_s), float(nu_s), timo, PIVOT_TOL,
                            int(_stop_after), _DPOTRF, _DTRTRS, Cw, stw, dw)

        sizes = (6.0 * np.diff(packed[0]) - 3.0) ** 3
        ranges = _chunks(sizes, max(1, int(n_jobs)))
        if len(ranges) <= 1:
            for r in ranges:
                run(r)
        else:
            with ThreadPoolExecutor(len(ranges)) as pool:
                list(pool.map(run, ranges))
        idx = np.asarray(todo)
        C[idx], status[idx], detail[idx] = Cw, stw, dw
    if _stop_after < 3:
        return C
    ok = status == _OK
    if ok.any():
        eig = np.linalg.eigvalsh(C[ok])
        bad = eig[:, 0] <= STIFFNESS_TOL * eig[:, -1]
        where = np.flatnonzero(ok)[bad]
        status[where] = _C_SINGULAR
        detail[where] = eig[bad, 0] / eig[bad, -1]
    for s in np.flatnonzero(status != _OK):
        if reasons[s] is None:
            reasons[s] = mechanism_reason(frames[s]) or _numeric_reason(int(status[s]), detail[s])
        C[s] = np.nan
        if errors == "raise":
            raise MechanismError(f"structure #{s}: {reasons[s]}")
        log.debug("structure #%d is a mechanism: %s", s, reasons[s])
    return (C, reasons) if return_errors else C


def _numeric_reason(status: int, detail: float) -> str:
    if status in (_NOT_PD, _TINY_PIVOT):
        node, comp = divmod(int(detail) + 3, 6)
        what = "not positive definite" if status == _NOT_PD else "near-singular (tiny Cholesky pivot)"
        name = ("u_x", "u_y", "u_z", "theta_x", "theta_y", "theta_z")[comp]
        return f"numerical mechanism: cell stiffness {what} at node {node} DOF {name}"
    return f"numerical mechanism: effective stiffness not positive definite (eig min/max = {detail:.3g})"


def homogenize(frame, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S, beam: str = DEFAULT_BEAM) -> np.ndarray:
    """(6, 6) effective stiffness of one periodic frame (see :func:`homogenize_many`).

    Raises
    ------
    MechanismError
        If the lattice is disconnected, spans fewer than three directions, or its cell system is
        numerically singular; the message names the problem.
    """
    try:
        return homogenize_many([frame], E_s=E_s, nu_s=nu_s, beam=beam)[0]
    except MechanismError as exc:
        raise MechanismError(str(exc).removeprefix("structure #0: ")) from None
