"""Stress-strain curves and deformed shapes (25 % strain) of elementary and generated lattices.

Usage: NUMBA_NUM_THREADS=1 python docs/figures/make_nonlinear_figures.py  -> nonlinear_curves.png
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trussvae.fem.nonlinear import uniaxial_compression  # noqa: E402
from trussvae.generation import elementary, generate_structures  # noqa: E402

RHO = 0.15


def main():
    cases = [(n, elementary(n).to_frame(relative_density=RHO)) for n in ("simple_cubic", "bcc", "octet")]
    gen = generate_structures(6, seed=5)
    cases += [(f"generated #{k}", gen[k].to_frame(relative_density=RHO)) for k in (0, 1, 2)]
    results = [(name, fr, uniaxial_compression(fr, time_limit=60)) for name, fr in cases]
    fig = plt.figure(figsize=(16, 8))
    ax = fig.add_subplot(2, 4, (1, 5))
    for name, _, r in results:
        line, = ax.plot(100 * r.path_strain, r.path_stress / r.initial_modulus, "-",
                        label=f"{name} ({r.status})")
        ax.plot(100 * r.strain, r.stress / r.initial_modulus, "o", color=line.get_color(), ms=4)
    ax.set_xlabel("compressive strain [%]")
    ax.set_ylabel("stress / initial modulus  (= strain if linear)")
    ax.set_title(f"uniaxial compression, relative density {RHO}")
    ax.legend(fontsize=8)
    slots = [2, 3, 4, 6, 7, 8]
    for slot, (name, _fr, r) in zip(slots, results):
        a = fig.add_subplot(2, 4, slot, projection="3d")
        for poly in r.final_struts:
            a.plot(poly[:, 0], poly[:, 1], poly[:, 2], "b-", lw=1)
        a.set_title(f"{name} at {100 * r.max_strain_reached:.1f}%", fontsize=9)
        a.set_box_aspect((1, 1, 1))
        lo, hi = r.final_struts.reshape(-1, 3).min(0), r.final_struts.reshape(-1, 3).max(0)
        c, half = 0.5 * (lo + hi), 0.5 * (hi - lo).max()
        a.set_xlim(c[0] - half, c[0] + half), a.set_ylim(c[1] - half, c[1] + half)
        a.set_zlim(c[2] - half, c[2] + half)
        a.set_xticks([]), a.set_yticks([]), a.set_zticks([])
    fig.tight_layout()
    out = Path(__file__).with_name("nonlinear_curves.png")
    fig.savefig(out, dpi=110)
    for name, _, r in results:
        print(f"{name}: {r.status}, {r.reason}, E0={r.initial_modulus:.4g}, instabilities={r.instabilities}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
