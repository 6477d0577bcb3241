"""Abaqus input files: parse our own file back, rebuild the frame, and solve the file's model.

Two independent checks that the file encodes our periodicity:
1. ``frame_from_abaqus`` rebuilds a frame from the parsed nodes, beams and equations; its
   stiffness (our FE) equals the original's.
2. ``_solve_inp`` solves the parsed model as Abaqus would (every beam element with our exact
   element matrix, the *Equation constraints eliminated, the *Boundary values of each step
   prescribed) and computes C from the reaction forces of the strain nodes as the file's header
   says (C[:, m] = RF / V). This checks the equations and the recipe, not only the pairing.
"""

import numpy as np
import pytest

from trussvae.fem import PeriodicFrame, homogenize
from trussvae.fem.abaqus import (
    LOAD_CASES,
    STRAIN_DOFS,
    AbaqusFormatError,
    frame_from_abaqus,
    material_from_abaqus,
    read_abaqus_input,
    write_abaqus_input,
)
from trussvae.fem.beam import element_stiffness
from trussvae.fem.nonlinear import _single_thread_blas  # dense solves of a few hundred rows: 1 thread
from trussvae.generation import elementary, generate_structures


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def _solve_inp(model, beam="timoshenko"):
    """(6, 6) stiffness of the parsed model: RF of the strain nodes / V in each step."""
    E, nu = material_from_abaqus(model)
    radius = {s["elset"]: s["radius"] for s in model.sections}
    dofs = {}  # (node, dof) -> global index
    for a, b in model.elements:
        for n in (a, b):
            for d in range(1, 7):
                dofs.setdefault((int(n), d), len(dofs))
    for eq in model.equations:  # nodes reached only through equations (strain nodes, some home nodes)
        for n, d, _ in eq:
            dofs.setdefault((n, d), len(dofs))
    strain_nodes = [model.node_labels(name)[0] for name, _ in STRAIN_DOFS]
    for n, (_, d) in zip(strain_nodes, STRAIN_DOFS):
        dofs.setdefault((n, d), len(dofs))
    K = np.zeros((len(dofs), len(dofs)))
    for (a, b), elset in zip(model.elements, model.element_sets):
        ke = element_stiffness(model.nodes[b] - model.nodes[a], radius[elset], E, nu, beam)
        idx = [dofs[(int(a), d)] for d in range(1, 7)] + [dofs[(int(b), d)] for d in range(1, 7)]
        K[np.ix_(idx, idx)] += ke
    # u = T q: each equation makes its first DOF a combination of the others
    dependent = {}
    for eq in model.equations:
        (n0, d0, c0), rest = eq[0], eq[1:]
        dependent[dofs[(n0, d0)]] = [(dofs[(n, d)], -c / c0) for n, d, c in rest]
    free = [k for k in range(len(dofs)) if k not in dependent]
    col = {k: c for c, k in enumerate(free)}
    T = np.zeros((len(dofs), len(free)))
    for k in free:
        T[k, col[k]] = 1.0
    for k, terms in dependent.items():
        for m, c in terms:
            assert m not in dependent
            T[k, col[m]] += c
    with _single_thread_blas():
        return _solve_reduced(model, dofs, T, T.T @ K @ T, col, strain_nodes)


def _solve_reduced(model, dofs, T, Kr, col, strain_nodes):
    free = T.shape[1]

    def prescribed(rows):
        out = {}
        for node, first, last, value in rows:
            for n in model.node_labels(node):
                for d in range(first, last + 1):
                    out[col[dofs[(n, d)]]] = value
        return out

    base = prescribed(model.boundary)
    V = abs(np.linalg.det(model.lattice_vectors))
    C = np.zeros((6, 6))
    for m, step in enumerate(model.steps):
        fixed = {**base, **prescribed(step["boundary"])}
        p = np.array(sorted(fixed))
        f = np.setdiff1d(np.arange(free), p)
        q = np.zeros(free)
        q[p] = [fixed[k] for k in p]
        q[f] = np.linalg.solve(Kr[np.ix_(f, f)], -Kr[np.ix_(f, p)] @ q[p])
        rf = Kr @ q
        C[:, m] = [rf[col[dofs[(n, d)]]] for n, (_, d) in zip(strain_nodes, STRAIN_DOFS)]
        C[:, m] /= V
    return C


def _frames(lat):
    out = {name: elementary(name).to_frame(relative_density=0.15) for name in ("octet", "bcc", "simple_cubic")}
    for k, g in enumerate(generate_structures(3, seed=11)):
        out[f"generated{k}"] = g.to_frame(relative_density=0.15)
    out["octet_primitive"] = lat.octet_primitive(0.03)  # triclinic cell, self-struts
    # node 1 is reached only through shifted struts: no element touches it, only its images
    corners = [s for s in np.ndindex(2, 2, 2) if any(s)]
    out["shifted_only_node"] = PeriodicFrame(np.eye(3), [[0, 0, 0], [0.5, 0.5, 0.5]],
                                             [[0, 0]] * 3 + [[0, 1]] * 7,
                                             np.vstack([np.eye(3), -np.array(corners)]).astype(int), 0.03)
    out["mirrored_per_strut_radii"] = (lambda f: f.replace(
        radius=np.linspace(0.01, 0.03, f.n_struts)))(lat.mirrored_cell(np.random.default_rng(2), n_points=2))
    return out


def test_file_parses_back(tmp_path):
    frame = elementary("octet").to_frame(relative_density=0.15)
    path = write_abaqus_input(frame, tmp_path / "octet.inp", n_elements=3, E_s=2.5, nu_s=0.25)
    model = read_abaqus_input(path)
    n_images = len({(j, *s) for (_, j), s in zip(frame.struts, frame.shifts.tolist()) if any(s)})
    assert len(model.elements) == 3 * frame.n_struts
    assert len(model.nodes) == frame.n_nodes + 2 * frame.n_struts + n_images + 2
    assert len(model.equations) == 6 * n_images
    assert all(len(eq) == 2 for eq in model.equations if eq[0][1] > 3)  # rotation ties
    assert {s["section"] for s in model.sections} == {"CIRC"}
    for s in model.sections:
        assert s["radius"] == frame.radius  # exact round trip of the double
        assert s["transverse_shear"][2] == pytest.approx(1e-6)
    assert material_from_abaqus(model) == (2.5, 0.25)
    assert [s["name"] for s in model.steps] == list(LOAD_CASES)
    for m, step in enumerate(model.steps):
        assert step["perturbation"] and step["procedure"] == "static"
        values = [v for _, _, _, v in step["boundary"]]
        assert values == [1.0 if k == m else 0.0 for k in range(6)]
        assert any(o["to"] == "dat" and o["nset"] == "STRAIN" and "RF1" in o["variables"] for o in step["outputs"])
    np.testing.assert_array_equal(model.lattice_vectors, frame.lattice_vectors)
    assert model.boundary == [("FIXED", 1, 3, 0.0)]


@pytest.mark.parametrize("n_elements", [1, 3])
def test_rebuilt_frame_and_solved_file_give_our_stiffness(lat, tmp_path, n_elements):
    for name, frame in _frames(lat).items():
        C = homogenize(frame)
        model = read_abaqus_input(write_abaqus_input(frame, tmp_path / f"{name}.inp", n_elements=n_elements))
        rebuilt = frame_from_abaqus(model)
        assert rebuilt.n_struts == n_elements * frame.n_struts
        assert rebuilt.relative_density() == pytest.approx(frame.relative_density(), rel=1e-12)
        assert _rel(homogenize(rebuilt), C) < 1e-8, name
        assert _rel(_solve_inp(model), C) < 1e-8, name


def test_rebuild_detects_tampered_periodicity(tmp_path):
    frame = elementary("bcc").to_frame(relative_density=0.15)
    path = write_abaqus_input(frame, tmp_path / "bcc.inp", n_elements=1)
    orig = path.read_text().splitlines()
    lines = list(orig)
    k = next(i for i, line in enumerate(lines) if line == "*Equation")
    terms = lines[k + 2].split(", ")
    terms[-1] = str(2 * float(terms[-1]))  # wrong offset on one strain term
    lines[k + 2] = ", ".join(terms)
    bad = tmp_path / "bad.inp"
    bad.write_text("\n".join(lines))
    with pytest.raises(AbaqusFormatError, match="inconsistent with the geometry"):
        frame_from_abaqus(bad)
    # a dropped rotation tie
    k = next(i for i, line in enumerate(orig) if line.startswith("*Equation") and orig[i + 1] == "2")
    bad.write_text("\n".join(orig[:k] + orig[k + 3:]))
    with pytest.raises(AbaqusFormatError, match="not tied"):
        frame_from_abaqus(bad)


def test_bad_input_and_unsupported_files(tmp_path):
    frame = elementary("simple_cubic").to_frame()
    with pytest.raises(ValueError, match="n_elements"):
        write_abaqus_input(frame, tmp_path / "x.inp", n_elements=0)
    with pytest.raises(ValueError, match="nu_s"):
        write_abaqus_input(frame, tmp_path / "x.inp", nu_s=0.5)
    with pytest.raises(TypeError, match="PeriodicFrame"):
        write_abaqus_input(elementary("simple_cubic"), tmp_path / "x.inp")
    (tmp_path / "u.inp").write_text("*Heading\nx\n*Surface, name=S\n1\n")
    with pytest.raises(AbaqusFormatError, match="unsupported keyword"):
        read_abaqus_input(tmp_path / "u.inp")
    with pytest.raises(FileNotFoundError):
        read_abaqus_input(tmp_path / "missing.inp")
    text = write_abaqus_input(frame, tmp_path / "sc.inp").read_text()
    (tmp_path / "nolv.inp").write_text("\n".join(x for x in text.splitlines() if "LATTICE_VECTOR" not in x))
    with pytest.raises(AbaqusFormatError, match="no lattice vectors"):
        frame_from_abaqus(tmp_path / "nolv.inp")
