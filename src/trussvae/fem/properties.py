"""Named effective properties of a stiffness tensor (for reports, JSON outputs and design).

Conventions: :mod:`trussvae.fem.elasticity`.
"""

from __future__ import annotations

import numpy as np

from trussvae.fem import elasticity as el

__all__ = ["effective_properties"]


def effective_properties(C: np.ndarray, relative_density: float | None = None, E_s: float = el.DEFAULT_E_S,
                         nu_s: float = el.DEFAULT_NU_S) -> dict[str, float]:
    """Flat dict of the derived moduli of a (6, 6) Voigt stiffness (units of E_s).

    Keys: the 9 orthotropic components (``C1111`` ...), ``E11, E22, E33``, ``G23, G13, G12``,
    ``nu12 ... nu32`` (``nu_ij = -S_ji / S_ii``), ``K_V, G_V, K_R, G_R``, ``K_V/G_V``, ``A_U``;
    with ``relative_density`` also the Voigt and Hashin-Shtrikman upper bounds of E, K, G and
    the fractions of the bounds reached (``E_max/E_voigt`` with the largest of E11..E33, ...).
    """
    C = np.asarray(C, dtype=np.float64)
    out: dict[str, float] = dict(zip(el.ORTHOTROPIC_NAMES, map(float, el.orthotropic_components(C))))
    out.update(zip(("E11", "E22", "E33"), map(float, el.youngs_moduli(C))))
    out.update(zip(("G23", "G13", "G12"), map(float, el.shear_moduli(C))))
    nu = el.poisson_ratios(C)
    for i in range(3):
        for j in range(3):
            if i != j:
                out[f"nu{i + 1}{j + 1}"] = float(nu[i, j])
    out["K_V"] = float(el.voigt_bulk_modulus(C))
    out["G_V"] = float(el.voigt_shear_modulus(C))
    out["K_R"] = float(el.reuss_bulk_modulus(C))
    out["G_R"] = float(el.reuss_shear_modulus(C))
    out["K_V/G_V"] = out["K_V"] / out["G_V"]
    out["A_U"] = float(el.universal_anisotropy(C))
    if relative_density is not None:
        for name, bound in (("voigt", el.voigt_bound(relative_density, E_s, nu_s)),
                            ("hs", el.hashin_shtrikman_upper(relative_density, E_s, nu_s))):
            out[f"E_{name}"], out[f"K_{name}"], out[f"G_{name}"] = map(float, bound)
            out[f"E_max/E_{name}"] = max(out["E11"], out["E22"], out["E33"]) / out[f"E_{name}"]
            out[f"K_V/K_{name}"] = out["K_V"] / out[f"K_{name}"]
            out[f"G_max/G_{name}"] = max(out["G23"], out["G13"], out["G12"]) / out[f"G_{name}"]
    return out
