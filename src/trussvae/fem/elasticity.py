"""Elasticity conventions and derived properties -- THE single place stating them.

Conventions used everywhere in ``trussvae`` (FE homogenization, datasets, models, plots):

* **Voigt order** ``[11, 22, 33, 23, 13, 12]`` (indices 0-5).
* **Engineering shear strains**: the strain vector is ``[e11, e22, e33, 2 e23, 2 e13, 2 e12]``
  and the stress vector ``[s11, s22, s33, s23, s13, s12]``, so ``sigma = C eps`` and the energy
  density is ``1/2 eps^T C eps`` with the 6x6 Voigt stiffness ``C``. ``C[3, 3]`` is the shear
  modulus ``G23`` and ``C[a, b] = C_ijkl`` (tensor components) for all ``a, b``. The compliance
  is ``S = C^{-1}`` in the same convention, so ``S_ijkl = S[a, b] / (w_a w_b)`` with ``w = 1`` for
  normal and ``w = 2`` for shear indices (e.g. ``S_2323 = S[3, 3] / 4``).
* **Mandel** (orthonormal) form: ``C_M = W C W`` and ``S_M = W^{-1} S W^{-1}`` with
  ``W = diag(1, 1, 1, sqrt2, sqrt2, sqrt2)``; ``S_M = C_M^{-1}``.
* **Units**: stiffnesses are in units of the base material's Young's modulus ``E_s``.
* **Defaults** (the paper's): ``E_s = 1``, ``nu_s = 0.3``, relative density ``rho = 0.15``
  (``rho = sum pi r^2 L / V``, node overlaps ignored), circular struts modelled as exact
  Timoshenko beams (Cowper's shear factor), see :mod:`trussvae.fem.beam`.
* **Poisson's ratios**: ``nu_ij = -S_ji / S_ii``, the (negative) strain in direction ``j``
  divided by the strain in ``i`` under uniaxial stress along ``i``.
* **Orthotropic labels**: the nine components :data:`ORTHOTROPIC_NAMES` at the Voigt positions
  :data:`ORTHOTROPIC_INDEX` (the linear labels of a data set and the model's linear target).
* **Nonlinear labels**: compressive nominal stress along e3 at the 13 strains
  :data:`LABEL_STRAINS` (0.5 %, 2.5 %, ..., 24.5 %; paper, Fig. 6).

All functions broadcast over leading batch dimensions (``C`` of shape ``(..., 6, 6)``); they are
pure numpy, and the moduli (:func:`youngs_moduli`, :func:`shear_moduli`, :func:`poisson_ratio`,
:func:`voigt_bulk_modulus`, :func:`voigt_shear_modulus`) also accept torch tensors (differentiable;
used by the design objectives). Equation numbers refer to the Methods of Zheng et al., Nat.
Commun. 2023.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "DEFAULT_E_S", "DEFAULT_NU_S", "DEFAULT_RELATIVE_DENSITY", "DEFAULT_BEAM", "VOIGT_ORDER",
    "ORTHOTROPIC_NAMES", "ORTHOTROPIC_INDEX", "LABEL_STRAINS", "poisson_ratio",
    "stiffness_to_compliance", "compliance_to_stiffness", "voigt_to_mandel", "mandel_to_voigt",
    "voigt_to_tensor", "tensor_to_voigt", "orthotropic_components", "stiffness_from_orthotropic",
    "directional_youngs_modulus", "youngs_moduli", "shear_moduli", "poisson_ratios",
    "voigt_bulk_modulus", "voigt_shear_modulus", "reuss_bulk_modulus", "reuss_shear_modulus",
    "universal_anisotropy", "IsotropicModuli", "voigt_bound", "hashin_shtrikman_upper",
    "isotropic_stiffness", "rotate_stiffness", "elastic_surface",
]

DEFAULT_E_S = 1.0
DEFAULT_NU_S = 0.3
DEFAULT_RELATIVE_DENSITY = 0.15
DEFAULT_BEAM = "timoshenko"  # Cowper-Timoshenko circular struts

#: tensor index pairs of the Voigt components
VOIGT_ORDER = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: the nine stiffness components used by the paper for orthotropic lattices, in order
ORTHOTROPIC_NAMES = ("C1111", "C1122", "C1133", "C2222", "C2233", "C3333", "C2323", "C3131", "C1212")
#: their (row, column) positions in the 6x6 Voigt stiffness
ORTHOTROPIC_INDEX = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))
#: the paper's 13 label strains of the nonlinear labels: 0.5 %, 2.5 %, ..., 24.5 % compression
LABEL_STRAINS = np.arange(0.005, 0.25, 0.02)
_MANDEL_W = np.array([1.0, 1.0, 1.0, np.sqrt(2.0), np.sqrt(2.0), np.sqrt(2.0)])
_VOIGT_OF = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]])  # tensor (i, j) -> Voigt index


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _matrix(C):
    """``C`` as a float64 array; a torch tensor is passed through (differentiable moduli)."""
    return C if _is_torch(C) else np.asarray(C, dtype=np.float64)


def _diagonal(M):
    """(..., 6) diagonal of a (..., 6, 6) numpy array or torch tensor."""
    return M[..., range(6), range(6)]


def _kind_weights(kind: str) -> np.ndarray:
    """Per-index factor ``w`` with tensor = Voigt / (w_a w_b)."""
    if kind == "stiffness":
        return np.ones(6)
    if kind == "compliance":
        return np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    raise ValueError(f"kind must be 'stiffness' or 'compliance', got {kind!r}")


def stiffness_to_compliance(C) -> np.ndarray:
    """Voigt compliance ``S = C^{-1}`` (..., 6, 6) (a torch tensor gives a torch tensor)."""
    if _is_torch(C):
        import torch

        return torch.linalg.inv(C)
    return np.linalg.inv(np.asarray(C, dtype=np.float64))


def compliance_to_stiffness(S) -> np.ndarray:
    """Voigt stiffness ``C = S^{-1}`` (..., 6, 6)."""
    return np.linalg.inv(np.asarray(S, dtype=np.float64))


def voigt_to_mandel(M, kind: str = "stiffness") -> np.ndarray:
    """Voigt (engineering shear) -> Mandel: ``W C W`` (stiffness) or ``W^-1 S W^-1`` (compliance)."""
    w = _MANDEL_W if kind == "stiffness" else 1.0 / _MANDEL_W
    _kind_weights(kind)
    return np.asarray(M, dtype=np.float64) * w[:, None] * w[None, :]


def mandel_to_voigt(M, kind: str = "stiffness") -> np.ndarray:
    """Inverse of :func:`voigt_to_mandel`."""
    w = 1.0 / _MANDEL_W if kind == "stiffness" else _MANDEL_W
    _kind_weights(kind)
    return np.asarray(M, dtype=np.float64) * w[:, None] * w[None, :]


def voigt_to_tensor(M, kind: str = "stiffness") -> np.ndarray:
    """(..., 6, 6) Voigt -> (..., 3, 3, 3, 3) tensor with minor and major symmetries."""
    M = np.asarray(M, dtype=np.float64)
    w = _kind_weights(kind)
    scaled = M / (w[:, None] * w[None, :])
    return scaled[..., _VOIGT_OF[:, :, None, None], _VOIGT_OF[None, None, :, :]]


def tensor_to_voigt(T, kind: str = "stiffness") -> np.ndarray:
    """(..., 3, 3, 3, 3) tensor -> (..., 6, 6) Voigt (inverse of :func:`voigt_to_tensor`)."""
    T = np.asarray(T, dtype=np.float64)
    w = _kind_weights(kind)
    ij = np.array(VOIGT_ORDER)
    out = T[..., ij[:, 0, None], ij[:, 1, None], ij[None, :, 0], ij[None, :, 1]]
    return out * (w[:, None] * w[None, :])


def orthotropic_components(C) -> np.ndarray:
    """(..., 9) components ``ORTHOTROPIC_NAMES`` of a (..., 6, 6) Voigt stiffness."""
    C = np.asarray(C, dtype=np.float64)
    return np.stack([C[..., a, b] for a, b in ORTHOTROPIC_INDEX], axis=-1)


def stiffness_from_orthotropic(v) -> np.ndarray:
    """(..., 6, 6) symmetric Voigt stiffness from the 9 components (zeros elsewhere)."""
    v = np.asarray(v, dtype=np.float64)
    if v.shape[-1] != 9:
        raise ValueError(f"expected 9 orthotropic components in the last axis, got shape {v.shape}")
    C = np.zeros(v.shape[:-1] + (6, 6))
    for k, (a, b) in enumerate(ORTHOTROPIC_INDEX):
        C[..., a, b] = v[..., k]
        C[..., b, a] = v[..., k]
    return C


def _stress_dyad(d) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack([x * x, y * y, z * z, y * z, x * z, x * y], axis=-1)


def directional_youngs_modulus(C, d) -> np.ndarray:
    """Young's modulus along direction(s) ``d`` (eq. 7): ``1 / (S_ijkl d_i d_j d_k d_l)``.

    Parameters
    ----------
    C : (6, 6) Voigt stiffness (or (B, 6, 6) broadcast against ``d``).
    d : (..., 3) directions (normalised internally).

    Returns
    -------
    (...,) moduli, units of C.
    """
    S = stiffness_to_compliance(C)
    n = _stress_dyad(d)
    return 1.0 / np.einsum("...a,...ab,...b->...", n, S, n)


def youngs_moduli(C) -> np.ndarray:
    """(..., 3) ``E11, E22, E33`` = ``1 / S[a, a]``."""
    return 1.0 / _diagonal(stiffness_to_compliance(C))[..., :3]


def shear_moduli(C) -> np.ndarray:
    """(..., 3) ``G23, G13, G12`` = ``1 / S44, 1 / S55, 1 / S66`` (Voigt engineering compliance)."""
    return 1.0 / _diagonal(stiffness_to_compliance(C))[..., 3:]


def poisson_ratio(C, i: int, j: int):
    """``nu_ij = -S_ji / S_ii`` (...,) for normal directions ``i != j`` in 0..2 (numpy or torch)."""
    if not (i != j and 0 <= i < 3 and 0 <= j < 3):
        raise ValueError(f"poisson_ratio: need two different normal directions in 0..2, got {i}, {j}")
    S = stiffness_to_compliance(C)
    return -S[..., j, i] / S[..., i, i]


def poisson_ratios(C) -> np.ndarray:
    """(..., 3, 3) ``nu[i, j] = -S_ji / S_ii`` (strain in j from uniaxial stress in i); NaN diagonal."""
    S = stiffness_to_compliance(C)[..., :3, :3]
    nu = -np.swapaxes(S, -1, -2) / np.diagonal(S, axis1=-2, axis2=-1)[..., :, None]
    idx = np.arange(3)
    nu[..., idx, idx] = np.nan
    return nu


def voigt_bulk_modulus(C) -> np.ndarray:
    """``K_V`` (eq. 11): ``9 K_V = C11 + C22 + C33 + 2 (C12 + C13 + C23)``."""
    C = _matrix(C)
    return (C[..., 0, 0] + C[..., 1, 1] + C[..., 2, 2] + 2 * (C[..., 0, 1] + C[..., 0, 2] + C[..., 1, 2])) / 9


def voigt_shear_modulus(C) -> np.ndarray:
    """``G_V`` (eq. 12): ``15 G_V = C11+C22+C33 - (C12+C13+C23) + 3 (C44+C55+C66)``."""
    C = _matrix(C)
    normal = C[..., 0, 0] + C[..., 1, 1] + C[..., 2, 2]
    off = C[..., 0, 1] + C[..., 0, 2] + C[..., 1, 2]
    shear = C[..., 3, 3] + C[..., 4, 4] + C[..., 5, 5]
    return (normal - off + 3 * shear) / 15


def reuss_bulk_modulus(C) -> np.ndarray:
    """``K_R`` (eq. 9): ``1 / K_R = S11 + S22 + S33 + 2 (S12 + S13 + S23)``."""
    S = stiffness_to_compliance(C)
    normal = S[..., 0, 0] + S[..., 1, 1] + S[..., 2, 2]
    return 1.0 / (normal + 2 * (S[..., 0, 1] + S[..., 0, 2] + S[..., 1, 2]))


def reuss_shear_modulus(C) -> np.ndarray:
    """``G_R`` (eq. 10): ``15 / G_R = 4 (S11+S22+S33) - 4 (S12+S13+S23) + 3 (S44+S55+S66)``.

    ``S44`` etc. are Voigt (engineering) compliances, i.e. ``4 S_2323`` in tensor components.
    """
    S = stiffness_to_compliance(C)
    normal = S[..., 0, 0] + S[..., 1, 1] + S[..., 2, 2]
    off = S[..., 0, 1] + S[..., 0, 2] + S[..., 1, 2]
    shear = S[..., 3, 3] + S[..., 4, 4] + S[..., 5, 5]
    return 15.0 / (4 * normal - 4 * off + 3 * shear)


def universal_anisotropy(C) -> np.ndarray:
    """Universal anisotropy index (eq. 8): ``A^U = 5 G_V / G_R + K_V / K_R - 6`` (0 if isotropic)."""
    return (5 * voigt_shear_modulus(C) / reuss_shear_modulus(C)
            + voigt_bulk_modulus(C) / reuss_bulk_modulus(C) - 6)


class IsotropicModuli(NamedTuple):
    """Young's, bulk and shear modulus (units of E_s)."""

    E: np.ndarray
    K: np.ndarray
    G: np.ndarray


def _solid_moduli(E_s, nu_s):
    return E_s / (3 * (1 - 2 * nu_s)), E_s / (2 * (1 + nu_s))


def voigt_bound(rho, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S) -> IsotropicModuli:
    """Voigt (rule of mixtures) upper bound of a porous solid: ``rho * (E_s, K_s, G_s)``."""
    rho = np.asarray(rho, dtype=np.float64)
    K_s, G_s = _solid_moduli(E_s, nu_s)
    return IsotropicModuli(rho * E_s, rho * K_s, rho * G_s)


def hashin_shtrikman_upper(rho, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S) -> IsotropicModuli:
    """Hashin-Shtrikman upper bounds of an isotropic porous solid (solid volume fraction ``rho``).

    ``K = 4 G_s K_s rho / (4 G_s + 3 K_s (1 - rho))``,
    ``G = G_s rho (9 K_s + 8 G_s) / (9 K_s + 8 G_s + 6 (K_s + 2 G_s)(1 - rho))`` and
    ``E = 9 K G / (3 K + G)`` (the Young's modulus of the bounding isotropic moduli).
    """
    rho = np.asarray(rho, dtype=np.float64)
    K_s, G_s = _solid_moduli(E_s, nu_s)
    K = 4 * G_s * K_s * rho / (4 * G_s + 3 * K_s * (1 - rho))
    G = G_s * rho * (9 * K_s + 8 * G_s) / (9 * K_s + 8 * G_s + 6 * (K_s + 2 * G_s) * (1 - rho))
    return IsotropicModuli(9 * K * G / (3 * K + G), K, G)


def isotropic_stiffness(E: float = DEFAULT_E_S, nu: float = DEFAULT_NU_S) -> np.ndarray:
    """(6, 6) Voigt stiffness of an isotropic material."""
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 * (1 + nu))
    C = np.zeros((6, 6))
    C[:3, :3] = lam
    C[np.arange(3), np.arange(3)] = lam + 2 * mu
    C[np.arange(3, 6), np.arange(3, 6)] = mu
    return C


def rotate_stiffness(C, R) -> np.ndarray:
    """Voigt stiffness of the material rotated by ``R`` (3, 3): ``C'_ijkl = R_ia R_jb R_kc R_ld C_abcd``.

    A direction ``d`` of the original material becomes ``R d``, so
    ``E'(R d) = E(d)``. ``R`` may be batched (..., 3, 3).
    """
    T = voigt_to_tensor(C)
    R = np.asarray(R, dtype=np.float64)
    T2 = np.einsum("...ia,...jb,...kc,...ld,...abcd->...ijkl", R, R, R, R, T, optimize=True)
    return tensor_to_voigt(T2)


def elastic_surface(C, n_theta: int = 60, n_phi: int = 120):
    """Directional Young's modulus ``E(d)`` sampled on the unit sphere (for surface plots).

    Parameters
    ----------
    C : (6, 6) Voigt stiffness.  n_theta : polar samples in [0, pi].  n_phi : azimuthal samples
        in [0, 2 pi] (both ends included, so the grid closes).

    Returns
    -------
    points : (n_theta, n_phi, 3) ``E(d) d`` (the surface).  values : (n_theta, n_phi) ``E(d)``.
    """
    theta = np.linspace(0.0, np.pi, n_theta)
    phi = np.linspace(0.0, 2 * np.pi, n_phi)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=-1)
    values = directional_youngs_modulus(C, d)
    return values[..., None] * d, values
