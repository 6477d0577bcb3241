"""A cheap post-buckling estimate of the compression curve: sequentially linear analysis with buckled struts.

The labels (:func:`trussvae.fem.nonlinear.uniaxial_compression`) follow the cell through its instabilities with
a large-deformation beam model, ~40 ms a curve. This module estimates the same curve from the *linear* cell
(the exact beam elements of :mod:`trussvae.fem.periodic`, the same lateral conditions) by letting struts buckle
one by one, as an event-driven piecewise-linear analysis:

* strut ``s`` (radius ``r``, length ``L``, axial stiffness ``k_s = E_s pi r^2 L`` per squared axial strain)
  buckles when its compressive axial strain reaches its Euler strain ``eps_E = f pi^2 r^2 / (4 L_c^2)``
  (``f = 1``: pinned ends; ``f = 4``: fixed ends; the real end restraint lies between) with ``L_c`` the length
  of its straight chain (``L`` unless it continues straight through nodes without other struts,
  :func:`chain_lengths`);
* after that it carries (about) its critical force: its axial tangent stiffness drops to the initial
  post-buckling stiffness of the Euler elastica, ``rho_s k_s`` with ``rho_s = eps_E / 2``; buckling is not
  undone (an estimate: a strut unloading again would recover its stiffness at ``eps_E``);
* between events the cell's tangent is linear: the struts' axial strain rates ``e`` (per unit macroscopic
  compression) and the tangent modulus ``E_t`` change only when a strut buckles.

Everything lives in strut space. With the free unknowns ``x`` (periodic fluctuations, and the macroscopic
strains other than ``eps33`` unless ``confined``), the stiffness ``A``, the load column ``b`` of ``eps33`` and
the strut strain operator ``e = G x + g3``, the unbuckled response is ``x0 = -A^-1 b``, ``e0 = G x0 + g3`` and
``E0 V = k33 - b^T A^-1 b``. Removing ``c_s = (1 - rho_s) k_s`` of the struts of the buckled set ``B`` is a
rank-``|B|`` change of ``A``; with ``H = G A^-1 G^T`` (Woodbury):

``(I - C^1/2 H_BB C^1/2) C^1/2 e_B = C^1/2 e0_B``,  ``e = e0 + H_:B C e_B``,  ``E_t V = E0 V - e0_B^T C e_B``

(the matrix on the left is the tangent's Schur complement: positive definite as long as the tangent is). One
factorisation of ``A`` with the struts as right-hand sides, then a bordered Cholesky update per buckling
event: ~3 ms for a generated cell (both end conditions). The simple cubic cell gives its closed form (linear to
the Euler strain of its columns, then the elastica's plateau; tested).

Used as a predictor input (``model.curve_features=postbuckling``, :func:`trussvae.data.physics.postbuckling_features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from trussvae.fem.blas import single_threaded_blas
from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S, LABEL_STRAINS, VOIGT_ORDER
from trussvae.fem.linear import MechanismError, mechanism_reason
from trussvae.fem.periodic import VOIGT_STRAIN_BASIS, assemble_system

__all__ = ["StrutBucklingCurves", "strut_buckling_curves", "euler_strains", "chain_lengths", "END_FACTORS"]

#: Euler-strain factors of the end conditions: pinned, fixed
END_FACTORS = (1.0, 4.0)
#: two struts at a node of degree 2 are one straight column when the cosine between them is below -this
_COLLINEAR = 0.999
#: the Voigt index of eps33 and those left free under uniaxial stress along e3 (all others)
_E33 = VOIGT_ORDER.index((2, 2))
_FREE_STRAINS = tuple(m for m in range(len(VOIGT_ORDER)) if m != _E33)


@dataclass
class StrutBucklingCurves:
    """Outcome of :func:`strut_buckling_curves` (compressive-positive, units of E_s).

    ``stress`` (n_factors, n_strains): the estimated nominal stress at each strain, per end condition;
    ``buckled`` (n_factors, n_strains): the share of the struts buckled there; ``initial_modulus``: the linear
    cell's E3 (lateral conditions as the labels'); ``rates`` (n_struts,): the unbuckled struts' compressive axial
    strain per unit macroscopic compression; ``buckled_struts`` (n_factors, n_struts): buckled at the last
    strain."""

    strains: np.ndarray
    stress: np.ndarray
    buckled: np.ndarray
    initial_modulus: float
    rates: np.ndarray
    buckled_struts: np.ndarray


def strut_buckling_curves(frame, strains=LABEL_STRAINS, factors=END_FACTORS, E_s: float = DEFAULT_E_S,
                          nu_s: float = DEFAULT_NU_S, beam: str = DEFAULT_BEAM,
                          confined: bool = False) -> StrutBucklingCurves:
    """Sequentially linear compression curve of ``frame`` along e3 with struts buckling at their Euler strain
    (module docstring), at the increasing compressive ``strains``, for each Euler-strain factor in ``factors``.

    Raises
    ------
    MechanismError
        If the lattice is disconnected or does not span three directions, or its stiffness is singular.
    ValueError
        If ``strains`` are not increasing and positive, or a factor is not positive.
    """
    strains = np.asarray(strains, dtype=float)
    if strains.ndim != 1 or len(strains) == 0 or strains[0] <= 0 or np.any(np.diff(strains) <= 0):
        raise ValueError(f"strains must be positive and increasing, got {strains}")
    factors = np.asarray(factors, dtype=float)
    if factors.ndim != 1 or np.any(factors <= 0):
        raise ValueError(f"factors must be positive, got {factors}")
    why = mechanism_reason(frame)
    if why is not None:
        raise MechanismError(why)
    with single_threaded_blas():
        e0, H, E0V, k = _unbuckled_response(frame, float(E_s), float(nu_s), beam, bool(confined))
    V = frame.cell_volume()
    stress = np.zeros((len(factors), len(strains)))
    share = np.zeros_like(stress)
    final = np.zeros((len(factors), len(e0)), bool)
    pinned = euler_strains(frame)  # the chains once; the factors scale it
    for i, f in enumerate(factors):
        eps_e = f * pinned
        c = (1.0 - np.minimum(eps_e / 2.0, 1.0)) * k
        stress[i], share[i], final[i] = _march(strains, e0, H, E0V / V, c, eps_e, V)
    return StrutBucklingCurves(strains=strains, stress=stress, buckled=share, initial_modulus=E0V / V, rates=e0,
                               buckled_struts=final)


def euler_strains(frame, factor: float = 1.0) -> np.ndarray:
    """(n_struts,) Euler buckling strains ``factor pi^2 r^2 / (4 L_c^2)`` of the struts (``factor`` 1: pinned, 4:
    fixed ends), with ``L_c`` the length of the straight chain the strut belongs to (:func:`chain_lengths`)."""
    return factor * np.pi**2 * frame.radii()**2 / (4.0 * chain_lengths(frame)**2)


def chain_lengths(frame, cos_tol: float = _COLLINEAR) -> np.ndarray:
    """(n_struts,) length of the straight chain of each strut: struts meeting at a node that has no other strut
    and continuing in the same direction (``cos < -cos_tol`` between the two, pointing away from the node) are
    one column, which buckles as a whole (that node gives no lateral support). A strut elsewhere: its own
    length. A chain closing on itself through the periodic images (a straight line through the cell with no
    other support) is a column of the period's length."""
    ends, length = frame.struts, frame.strut_lengths()
    t = frame.strut_vectors() / length[:, None]
    parent = np.arange(len(ends))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    degree = np.bincount(ends.ravel(), minlength=frame.n_nodes)
    for k in np.flatnonzero(degree == 2):
        (a, end_a), (b, end_b) = zip(*np.nonzero(ends == k))
        if a == b:  # a strut from node k to its own image
            continue
        da = t[a] if end_a == 0 else -t[a]  # pointing away from node k
        db = t[b] if end_b == 0 else -t[b]
        if da @ db < -cos_tol:
            parent[root(a)] = root(b)
    roots = np.array([root(a) for a in range(len(ends))])
    return np.bincount(roots, weights=length, minlength=len(ends))[roots]


def _system(frame, E_s, nu_s, beam, confined):
    """The linear cell under compression along e3 over its free unknowns ``x`` (fluctuations; the other
    macroscopic strains unless ``confined``): stiffness ``A``, load column ``b`` and ``k33`` of ``eps33``, the
    strut axial strains ``e = G x + g3 eps33``."""
    K, F, Kee = assemble_system(frame, E_s, nu_s, beam)
    n = K.shape[0]
    fs = [] if confined else list(_FREE_STRAINS)
    A = np.zeros((n + len(fs), n + len(fs)))
    A[:n, :n] = K
    A[:n, n:] = F[fs].T
    A[n:, :n] = F[fs]
    A[n:, n:] = Kee[np.ix_(fs, fs)]
    b = np.concatenate([F[_E33], Kee[fs, _E33]])
    D = frame.strut_vectors()
    length = np.linalg.norm(D, axis=1)
    t = D / length[:, None]
    S = len(D)
    G = np.zeros((S, n + len(fs)))
    rows = np.arange(S)
    for end, sign in ((1, 1.0), (0, -1.0)):  # translations of the end nodes (node 0's are fixed: no DOF)
        node = frame.struts[:, end]
        for comp in range(3):
            dof = 6 * node + comp - 3
            ok = dof >= 0
            np.add.at(G, (rows[ok], dof[ok]), sign * t[ok, comp] / length[ok])
    voigt = np.einsum("si,mij,sj->sm", t, VOIGT_STRAIN_BASIS, t)  # axial strain of each unit Voigt strain
    G[:, n:] = voigt[:, fs]
    return A, b, float(Kee[_E33, _E33]), G, voigt[:, _E33]


def _unbuckled_response(frame, E_s, nu_s, beam, confined):
    """(compressive strut strain rates e0 (S,), H = G A^-1 G^T (S, S), E0 V, axial stiffnesses k (S,))."""
    A, b, k33, G, g3 = _system(frame, E_s, nu_s, beam, confined)
    try:
        fac = cho_factor(A, lower=True)
    except np.linalg.LinAlgError as err:
        raise MechanismError(f"the cell's stiffness is singular: {err}") from None
    X = cho_solve(fac, np.column_stack([b, G.T]))
    x0 = -X[:, 0]
    E0V = k33 + b @ x0
    if not E0V > 0:
        raise MechanismError(f"no stiffness along e3 (E3 V = {E0V:g})")
    e0 = G @ x0 + g3  # elongation per unit extension = shortening per unit compression
    H = G @ X[:, 1:]
    k = E_s * np.pi * frame.radii()**2 * frame.strut_lengths()
    return e0, 0.5 * (H + H.T), float(E0V), k


def _march(strains, e0, H, E0, c, eps_e, V):
    """Event-driven integration of one curve: (stress at ``strains``, share of the struts buckled there, the
    buckled struts at the last)."""
    S = len(e0)
    sq = np.sqrt(c)
    Hs = sq[:, None] * H * sq[None, :]  # scaled: I - Hs_BB is the tangent's Schur complement
    buckled = np.zeros(S, bool)
    order = np.zeros(0, np.int64)  # buckled struts in the order of the factor's rows
    L = np.zeros((0, 0))
    e, Et = e0.copy(), E0
    strain_s = np.zeros(S)  # the struts' compressive strains
    eps, sigma = 0.0, 0.0
    stress, share = np.zeros(len(strains)), np.zeros(len(strains))
    for j, target in enumerate(strains):
        while eps < target:
            cand = (~buckled) & (e > 0)
            dt = np.full(S, np.inf)
            dt[cand] = np.maximum(eps_e[cand] - strain_s[cand], 0.0) / e[cand]
            step = min(dt.min(), target - eps)
            sigma += Et * step
            strain_s += e * step
            eps += step
            new = np.flatnonzero(cand & (dt <= step * (1 + 1e-9) + 1e-15))
            if len(new) == 0:
                break  # reached the target strain
            L = _border(L, Hs, order, new)
            buckled[new] = True
            order = np.concatenate([order, new])
            z = cho_solve((L, True), sq[order] * e0[order])  # C^1/2 e_B
            e = e0 + H[:, order] @ (sq[order] * z)
            Et = E0 - (e0[order] * sq[order]) @ z / V
        eps = target
        stress[j], share[j] = sigma, buckled.mean()
    return stress, share, buckled


def _border(L, Hs, order, new):
    """Lower Cholesky factor of ``I - Hs`` over ``order + new`` from that over ``order`` (bordered update)."""
    M = np.eye(len(new)) - Hs[np.ix_(new, new)]
    if len(order):
        W = solve_triangular(L, -Hs[np.ix_(order, new)], lower=True)
        M = M - W.T @ W
    else:
        W = np.zeros((0, len(new)))
    try:
        Lnew = np.linalg.cholesky(0.5 * (M + M.T))
    except np.linalg.LinAlgError:
        raise MechanismError("the buckled cell has no stiffness left (a mechanism)") from None
    n0 = len(order)
    out = np.zeros((n0 + len(new), n0 + len(new)))
    out[:n0, :n0] = L
    out[n0:, :n0] = W.T
    out[n0:, n0:] = Lnew
    return out
