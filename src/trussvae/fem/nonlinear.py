"""Large-deformation uniaxial compression of periodic beam lattices: :func:`uniaxial_compression`.

Formulation (details and validation in ``docs/fem_nonlinear.md``):

* struts: corotational 3D beams (:mod:`trussvae.fem.corotational`), ``n_sub`` (default 2)
  elements per strut with the interior nodes condensed strut by strut
  (:mod:`trussvae.fem.nonlinear_cell`); linear-elastic base material ``E_s, nu_s``;
* cell: node positions ``x = F X + w`` with periodic fluctuations ``w`` and periodic nodal
  rotations; ``F`` is kept upper triangular (``F21 = F31 = F32 = 0`` removes the rigid
  rotation), ``F33 = 1 - eps`` is prescribed and the free components ``F11, F22, F12, F13, F23``
  are unknowns with zero conjugate nominal stress (lateral faces traction free, the Cauchy
  stress is exactly uniaxial along e3). ``confined=True`` fixes all of F except F33 to identity;
* output: nominal stress ``P33 = (1/V0) dW/dF33`` (force on the top face per reference
  area); compressive strain ``eps = 1 - F33`` and compressive stress ``-P33`` are positive;
* solver: at every prescribed ``F33`` the equilibrium is a minimum of the cell energy over the
  free unknowns; it is found with a trust-region Newton method on the exact (symmetric)
  Hessian, which steps along negative-curvature directions when the Hessian is indefinite, so
  bifurcations are followed onto the stable (buckled) branch and snap-throughs under strain
  control jump to the next stable state. Instabilities are located by bisection on ``eps``
  (``result.instabilities``). Adaptive increments with a second-order predictor (tangent +
  change of the tangent over the last increment); step cutting on failure; ``status="failed"``
  with the reason if the step falls below ``min_step``;
* labelling: :func:`compression_labels` skips the bisection (labels are unchanged), stops each path at
  the last label strain and can run several worker processes (``n_jobs``); the dense linear algebra always
  runs single-threaded (multithreaded OpenBLAS on these small matrices is ~50x slower on shared cores).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from trussvae.fem.beam import beam_flag
from trussvae.fem.blas import single_threaded_blas as _single_thread_blas
from trussvae.fem.corotational import element_properties, reference_triads
from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S, LABEL_STRAINS  # LABEL_STRAINS re-exported
from trussvae.fem.linear import MechanismError, mechanism_reason
from trussvae.fem.nonlinear_cell import COLLAPSED, NON_FINITE, OK, SINGULAR, apply_update, evaluate, newton, tangent

__all__ = ["CompressionResult", "uniaxial_compression", "compression_labels", "LABEL_STRAINS", "BucklingResult",
           "linear_buckling", "strut_compression_rates"]


@dataclass
class CompressionResult:
    """Outcome of :func:`uniaxial_compression` (strains and stresses compressive-positive, units E_s)."""

    strain: np.ndarray
    stress: np.ndarray
    path_strain: np.ndarray
    path_stress: np.ndarray
    status: str
    reason: str
    max_strain_reached: float
    final_positions: np.ndarray | None = None
    final_struts: np.ndarray | None = None
    path_F: np.ndarray | None = None
    path_energy: np.ndarray | None = None
    instabilities: list = field(default_factory=list)
    initial_modulus: float = float("nan")
    increments: int = 0
    iterations: int = 0
    seconds: float = 0.0
    work: dict = field(default_factory=dict)  # assemblies, cholesky, eigh, tangents, shifted_cholesky (counts)
    #: end strains of the converged increments whose iteration met an indefinite Hessian (stability lost
    #: there: the state reached depends on the path, e.g. which post-buckled branch)
    unstable_increments: list = field(default_factory=list)
    #: increments that converged only in their last try with the larger iteration budget (``rescue_iter``)
    rescues: int = 0
    #: Newton iterations of each converged increment (aligned with ``path_strain[1:]``), its failed tries at
    #: larger steps and the bisection of an instability included; ``iterations`` minus their sum is the
    #: reference equilibrium's
    path_iterations: list = field(default_factory=list)


class _Cell:
    """Discretised cell: chains of nodes per strut, element data, DOF layout, state."""

    def __init__(self, frame, n_sub, imperfection, seed, E_s, nu_s, beam, shallow, confined):
        N, S = frame.n_nodes, frame.n_struts
        X = frame.node_positions()
        Dst = frame.strut_vectors()
        lengths = np.linalg.norm(Dst, axis=1)
        self.l_ref = float(frame.cell_volume() ** (1 / 3))
        M = N + S * (n_sub - 1)
        chain = np.zeros((S, n_sub + 1), np.int64)
        chain[:, 0], chain[:, -1] = frame.struts[:, 0], frame.struts[:, 1]
        pos = np.zeros((S, n_sub + 1, 3))
        for k in range(n_sub + 1):
            pos[:, k] = X[frame.struts[:, 0]] + Dst * (k / n_sub)
        for k in range(1, n_sub):
            chain[:, k] = N + np.arange(S) * (n_sub - 1) + (k - 1)
        if imperfection:
            rng = np.random.default_rng(seed)
            delta = imperfection * lengths.mean() * rng.uniform(-1.0, 1.0, (M, 3))
            delta[0] = 0.0
            pos += delta[chain]
        Xall = np.zeros((M, 3))
        Xall[chain[:, :-1].ravel()] = pos[:, :-1].reshape(-1, 3)
        Xall[chain[:, -1]] = pos[:, -1] - frame.shifts @ frame.lattice_vectors
        self.Dvec = np.ascontiguousarray(np.diff(pos, axis=1).reshape(-1, 3))
        self.l0 = np.linalg.norm(self.Dvec, axis=1)
        self.E0 = reference_triads(self.Dvec)
        radii = np.repeat(frame.radii(), n_sub)
        tim = beam_flag(beam)
        self.props = np.ascontiguousarray(np.column_stack(element_properties(self.l0, radii, E_s, nu_s, tim)))
        self.chain, self.n_sub, self.N, self.M, self.X = chain, n_sub, N, M, Xall
        self.shallow = int(shallow)
        self.V0 = frame.cell_volume()
        self.frame = frame
        nnd = 6 * N - 3
        self.n_full = nnd + 9
        free_F = [] if confined else [(0, 0), (1, 1), (0, 1), (0, 2), (1, 2)]
        self.free = np.concatenate([np.arange(nnd), [nnd + 3 * p + q for p, q in free_F]]).astype(np.int64)
        self.i33 = nnd + 8
        self.ea = float(np.mean(self.props[:, 0]))
        self.w_ref = self.ea * self.l_ref  # energy / force*length scale
        scale = np.ones(self.n_full)  # u = Ds z: translations scaled by l_ref, rotations and F not
        for k in range(1, N):
            scale[6 * k - 3:6 * k] = self.l_ref
        self.Ds = scale[self.free]
        self.geo = (self.chain, self.Dvec, self.E0, self.props, self.l0)
        self.X_buf = np.zeros((S, max(6 * (n_sub - 1), 1), 22))
        # state
        self.w = np.zeros((M, 3))
        self.R = np.tile(np.eye(3), (M, 1, 1))
        self.F = np.eye(3)

    def state(self):
        return self.w.copy(), self.R.copy(), self.F.copy()

    def set_state(self, st):
        self.w, self.R, self.F = st[0].copy(), st[1].copy(), st[2].copy()

    def evaluate(self):
        n = self.n_full
        K, r, gF, out = np.zeros((n, n)), np.zeros(n), np.zeros(9), np.zeros(3)
        X = np.zeros_like(self.X_buf)
        evaluate(self.geo, self.n_sub, self.shallow, self.w, self.R, self.F, K, r, gF, X, out, True)
        return _Eval(out[0], r, K, gF, X, int(round(out[1])), out[2])

    def step(self, dfull, X, alpha=1.0):
        apply_update(self.chain, self.n_sub, self.N, self.w, self.R, self.F, dfull, X, 1.0, alpha)

    def positions(self):
        """(M, 3) current Cartesian positions of all nodes (cell nodes first)."""
        return self.X @ self.F.T + self.w


@dataclass
class _Eval:
    W: float
    r: np.ndarray
    K: np.ndarray
    gF: np.ndarray
    X: np.ndarray
    neg: int
    quad: float


_MESSAGES = {NON_FINITE: "non-finite residual or tangent", SINGULAR: "singular tangent",
             COLLAPSED: "trust region collapsed"}


class _Solver:
    """Trust-region Newton solver of one cell; the iteration runs in :func:`nonlinear_cell.newton`.

    The evaluation at the current state lives in preallocated buffers ``K, r, gF, X, out``."""

    def __init__(self, cell, tol, max_iter, rng):
        self.c, self.tol, self.max_iter = cell, float(tol), int(max_iter)
        self.rand = rng.random(256)  # the (rare) hard-case sign draws, in order
        self.rpos = np.zeros(1, np.int64)
        self.iterations = 0
        # assemblies, Newton Cholesky, eigen-decompositions, tangents, shifted Cholesky (Moré-Sorensen)
        self.counts = np.zeros(5, np.int64)
        n = cell.n_full
        self.K, self.r, self.gF, self.out = np.zeros((n, n)), np.zeros(n), np.zeros(9), np.zeros(3)
        self.X = np.zeros_like(cell.X_buf)
        self.L = np.zeros((len(cell.free), len(cell.free)))  # Cholesky factor at the last converged state

    @property
    def W(self):
        return float(self.out[0])

    def solve(self, minimise=True, radius=0.05, extrapolate=False):
        """Equilibrium at the current F33. Returns (ok, unstable_seen, pd, message). ``extrapolate``: the
        last Newton step without its evaluation (``nonlinear_cell.newton``; the load path only)."""
        c = self.c
        code, its, unstable, pd = newton(c.geo, c.n_sub, c.shallow, c.N, c.free, c.Ds, c.l_ref, c.w_ref, c.w, c.R,
                                         c.F, self.K, self.r, self.gF, self.X, self.out, minimise, float(radius),
                                         self.tol, self.max_iter, self.rand, self.rpos, self.counts,
                                         self.L, c.i33, bool(extrapolate))
        self.iterations += its
        if code == OK:
            return True, unstable, pd, ""
        return False, unstable, False, _MESSAGES.get(code, f"no convergence in {self.max_iter} iterations")

    def tangent(self):
        """(dstate/dF33 predictor in full numbering, dP33/dF33) at a converged state (after a successful
        :meth:`solve` with ``minimise=True``, whose Cholesky factor it reuses)."""
        c = self.c
        d = np.zeros(c.n_full)
        self.counts[3] += 1
        return d, float(tangent(self.K, self.L, c.free, c.Ds, c.i33, c.V0, d))


def uniaxial_compression(frame, max_strain: float = 0.25, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S,
                         beam: str = DEFAULT_BEAM, confined: bool = False, imperfection: float = 1e-3,
                         seed: int = 0, n_sub: int = 2, shallow: bool = True, first_step: float = 0.005,
                         max_step: float = 0.02, min_step: float = 1e-6, bifurcation_tol: float | None = 0.02,
                         tol: float = 1e-9, max_iter: int = 40, max_increments: int = 400,
                         time_limit: float | None = None, extrapolate: bool = True,
                         rescue_iter: int = 200) -> CompressionResult:
    """Uniaxial compression along e3 of a periodic lattice up to ``max_strain`` (see module doc).

    Parameters
    ----------
    frame : PeriodicFrame.  max_strain : final compressive strain ``1 - F33``.
    E_s, nu_s, beam : base material and beam model (``"timoshenko"``/``"euler_bernoulli"``).
    confined : fix all other components of F to the identity (no lateral expansion, no shear).
    imperfection, seed : random node-position perturbation, amplitude ``imperfection`` times the
        mean strut length, uniform per component, on cell nodes and strut interior nodes.
    n_sub : corotational elements per strut (interior nodes condensed).  shallow : bowing term.
    first_step, max_step, min_step : increment control (strain).  bifurcation_tol : relative
        precision of the located instability strains (``None``: no bisection).
    tol : residual tolerance relative to ``mean(E_s A) * V^(1/3)``.  max_iter : per increment.
    rescue_iter : iteration budget of one last try of an increment whose step cannot be cut any further
        (below ``min_step``), before the run fails: a snap-through at fixed strain can need more than
        ``max_iter`` trust-region iterations at any step size (0 or ``<= max_iter``: no rescue). Paths that
        never reach that point are unchanged.
    time_limit : seconds of the load path (after the reference equilibrium, which on a process's first
        call also compiles the numba kernels); the run stops with ``status="failed"`` when exceeded.
    extrapolate : in the quadratic regime of Newton's method, take an increment's last step without
        evaluating the state it leads to when its residual is predicted below ``tol / 10``
        (``nonlinear_cell.newton``; ~1/6 fewer assemblies; the labels agree with ``False`` to the tolerance).

    Returns
    -------
    CompressionResult ; ``stress`` at :data:`LABEL_STRAINS` (NaN above the strain reached).

    Raises
    ------
    MechanismError
        If the lattice is disconnected or does not span three directions.
    """
    with _single_thread_blas():
        return _uniaxial_compression(frame, max_strain, E_s, nu_s, beam, confined, imperfection, seed, n_sub,
                                     shallow, first_step, max_step, min_step, bifurcation_tol, tol, max_iter,
                                     max_increments, time_limit, extrapolate, rescue_iter)


def _uniaxial_compression(frame, max_strain, E_s, nu_s, beam, confined, imperfection, seed, n_sub, shallow,
                          first_step, max_step, min_step, bifurcation_tol, tol, max_iter, max_increments,
                          time_limit, extrapolate, rescue_iter):
    t_start = time.perf_counter()
    why = mechanism_reason(frame)
    if why is not None:
        raise MechanismError(why)
    if not (0 < max_strain < 1):
        raise ValueError(f"max_strain must be in (0, 1), got {max_strain}")
    cell = _Cell(frame, int(n_sub), float(imperfection), seed, float(E_s), float(nu_s), beam, shallow,
                 confined)
    solver = _Solver(cell, tol, max_iter, np.random.default_rng(seed))
    ok, _, _, msg = solver.solve()
    if not ok:  # an imperfect cell is stress free, so this only fails for broken input (or a tangent that
        # is not positive definite at zero strain)
        raise MechanismError(f"reference state not a stable equilibrium: {msg}")
    pred, e0 = solver.tangent()  # converged with minimise=True: the Hessian is positive definite
    # the time limit counts the load path from here: the reference solve above also compiles the numba
    # kernels on a process's first call (~30 s CPU with a cold cache), which must not fail that structure
    t0 = time.perf_counter()
    X_conv = solver.X.copy()  # interior back-substitution data of the last converged state
    targets = np.unique(np.concatenate([LABEL_STRAINS[LABEL_STRAINS < max_strain], [max_strain]]))
    path_e, path_s, path_F, path_W = [0.0], [0.0], [cell.F.copy()], [0.0]
    path_its, its_done = [], solver.iterations  # iterations per converged increment; counted up to here
    instab, unstable_at = [], []
    eps, dstep = 0.0, float(first_step)
    status, reason, n_inc = "converged", f"reached max_strain {max_strain}", 0
    radius = 0.05
    curv = None
    rescued, n_rescues = False, 0  # rescue of the current increment used; rescues of the path

    def record(e):
        nonlocal its_done
        path_e.append(e)
        path_s.append(-solver.gF[8] / cell.V0)
        path_F.append(cell.F.copy())
        path_W.append(solver.W)
        path_its.append(solver.iterations - its_done)
        its_done = solver.iterations

    while eps < max_strain - 1e-12:
        if n_inc >= max_increments:
            status, reason = "failed", f"too many increments ({max_increments})"
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            status, reason = "failed", f"time limit {time_limit} s exceeded"
            break
        n_inc += 1
        nxt = targets[np.searchsorted(targets, eps + 1e-12, side="right")]
        h = min(dstep, nxt - eps)
        saved = cell.state()
        d = h * pred
        if curv is not None:  # second-order predictor (change of the tangent over the last increment)
            d += (0.5 * h * h) * curv
        cell.step(-d, X_conv)  # F33 decreases by h
        cell.F[2, 2] = 1.0 - (eps + h)
        it0 = solver.iterations
        ok, unstable, pd, msg = solver.solve(radius=radius, extrapolate=extrapolate)
        solver.max_iter = max_iter  # (after a rescue)
        if not ok:
            cell.set_state(saved)
            dstep = h / 4
            if dstep < min_step:
                if rescue_iter > max_iter and not rescued:  # one last try of this step, a larger budget
                    rescued, dstep, solver.max_iter = True, h, int(rescue_iter)
                    n_rescues += 1
                    continue
                status, reason = "failed", f"no convergence at strain {eps + h:.5g} (step {h:.2g}): {msg}"
                break
            continue
        rescued = False
        if unstable and bifurcation_tol and h > bifurcation_tol * (eps + h):
            instab.append(_locate(cell, solver, saved, eps, eps + h, bifurcation_tol))
        eps += h
        if unstable:
            unstable_at.append(eps)
        record(eps)
        X_conv[...] = solver.X
        pred_old = pred
        pred, _ = solver.tangent()
        curv = None if unstable else (pred - pred_old) / h
        used = solver.iterations - it0
        # the step size is not reduced when an increment was shortened to land on a target strain
        if used <= 4:
            dstep = min(max_step, max(dstep, h) * 2.0)
        elif used > 10:
            dstep = max(h * 0.5, min_step)
    strain = LABEL_STRAINS.copy()
    pe, ps = np.array(path_e), np.array(path_s)
    stress = np.full(len(strain), np.nan)
    for k, s in enumerate(strain):
        hit = np.flatnonzero(np.abs(pe - s) < 1e-9)
        if len(hit):
            stress[k] = ps[hit[-1]]
    X = cell.positions()
    fr = cell.frame
    pts = X[cell.chain].copy()
    pts[:, -1] += fr.shifts @ fr.lattice_vectors @ cell.F.T
    return CompressionResult(strain=strain, stress=stress, path_strain=pe, path_stress=ps, status=status,
                             reason=reason, max_strain_reached=float(pe[-1]), final_positions=X[:cell.N],
                             final_struts=pts, path_F=np.array(path_F),
                             path_energy=np.array(path_W) / cell.V0,
                             instabilities=instab, initial_modulus=e0, increments=n_inc,
                             iterations=solver.iterations, seconds=time.perf_counter() - t_start,
                             work=dict(zip(("assemblies", "cholesky", "eigh", "tangents", "shifted_cholesky"),
                                           solver.counts.tolist())), unstable_increments=unstable_at,
                             rescues=n_rescues, path_iterations=path_its)


def _locate(cell, solver, saved, lo, hi, rtol):
    """Bisection (plain Newton, no escape) for the strain where the cell Hessian loses definiteness.

    The state and the solver's evaluation buffers are restored (those of the converged end ``hi``)."""
    stable_state = saved
    end_state = cell.state()
    buffers = [b.copy() for b in (solver.K, solver.r, solver.gF, solver.X, solver.out, solver.L)]
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        cell.set_state(stable_state)
        cell.F[2, 2] = 1.0 - mid
        ok, _, pd, _ = solver.solve(minimise=False)
        if ok and pd:
            lo, stable_state = mid, cell.state()
        else:
            hi = mid
    cell.set_state(end_state)
    for dst, src in zip((solver.K, solver.r, solver.gF, solver.X, solver.out, solver.L), buffers):
        dst[...] = src
    return 0.5 * (lo + hi)


@dataclass
class BucklingResult:
    """Linearised buckling of the uniaxial-compression load path (:func:`linear_buckling`).

    ``strains`` (n_modes,): the smallest critical compressive strains, ascending (``inf`` where the
    cell has fewer unstable modes); ``initial_modulus``: dP33/dF33 at zero strain (E3 of the cell).

    With ``second_order=True`` also (NaN otherwise):

    * ``second_order_strain``: the first critical strain of the analysis repeated at
      ``second_order_at`` (half the first linearised critical strain, at most 0.05) on the solved load
      path: the linearisation there sees the pre-buckling rotations of the struts (``inf`` if stable);
    * ``tangent_ratio``: dP33/dF33 at ``second_order_at`` over ``initial_modulus`` (pre-buckling softening);
    * ``sway_share``: the share of the first mode (of all modes within 1 % of its critical strain, a
      basis-independent measure for repeated modes) in the cell's free F components, in the solver's
      scaled unknowns: ~1 for a macroscopic shear / sway mode, ~0 for a local strut mode;
    * ``close_modes``: the number of critical strains within 1.5x the first (0 if none is finite).
    """

    strains: np.ndarray
    initial_modulus: float
    second_order_strain: float = float("nan")
    second_order_at: float = float("nan")
    tangent_ratio: float = float("nan")
    sway_share: float = float("nan")
    close_modes: float = float("nan")


#: the second-order analysis of :func:`linear_buckling`: where on the path (a fraction of the first linearised
#: critical strain, capped), the path increments, modes counted as one cluster / as close
_SECOND_AT, _SECOND_AT_MAX, _SECOND_STEP, _CLUSTER_RTOL, _CLOSE = 0.5, 0.05, 0.005, 0.01, 1.5


def linear_buckling(frame, n_modes: int = 3, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S,
                    beam: str = DEFAULT_BEAM, confined: bool = False, imperfection: float = 1e-3, seed: int = 0,
                    n_sub: int = 2, shallow: bool = True, h: float = 1e-5,
                    second_order: bool = False) -> BucklingResult:
    """Critical strains of the linearised buckling problem of :func:`uniaxial_compression` (same cell,
    loading, imperfection and discretisation): the smallest ``eps > 0`` with ``K0 + eps K_G`` singular,
    where ``K0`` is the Hessian of the cell energy over the free unknowns at the reference equilibrium and
    ``K_G = (K(h) - K0) / h`` its change along the (linear) load path, from one solve at strain ``h``.

    With ``K0 = L L^T`` the critical strains are ``-1/mu`` of the negative eigenvalues ``mu`` of
    ``L^-1 K_G L^-T``. Two Hessians and one symmetric eigen-decomposition: ~10 ms for a generated cell,
    ~1/10 of a 13-point curve. It predicts where the curve leaves the linear branch (docs/fem_nonlinear.md,
    "Linearised buckling"); it is a feature of the nonlinear predictor (``model.curve_features=buckling``).

    ``second_order=True`` adds the mode character and a second-order estimate (:class:`BucklingResult`):
    the load path is solved (the labels' Newton solver, increments of 0.005) to half the first critical
    strain and the analysis repeated there; ~4x the cost (``model.curve_features=buckling2``).

    Raises
    ------
    MechanismError
        If the lattice is disconnected, does not span three directions, or its reference state is not
        a stable equilibrium.
    """
    if not 0 < h < 1e-2:
        raise ValueError(f"h must be in (0, 0.01), got {h}")
    if int(n_modes) < 1:
        raise ValueError(f"n_modes must be >= 1, got {n_modes}")
    with _single_thread_blas():
        cell, solver, pred, e0 = _reference_state(frame, E_s, nu_s, beam, confined, imperfection, seed, n_sub,
                                                  shallow)
        K0, KG, msg = _hessian_change(cell, solver, pred, 0.0, h)
        if KG is None:
            raise MechanismError(f"no equilibrium at strain {h:g}: {msg}")
        mu, V = _buckling_pencil(K0, KG, vectors=second_order)
        strains = np.full(int(n_modes), np.inf)
        neg = mu[mu < 0][: int(n_modes)]
        strains[:len(neg)] = -1.0 / neg
        res = BucklingResult(strains=strains, initial_modulus=float(e0))
        if second_order:
            _second_order(res, cell, solver, mu, V, e0, h)
    return res


def strut_compression_rates(frame, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S, beam: str = DEFAULT_BEAM,
                            confined: bool = False, imperfection: float = 1e-3, seed: int = 0, n_sub: int = 2,
                            shallow: bool = True) -> tuple[np.ndarray, float]:
    """The linear response of :func:`uniaxial_compression`'s cell (same settings) to compression along e3:
    each strut's axial compressive strain per unit macroscopic compressive strain (``(n_struts,)``, > 0: the
    strut shortens; from the chord between its end nodes, the reference tangent ``dstate/dF33``), and the
    initial modulus ``dP33/dF33`` (E3 of the cell, units of E_s). One reference equilibrium and one solve
    (~2 ms for a generated cell).

    Raises
    ------
    MechanismError
        If the lattice is disconnected, does not span three directions, or its reference state is not
        a stable equilibrium.
    """
    with _single_thread_blas():
        _, _, pred, e0 = _reference_state(frame, E_s, nu_s, beam, confined, imperfection, seed, n_sub, shallow)
    n = frame.n_nodes
    dw = np.zeros((n, 3))
    dw[1:] = pred[3:6 * n - 3].reshape(n - 1, 6)[:, :3]  # node 0's translations are fixed
    dF = pred[6 * n - 3:].reshape(3, 3)
    D = frame.strut_vectors()
    dd = D @ dF.T + dw[frame.struts[:, 1]] - dw[frame.struts[:, 0]]  # chord change per unit F33 (periodic: the
    # image shift is a multiple of the lattice vectors, carried by F)
    return np.einsum("ij,ij->i", D, dd) / np.einsum("ij,ij->i", D, D), float(e0)


def _reference_state(frame, E_s, nu_s, beam, confined, imperfection, seed, n_sub, shallow):
    """The labels' cell at its reference equilibrium (tolerance 1e-10): ``(cell, solver, dstate/dF33, dP33/dF33)``;
    MechanismError for a mechanism (:func:`~trussvae.fem.linear.mechanism_reason`) or if it is not a stable
    equilibrium."""
    why = mechanism_reason(frame)
    if why is not None:
        raise MechanismError(why)
    cell = _Cell(frame, int(n_sub), float(imperfection), seed, float(E_s), float(nu_s), beam, shallow, confined)
    solver = _Solver(cell, 1e-10, 40, np.random.default_rng(seed))
    ok, _, _, msg = solver.solve()
    if not ok:
        raise MechanismError(f"reference state not a stable equilibrium: {msg}")
    pred, e0 = solver.tangent()
    return cell, solver, pred, e0


def _hessian_change(cell, solver, pred, eps, h):
    """(K, (K(eps + h) - K) / h, message) over the free unknowns (scaled) at a converged state at strain
    ``eps``; the solver is left at ``eps + h``. ``None`` for the change (and the solver's message) if that
    solve fails."""
    free, D = cell.free, cell.Ds
    K = solver.K[np.ix_(free, free)] * D[:, None] * D[None, :]
    cell.step(-h * pred, solver.X.copy())
    cell.F[2, 2] = 1.0 - (eps + h)
    ok, _, _, msg = solver.solve()
    if not ok:
        return K, None, msg
    return K, (solver.K[np.ix_(free, free)] * D[:, None] * D[None, :] - K) / h, ""


def _buckling_pencil(K, KG, vectors=False):
    """Eigenvalues ``mu`` (ascending) of ``L^-1 KG L^-T`` (``K = L L^T``), with the modes ``L^-T y`` in the
    free unknowns when ``vectors``. Raises LinAlgError if ``K`` is not positive definite."""
    L = cholesky(0.5 * (K + K.T), lower=True)
    A = solve_triangular(L, solve_triangular(L, KG, lower=True).T, lower=True)
    A = 0.5 * (A + A.T)
    if not vectors:
        return np.linalg.eigvalsh(A), None
    mu, Y = np.linalg.eigh(A)
    return mu, solve_triangular(L.T, Y, lower=False)


def _second_order(res, cell, solver, mu, V, e0, h):
    """Fill the second-order fields of ``res`` (:func:`linear_buckling`); the solver is at strain ``h``."""
    crit = np.where(mu < 0, -1.0 / np.where(mu < 0, mu, -1.0), np.inf)
    eps1 = crit[0] if mu[0] < 0 else np.inf
    res.close_modes = float(np.sum(crit <= _CLOSE * eps1)) if np.isfinite(eps1) else 0.0
    n_f = len(cell.free) - (6 * cell.N - 3)  # the free F components come last
    if np.isfinite(eps1) and n_f:
        cluster = V[:, crit <= eps1 * (1.0 + _CLUSTER_RTOL)]  # share invariant to the basis of a repeated mode
        res.sway_share = float(np.sum(cluster[-n_f:] ** 2) / np.sum(cluster ** 2))
    else:
        res.sway_share = 0.0
    s = min(_SECOND_AT * eps1, _SECOND_AT_MAX)
    eps = h
    pred, et = solver.tangent()
    while eps < s - 1e-12:  # the labels' path (Newton from the tangent predictor) up to s
        step = min(_SECOND_STEP, s - eps)
        cell.step(-step * pred, solver.X.copy())
        cell.F[2, 2] = 1.0 - (eps + step)
        ok, _, _, _ = solver.solve()
        if not ok:
            return
        eps += step
        pred, et = solver.tangent()
    res.second_order_at, res.tangent_ratio = float(eps), float(et / e0)
    K, KG, _ = _hessian_change(cell, solver, pred, eps, h)
    if KG is None:
        return
    try:
        mu2, _ = _buckling_pencil(K, KG)
    except np.linalg.LinAlgError:  # the path lost stability before s: it buckles there
        res.second_order_strain = float(eps)
        return
    res.second_order_strain = float(eps - 1.0 / mu2[0]) if mu2[0] < 0 else float("inf")


#: recorded with every chunk of nonlinear labels (``labels/nonlinear/chunk-*.json``, key ``solver``): the
#: algorithm that made them. Revisions agree to the solver tolerance except where a path crosses an
#: instability, where a post-buckled state may differ (docs/fem_nonlinear.md, Speed). Unrecorded = revision 1
#: (eigen-decomposition trust-region steps, every state evaluated, paths to ``max_strain``). Revision 3 differs
#: from 2 only where 2 failed (the rescue, ``rescue_iter``): every curve 2 converged is the same.
SOLVER_REVISION = ("3: trust-region Newton (Moré-Sorensen steps, eigh in the hard case), the last Newton step of "
                   "an increment extrapolated below tol/10, paths to the last label strain, a 200-iteration rescue "
                   "of an increment at the smallest step (revision 2 where that converged)")


def last_label_strain(max_strain: float) -> float:
    """The largest of :data:`LABEL_STRAINS` not above ``max_strain`` (``max_strain`` itself if none is): where
    a labelling path can stop, since the path beyond it adds no label (0.245 for the default 0.25)."""
    below = LABEL_STRAINS[LABEL_STRAINS <= max_strain + 1e-12]
    return float(below[-1]) if len(below) else float(max_strain)


def _label_one(frame, max_strain, time_limit, kwargs):
    """(stress (13,), ok, reason) of one structure; exceptions become the reason. The path stops at the last
    label strain (:func:`last_label_strain`): the labels are those of the path to ``max_strain``."""
    try:
        res = uniaxial_compression(frame, max_strain=last_label_strain(max_strain), time_limit=time_limit,
                                   **kwargs)
        ok = res.status == "converged"
        return res.stress, ok, "" if ok else res.reason
    except Exception as exc:  # noqa: BLE001 - one bad structure must not stop the batch
        return np.full(len(LABEL_STRAINS), np.nan), False, f"{type(exc).__name__}: {exc}"


def _label_chunk(args):
    frames, max_strain, time_limit, kwargs = args
    with _single_thread_blas():
        return [_label_one(fr, max_strain, time_limit, kwargs) for fr in frames]


def compression_labels(frames, max_strain: float = 0.25, time_limit: float | None = 60.0, n_jobs: int = 1,
                       chunk_size: int = 4, **kwargs):
    """13-point compression labels of many frames; one failure never stops the batch.

    ``kwargs`` go to :func:`uniaxial_compression`; for labelling ``bifurcation_tol`` defaults to
    ``None`` here (the labels do not depend on locating instabilities, which costs ~40 % of the time)
    and ``tol`` to ``1e-7`` (13 % fewer Newton iterations; labels within 4e-5 of the peak stress of
    those at ``tol=1e-9`` on 40 generated lattices).
    ``n_jobs`` > 1 runs chunks of ``chunk_size`` structures in that many worker processes
    (``fork`` where available, else ``spawn``; results in input order).

    Returns
    -------
    stress : (n, 13) float, NaN where not reached.  ok : (n,) bool, True if the run converged to
    the last label strain not above ``max_strain`` (:func:`last_label_strain`: the path stops there, the last
    increment to ``max_strain`` adds no label).
    reasons : list of str ("" for success, else the failure / exception text).
    """
    frames = list(frames)
    kwargs.setdefault("bifurcation_tol", None)
    kwargs.setdefault("tol", 1e-7)
    n_jobs = max(1, min(int(n_jobs), len(frames)))
    chunks = [frames[k:k + chunk_size] for k in range(0, len(frames), max(1, int(chunk_size)))]
    tasks = [(c, max_strain, time_limit, kwargs) for c in chunks]
    if n_jobs == 1:
        rows = [r for t in tasks for r in _label_chunk(t)]
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(n_jobs, mp_context=ctx) as ex:
            rows = [r for part in ex.map(_label_chunk, tasks) for r in part]
    stress = np.full((len(frames), len(LABEL_STRAINS)), np.nan)
    ok = np.zeros(len(frames), bool)
    reasons = []
    for k, (st, good, why) in enumerate(rows):
        stress[k], ok[k] = st, good
        reasons.append(why)
    return stress, ok, reasons
