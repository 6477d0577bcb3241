"""Abaqus input files (.inp) of a periodic unit cell: write, read back, and rebuild the frame.

``write_abaqus_input(frame, path)`` writes a complete Abaqus/Standard model that reproduces our
linear homogenization (:func:`trussvae.fem.homogenize`) in Abaqus:

* **Beams**: every strut is split into ``n_elements`` B31 elements (2-node shear-flexible
  Timoshenko beams) with a solid circular section (``*Beam Section, section=CIRC``) of the
  strut's radius, the base material ``*Elastic E_s, nu_s`` and, by default, a
  ``*Transverse Shear Stiffness`` of ``kappa G A`` (Cowper's factor, as in our element and
  Abaqus's default) with a negligible slenderness compensation factor (1e-6; Abaqus's default
  0.25 softens the shear stiffness of slender elements, which our exact element does not).
* **Periodicity** (the same as :mod:`trussvae.fem.periodic`): a strut ``(i, j, s)`` with a
  non-zero cell shift ends at an *image node* of ``j`` at ``x_j + d`` with ``d = s @ A``
  (one image node per distinct ``(j, s)``). Its six DOFs are tied to node ``j`` by ``*Equation``
  constraints: ``theta_img = theta_j`` and ``u_img - u_j = eps d``, where the macroscopic strain
  ``eps`` is carried by two *strain nodes* (dummy nodes without elements):
  ``EPS_N`` (DOFs 1, 2, 3 = eps11, eps22, eps33) and ``EPS_S`` (DOFs 1, 2, 3 = gamma23,
  gamma13, gamma12, engineering shear), i.e. component ``a`` of the equation reads
  ``u_img,a - u_j,a - sum_b eps_ab d_b = 0`` with ``eps_ab = gamma_ab / 2`` for ``a != b``.
  The image DOF is the dependent (first) term, so it is eliminated.
* **Load cases**: six linear-perturbation ``*Static`` steps, one per Voigt unit strain
  ``[11, 22, 33, 23, 13, 12]``: the six strain DOFs are prescribed (one of them 1, the others 0);
  the translations of one node are fixed (rigid translation; our FE fixes ``w_0 = 0``).
* **Result**: the strain DOFs are work-conjugate to the stress: their reaction forces are
  ``V sigma`` in Voigt order. Column ``m`` of the stiffness is
  ``C[:, m] = [RF1, RF2, RF3 of EPS_N, RF1, RF2, RF3 of EPS_S] / V`` in step ``m`` (``V`` = cell
  volume, printed in the header). ``*Node Print`` writes these reactions to the ``.dat`` file;
  ``*Node Output`` also puts them (and U, RF of all nodes) in the ``.odb``.

B31 is a linear-interpolation Timoshenko element, so Abaqus converges to our exact beam only
as ``n_elements`` grows (bending compliance error ~ 1/(4 n^2) per strut for reduced-integrated
linear elements; stretch-dominated entries are exact for any n).

``read_abaqus_input(path)`` parses the subset of the format that ``write_abaqus_input`` uses
(nodes, elements, sets, sections, material, equations, boundary conditions, steps, outputs) and
``frame_from_abaqus(model)`` rebuilds the :class:`PeriodicFrame` the file encodes: home nodes,
the beams (subdivided struts stay subdivided), and the cell shift of every image node taken from
its equations (checked against the node coordinates). Homogenizing that frame gives the original
stiffness (tests: ``tests/fem/test_abaqus.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trussvae.fem.elasticity import DEFAULT_E_S, DEFAULT_NU_S
from trussvae.fem.frame import PeriodicFrame

__all__ = ["write_abaqus_input", "read_abaqus_input", "frame_from_abaqus", "material_from_abaqus", "AbaqusModel",
           "AbaqusFormatError",
           "STRAIN_NODE_NORMAL", "STRAIN_NODE_SHEAR", "STRAIN_DOFS", "LOAD_CASES"]

#: names of the node sets holding the strain nodes
STRAIN_NODE_NORMAL = "EPS_N"
STRAIN_NODE_SHEAR = "EPS_S"
#: (node set, DOF) of each Voigt strain component, in Voigt order [11, 22, 33, 23, 13, 12]
STRAIN_DOFS = ((STRAIN_NODE_NORMAL, 1), (STRAIN_NODE_NORMAL, 2), (STRAIN_NODE_NORMAL, 3),
               (STRAIN_NODE_SHEAR, 1), (STRAIN_NODE_SHEAR, 2), (STRAIN_NODE_SHEAR, 3))
#: step names of the six load cases (Voigt order, engineering shear)
LOAD_CASES = ("EPS11", "EPS22", "EPS33", "GAM23", "GAM13", "GAM12")
#: Voigt index of the tensor component (a, b)
_VOIGT_INDEX = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]])
#: slenderness compensation factor written by default (Abaqus's default 0.25 softens slender B31 elements)
DEFAULT_SLENDERNESS_COMPENSATION = 1e-6


class AbaqusFormatError(ValueError):
    """An Abaqus input file is malformed or uses something this reader does not support."""


def _f(x: float) -> str:
    """Shortest decimal text that reads back to the same double (e.g. 0.3, 1e-06)."""
    return repr(float(x))


# ---------------------------------------------------------------------------------------- writer
def write_abaqus_input(frame: PeriodicFrame, path: str | Path, n_elements: int = 8, E_s: float = DEFAULT_E_S,
                       nu_s: float = DEFAULT_NU_S, element_type: str = "B31",
                       slenderness_compensation: float | None = DEFAULT_SLENDERNESS_COMPENSATION,
                       reference_stiffness: bool = True) -> Path:
    """Write the Abaqus input file of ``frame``'s unit cell (see the module doc); returns the path.

    Parameters
    ----------
    frame : the periodic lattice (lengths in any unit; the file uses the same unit).
    n_elements : B31 elements per strut (>= 1).
    E_s, nu_s : base material (isotropic linear elastic).
    element_type : Abaqus beam element (``"B31"``; ``"B32"``/``"B33"`` are not supported, their
        mid-side nodes would need a different subdivision).
    slenderness_compensation : written in ``*Transverse Shear Stiffness`` with ``kappa G A``;
        ``None`` omits that option (Abaqus then uses its defaults, SCF = 0.25).
    reference_stiffness : write our FE stiffness of the frame (exact Timoshenko) into the header
        comment, for comparison with the Abaqus result.
    """
    from trussvae.fem.beam import cowper_shear_factor

    if not isinstance(frame, PeriodicFrame):
        raise TypeError(f"frame must be a PeriodicFrame, got {type(frame).__name__}")
    if int(n_elements) != n_elements or n_elements < 1:
        raise ValueError(f"n_elements must be a positive integer, got {n_elements}")
    n_elements = int(n_elements)
    if element_type != "B31":
        raise ValueError(f"element_type: only B31 (2-node Timoshenko beam) is supported, got {element_type!r}")
    if not (np.isfinite(E_s) and E_s > 0):
        raise ValueError(f"E_s must be positive, got {E_s}")
    if not -1 < nu_s < 0.5:
        raise ValueError(f"nu_s must be in (-1, 0.5), got {nu_s}")
    if slenderness_compensation is not None and not slenderness_compensation > 0:
        raise ValueError("slenderness_compensation must be positive (Abaqus may read 0 as 'default 0.25') "
                         f"or None, got {slenderness_compensation}")

    A = frame.lattice_vectors
    X = frame.node_positions()
    used = np.unique(frame.struts)  # nodes without struts are left out (they carry nothing)
    label = {int(k): n + 1 for n, k in enumerate(used)}  # home node -> Abaqus label
    node_lines = [f"{label[k]}, " + ", ".join(_f(c) for c in X[k]) for k in used]
    next_label = len(used) + 1

    # struts -> chains of n_elements elements; a shifted end is an image node (one per distinct (j, s))
    radii = frame.radii()
    images: dict[tuple, int] = {}  # (j, s1, s2, s3) -> label, assigned after the inner nodes
    chains = []
    inner_lines = []
    for i, j, s in zip(frame.struts[:, 0], frame.struts[:, 1], frame.shifts):
        b = (int(j), *map(int, s)) if any(s) else label[int(j)]
        if isinstance(b, tuple):
            images.setdefault(b, -1)
        xa, xb = X[i], X[j] + s @ A
        chain = [label[int(i)]]
        for k in range(1, n_elements):
            inner_lines.append(f"{next_label}, " + ", ".join(_f(c) for c in xa + (xb - xa) * k / n_elements))
            chain.append(next_label)
            next_label += 1
        chains.append(chain + [b])
    image_rows, image_lines = [], []  # (label, home node j, shift s)
    for key in images:
        images[key] = next_label
        j, s = key[0], np.array(key[1:])
        image_rows.append((next_label, j, s))
        image_lines.append(f"{next_label}, " + ", ".join(_f(c) for c in X[j] + s @ A))
        next_label += 1
    elements = []  # (label a, label b, strut index)
    for e, chain in enumerate(chains):
        chain[-1] = images[chain[-1]] if isinstance(chain[-1], tuple) else chain[-1]
        elements.extend((chain[k], chain[k + 1], e) for k in range(n_elements))
    eps_n, eps_s = next_label, next_label + 1
    origin = np.zeros(3)

    # sections: one element set per (radius, n1 direction); n1 = the axis least aligned with the strut
    t = frame.strut_vectors() / frame.strut_lengths()[:, None]
    n1_axis = np.argmin(np.abs(t), axis=1)
    r_values, r_index = np.unique(radii, return_inverse=True)
    groups: dict[tuple[int, int], list[int]] = {}
    for el, (_, _, e) in enumerate(elements):
        groups.setdefault((int(r_index[e]), int(n1_axis[e])), []).append(el + 1)

    fix_node = label[int(used[0])]
    volume = frame.cell_volume()
    G = E_s / (2 * (1 + nu_s))
    kappa = float(cowper_shear_factor(nu_s))

    out: list[str] = []
    w = out.append
    w("*Heading")
    w(f"trussvae periodic unit cell: {len(used)} nodes, {frame.n_struts} struts, {n_elements} B31 per strut")
    w(_header(frame, volume, n_elements, E_s, nu_s, kappa, slenderness_compensation, reference_stiffness))
    w("*Preprint, echo=NO, model=NO, history=NO, contact=NO")
    w("** ---------------------------------------------------------------- nodes")
    w("** home nodes of the cell (node i of the frame -> label i + 1 over the nodes that carry struts)")
    w("*Node, nset=CELL_NODES")
    out.extend(node_lines)
    if inner_lines:
        w("** inner nodes of the subdivided struts")
        w("*Node, nset=INNER_NODES")
        out.extend(inner_lines)
    if image_lines:
        w("** image nodes: periodic copies x_j + s @ A of home nodes, tied to them by *Equation")
        w("*Node, nset=IMAGE_NODES")
        out.extend(image_lines)
    w("** strain nodes: DOFs 1-3 of EPS_N = eps11, eps22, eps33; of EPS_S = gamma23, gamma13, gamma12")
    w("*Node, nset=EPS_N")
    w(f"{eps_n}, " + ", ".join(_f(c) for c in origin))
    w("*Node, nset=EPS_S")
    w(f"{eps_s}, " + ", ".join(_f(c) for c in origin))
    w("*Nset, nset=STRAIN")
    w(f"{eps_n}, {eps_s}")
    w("*Nset, nset=FIXED")
    w(f"{fix_node}")
    w("** ---------------------------------------------------------------- elements")
    for (ri, ax), els in sorted(groups.items()):
        name = f"STRUTS_R{ri}_{'XYZ'[ax]}"
        w(f"*Element, type={element_type}, elset={name}")
        out.extend(f"{el}, {elements[el - 1][0]}, {elements[el - 1][1]}" for el in els)
    w("** ---------------------------------------------------------------- sections and material")
    for (ri, ax), _ in sorted(groups.items()):
        name = f"STRUTS_R{ri}_{'XYZ'[ax]}"
        r = r_values[ri]
        n1 = np.zeros(3)
        n1[ax] = 1.0
        w(f"*Beam Section, elset={name}, material=SOLID, section=CIRC")
        w(_f(r))
        w(", ".join(_f(c) for c in n1))
        if slenderness_compensation is not None:
            k_shear = kappa * G * np.pi * r**2
            w("*Transverse Shear Stiffness")
            w(f"{_f(k_shear)}, {_f(k_shear)}, {_f(slenderness_compensation)}")
    w("*Material, name=SOLID")
    w("*Elastic")
    w(f"{_f(E_s)}, {_f(nu_s)}")
    w("** ---------------------------------------------------------------- periodicity")
    w("** u_img - u_j - eps d = 0 (eps from the strain nodes), theta_img - theta_j = 0, d = x_img - x_j")
    for img, j, s in image_rows:
        d = s @ A
        jl = label[j]
        w(f"** image {img} = node {jl} + shift {s.tolist()}")
        for a in range(3):
            terms = [(img, a + 1, 1.0), (jl, a + 1, -1.0)]
            for b in range(3):
                if d[b] != 0:
                    m = _VOIGT_INDEX[a, b]
                    coef = -d[b] if a == b else -0.5 * d[b]
                    node = eps_n if m < 3 else eps_s
                    terms.append((node, m % 3 + 1, coef))
            out.extend(_equation(terms))
        for a in range(3, 6):
            out.extend(_equation([(img, a + 1, 1.0), (jl, a + 1, -1.0)]))
    w("** ---------------------------------------------------------------- boundary conditions")
    w("** rigid translation removed (fixes one node; no effect on the stiffness)")
    w("*Boundary")
    w("FIXED, 1, 3, 0.")
    for m, name in enumerate(LOAD_CASES):
        w("** ----------------------------------------------------------------")
        w(f"** load case {m + 1}: unit macroscopic strain {name[:3].lower()} {name[3:]} (others 0)")
        w(f"*Step, name={name}, perturbation")
        w("*Static")
        w("*Boundary")
        for k, (nset, dof) in enumerate(STRAIN_DOFS):
            node = eps_n if nset == STRAIN_NODE_NORMAL else eps_s
            w(f"{node}, {dof}, {dof}, {'1.' if k == m else '0.'}")
        w("*Output, field")
        w("*Node Output")
        w("U, RF")
        w("*Output, history")
        w("*Node Output, nset=STRAIN")
        w("RF1, RF2, RF3")
        w("*Node Print, nset=STRAIN")
        w("RF1, RF2, RF3")
        w("*End Step")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


def _equation(terms) -> list[str]:
    """Lines of one ``*Equation`` (at most 4 terms per data line)."""
    lines = ["*Equation", str(len(terms))]
    for k in range(0, len(terms), 4):
        lines.append(", ".join(f"{n}, {dof}, {_f(c)}" for n, dof, c in terms[k:k + 4]))
    return lines


def _header(frame, volume, n_elements, E_s, nu_s, kappa, scf, reference) -> str:
    A = frame.lattice_vectors
    lines = [
        "** Written by trussvae.fem.abaqus.write_abaqus_input. Run:  abaqus job=<name> input=<this file> interactive",
        "**",
        "** Periodic unit cell of a beam lattice; B31 beams with a solid circular section.",
        "** Periodicity: a strut leaving the cell ends at an image node x_img = x_j + d of a home node j,",
        "** tied to it by *Equation: theta_img = theta_j and u_img - u_j = eps . d, where the macroscopic",
        "** strain eps is carried by the strain nodes EPS_N (DOF 1,2,3 = eps11, eps22, eps33) and",
        "** EPS_S (DOF 1,2,3 = gamma23, gamma13, gamma12; engineering shear, eps_ab = gamma_ab / 2).",
        "** Six linear-perturbation steps EPS11, EPS22, EPS33, GAM23, GAM13, GAM12 each prescribe one",
        "** unit Voigt strain (the other five are 0). Node set FIXED has its translations fixed.",
        "**",
        "** Effective stiffness (Voigt order 11, 22, 33, 23, 13, 12, engineering shear):",
        "**   C[:, m] = [RF1(EPS_N), RF2(EPS_N), RF3(EPS_N), RF1(EPS_S), RF2(EPS_S), RF3(EPS_S)] / V",
        "** with the reaction forces of step m (the table 'NODE OUTPUT' of the .dat file, or",
        "** history output RF1-RF3 of node set STRAIN in the .odb) and the cell volume",
        f"**   V = {_f(volume)}",
        "** (units: stress = force / length^2 of this file; divide by E_s for our convention).",
        "**",
        f"** material E_s = {_f(E_s)}, nu_s = {_f(nu_s)}; Cowper shear factor kappa = {_f(kappa)};",
        f"** {n_elements} B31 element(s) per strut; "
        + ("transverse shear stiffness kappa G A with slenderness compensation "
           f"{_f(scf)}" if scf is not None else "Abaqus's default transverse shear stiffness") + ".",
        "** B31 (linear Timoshenko) converges to the exact beam as elements per strut increase.",
        "**",
        "** Lattice vectors (rows, Cartesian), read back by trussvae.fem.abaqus.read_abaqus_input:",
    ]
    lines += [f"** TRUSSVAE LATTICE_VECTOR {k + 1}: " + ", ".join(_f(c) for c in A[k]) for k in range(3)]
    if reference:
        from trussvae.fem.linear import MechanismError, homogenize

        try:
            C = homogenize(frame, E_s=E_s, nu_s=nu_s)
            lines += ["**", "** trussvae FE stiffness of this cell (exact Timoshenko beams, one element per strut):"]
            lines += ["**   " + "  ".join(f"{c: .6e}" for c in row) for row in C]
        except MechanismError as exc:
            lines += ["**", f"** trussvae FE: this cell cannot carry load ({exc})"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- reader
@dataclass
class AbaqusModel:
    """What :func:`read_abaqus_input` reads from an input file.

    ``nodes``: label -> (3,) coordinates; ``elements``: (M, 2) node labels with ``element_ids``
    (M,), ``element_types`` and ``element_sets`` (elset name of each element); ``nsets`` /
    ``elsets``: name -> labels; ``sections``: one dict per ``*Beam Section`` (elset, material,
    section, radius, n1, transverse_shear); ``materials``: name -> {"E", "nu"};
    ``equations``: list of [(node label, dof, coefficient), ...]; ``boundary``: model-level
    ``(node label, first dof, last dof, value)``; ``steps``: dicts (name, perturbation,
    procedure, boundary, outputs); ``lattice_vectors``: (3, 3) from the trussvae header or None.
    """

    heading: str = ""
    nodes: dict = field(default_factory=dict)
    element_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    elements: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    element_types: list = field(default_factory=list)
    element_sets: list = field(default_factory=list)
    nsets: dict = field(default_factory=dict)
    elsets: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    materials: dict = field(default_factory=dict)
    equations: list = field(default_factory=list)
    boundary: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    lattice_vectors: np.ndarray | None = None

    def node_labels(self, name_or_label) -> list[int]:
        """Labels of a node set name, or ``[label]`` for an integer label."""
        if isinstance(name_or_label, (int, np.integer)):
            return [int(name_or_label)]
        key = str(name_or_label).upper()
        if key not in self.nsets:
            raise AbaqusFormatError(f"unknown node set {name_or_label!r}")
        return self.nsets[key]


def _parse_keyword(line: str, lineno: int) -> tuple[str, dict]:
    parts = [p.strip() for p in line[1:].split(",")]
    params = {}
    for p in parts[1:]:
        if not p:
            continue
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip() if v else True
    return parts[0].strip().lower(), params


def _fields(line: str) -> list[str]:
    return [f.strip() for f in line.split(",") if f.strip() != ""] if line.strip() else []


def _num(s: str, where: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise AbaqusFormatError(f"{where}: expected a number, got {s!r}") from None


def _int(s: str, where: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise AbaqusFormatError(f"{where}: expected an integer, got {s!r}") from None


_SUPPORTED = {"heading", "preprint", "node", "element", "nset", "elset", "beam section", "transverse shear stiffness",
              "material", "elastic", "equation", "boundary", "step", "static", "end step", "output", "node output",
              "node print", "element output"}


def read_abaqus_input(path: str | Path) -> AbaqusModel:
    """Parse an Abaqus input file of the kind :func:`write_abaqus_input` writes.

    Raises :class:`AbaqusFormatError` (naming the file, line and problem) on malformed lines,
    unsupported keywords, undefined sets or duplicate labels.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Abaqus input file not found: {path}")
    model = AbaqusModel()
    blocks: list[tuple[str, dict, int, list[tuple[int, str]]]] = []
    lattice_rows: dict[int, np.ndarray] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if line.startswith("**"):
            tag = "** TRUSSVAE LATTICE_VECTOR"
            if line.upper().startswith(tag):
                k, _, vals = line[len(tag):].partition(":")
                vec = [_num(v, f"{path}:{lineno}") for v in _fields(vals)]
                if len(vec) != 3:
                    raise AbaqusFormatError(f"{path}:{lineno}: a lattice vector needs 3 components")
                lattice_rows[_int(k.strip(), f"{path}:{lineno}")] = np.array(vec)
            continue
        if not line:
            continue
        if line.startswith("*"):
            kw, params = _parse_keyword(line, lineno)
            if kw not in _SUPPORTED:
                raise AbaqusFormatError(f"{path}:{lineno}: unsupported keyword *{kw} (this reader handles the "
                                        "subset written by trussvae.fem.abaqus.write_abaqus_input)")
            blocks.append((kw, params, lineno, []))
        else:
            if not blocks:
                raise AbaqusFormatError(f"{path}:{lineno}: data line before any keyword")
            blocks[-1][3].append((lineno, line))
    if lattice_rows:
        if sorted(lattice_rows) != [1, 2, 3]:
            raise AbaqusFormatError(f"{path}: lattice vectors 1, 2, 3 expected, found {sorted(lattice_rows)}")
        model.lattice_vectors = np.stack([lattice_rows[k] for k in (1, 2, 3)])

    el_ids, el_nodes = [], []
    step = None
    material = None
    section = None
    output_target = None
    for kw, params, lineno, data in blocks:
        where = f"{path}:{lineno} (*{kw})"
        if kw == "heading":
            model.heading = "\n".join(d for _, d in data)
        elif kw == "node":
            labels = []
            for ln, d in data:
                f = _fields(d)
                if len(f) != 4:
                    raise AbaqusFormatError(f"{path}:{ln}: a node needs a label and 3 coordinates, got {d!r}")
                n = _int(f[0], f"{path}:{ln}")
                if n in model.nodes:
                    raise AbaqusFormatError(f"{path}:{ln}: duplicate node label {n}")
                model.nodes[n] = np.array([_num(c, f"{path}:{ln}") for c in f[1:]])
                labels.append(n)
            if "nset" in params:
                model.nsets.setdefault(str(params["nset"]).upper(), []).extend(labels)
        elif kw == "element":
            etype = str(params.get("type", "")).upper()
            if etype not in ("B31",):
                raise AbaqusFormatError(f"{where}: element type {etype or '(none)'} not supported (B31 only)")
            elset = str(params.get("elset", "")).upper()
            for ln, d in data:
                f = _fields(d)
                if len(f) != 3:
                    raise AbaqusFormatError(f"{path}:{ln}: a B31 element needs a label and 2 nodes, got {d!r}")
                el_ids.append(_int(f[0], f"{path}:{ln}"))
                el_nodes.append((_int(f[1], f"{path}:{ln}"), _int(f[2], f"{path}:{ln}")))
                model.element_types.append(etype)
                model.element_sets.append(elset)
                if elset:
                    model.elsets.setdefault(elset, []).append(el_ids[-1])
        elif kw in ("nset", "elset"):
            name = str(params.get(kw, "")).upper()
            if not name:
                raise AbaqusFormatError(f"{where}: missing {kw}= name")
            vals = [_int(v, where) for _, d in data for v in _fields(d)]
            if params.get("generate"):
                if len(vals) not in (2, 3):
                    raise AbaqusFormatError(f"{where}: generate needs first, last[, increment]")
                vals = list(range(vals[0], vals[1] + 1, vals[2] if len(vals) == 3 else 1))
            (model.nsets if kw == "nset" else model.elsets).setdefault(name, []).extend(vals)
        elif kw == "beam section":
            if len(data) < 1:
                raise AbaqusFormatError(f"{where}: missing the radius line")
            if str(params.get("section", "")).upper() != "CIRC":
                raise AbaqusFormatError(f"{where}: only section=CIRC is supported, got {params.get('section')}")
            radius = _num(_fields(data[0][1])[0], where)
            n1 = np.array([_num(v, where) for v in _fields(data[1][1])]) if len(data) > 1 else np.array([0, 0, -1.0])
            if not radius > 0:
                raise AbaqusFormatError(f"{where}: radius must be positive, got {radius}")
            section = {"elset": str(params.get("elset", "")).upper(), "material": str(params.get("material", "")),
                       "section": "CIRC", "radius": radius, "n1": n1, "transverse_shear": None}
            model.sections.append(section)
        elif kw == "transverse shear stiffness":
            if section is None or not data:
                raise AbaqusFormatError(f"{where}: must follow *Beam Section and have a data line")
            section["transverse_shear"] = [_num(v, where) for v in _fields(data[0][1])]
        elif kw == "material":
            material = str(params.get("name", ""))
            if not material:
                raise AbaqusFormatError(f"{where}: missing name=")
            model.materials[material] = {}
        elif kw == "elastic":
            if material is None or not data:
                raise AbaqusFormatError(f"{where}: must follow *Material and have a data line")
            vals = [_num(v, where) for v in _fields(data[0][1])]
            if len(vals) < 2:
                raise AbaqusFormatError(f"{where}: isotropic *Elastic needs E, nu")
            model.materials[material] = {"E": vals[0], "nu": vals[1]}
        elif kw == "equation":
            fields_ = [v for _, d in data for v in _fields(d)]
            if not fields_:
                raise AbaqusFormatError(f"{where}: empty equation")
            n = _int(fields_[0], where)
            rest = fields_[1:]
            if len(rest) != 3 * n:
                raise AbaqusFormatError(f"{where}: {n} terms announced, {len(rest) / 3:g} given")
            terms = []
            for k in range(n):
                node, dof, coef = rest[3 * k: 3 * k + 3]
                terms.append((_int(node, where) if node.lstrip("-").isdigit() else node.upper(),
                              _int(dof, where), _num(coef, where)))
            model.equations.append(terms)
        elif kw == "boundary":
            rows = []
            for ln, d in data:
                f = _fields(d)
                if len(f) < 2:
                    raise AbaqusFormatError(f"{path}:{ln}: boundary needs node, first dof[, last dof, value]")
                node = _int(f[0], f"{path}:{ln}") if f[0].lstrip("-").isdigit() else f[0].upper()
                first = _int(f[1], f"{path}:{ln}")
                last = _int(f[2], f"{path}:{ln}") if len(f) > 2 else first
                value = _num(f[3], f"{path}:{ln}") if len(f) > 3 else 0.0
                rows.append((node, first, last, value))
            (step["boundary"] if step is not None else model.boundary).extend(rows)
        elif kw == "step":
            if step is not None:
                raise AbaqusFormatError(f"{where}: *Step inside step {step['name']!r} (missing *End Step)")
            step = {"name": str(params.get("name", f"Step-{len(model.steps) + 1}")),
                    "perturbation": bool(params.get("perturbation")), "procedure": None, "boundary": [],
                    "outputs": []}
        elif kw == "static":
            if step is None:
                raise AbaqusFormatError(f"{where}: *Static outside a step")
            step["procedure"] = "static"
        elif kw in ("output", "node output", "node print", "element output"):
            if step is None:
                raise AbaqusFormatError(f"{where}: output request outside a step")
            if kw == "output":
                output_target = "field" if params.get("field") else "history" if params.get("history") else None
            else:
                variables = [v.upper() for _, d in data for v in _fields(d)]
                step["outputs"].append({"kind": kw, "to": "dat" if kw == "node print" else output_target,
                                        "nset": str(params.get("nset", "")).upper() or None,
                                        "variables": variables})
        elif kw == "end step":
            if step is None:
                raise AbaqusFormatError(f"{where}: *End Step without *Step")
            model.steps.append(step)
            step = None
    if step is not None:
        raise AbaqusFormatError(f"{path}: step {step['name']!r} has no *End Step")
    model.element_ids = np.array(el_ids, dtype=np.int64)
    model.elements = np.array(el_nodes, dtype=np.int64).reshape(-1, 2)
    if len(np.unique(model.element_ids)) != len(model.element_ids):
        raise AbaqusFormatError(f"{path}: duplicate element labels")
    missing = sorted(set(model.elements.ravel().tolist()) - set(model.nodes))
    if missing:
        raise AbaqusFormatError(f"{path}: elements use undefined node(s) {missing[:5]}")
    return model


# ---------------------------------------------------------------------------------------- rebuild
def frame_from_abaqus(model: AbaqusModel | str | Path, atol: float = 1e-9) -> PeriodicFrame:
    """The periodic frame an input file encodes (nodes, beams, periodic pairing from the equations).

    Every node used by an element is either a *home node* (no equation makes it dependent) or an
    *image node*: the first (dependent) term of six equations ``u_img - u_j - eps d = 0``,
    ``theta_img - theta_j = 0``. The vector ``d`` is read from the equation coefficients on the
    strain nodes, checked against ``x_img - x_j`` and converted to an integer cell shift
    ``s = d A^-1``. Elements become struts between home nodes with shifts (subdivided struts stay
    subdivided: their inner nodes are home nodes). The radius of each element is that of the
    section of its element set.

    Raises :class:`AbaqusFormatError` when the file does not encode a periodic cell this way
    (no lattice vectors, a translation equation inconsistent with the geometry, a non-integer
    shift, a missing rotation tie, an element without a section, ...).
    """
    if not isinstance(model, AbaqusModel):
        model = read_abaqus_input(model)
    if model.lattice_vectors is None:
        raise AbaqusFormatError("no lattice vectors in the file (header lines '** TRUSSVAE LATTICE_VECTOR k: ...')")
    A = model.lattice_vectors
    A_inv = np.linalg.inv(A)
    scale = float(np.abs(A).max())
    strain_node = {}
    for name in (STRAIN_NODE_NORMAL, STRAIN_NODE_SHEAR):
        labels = model.node_labels(name)
        if len(labels) != 1:
            raise AbaqusFormatError(f"node set {name} must hold exactly one strain node, has {len(labels)}")
        strain_node[labels[0]] = name
    voigt_of = {(STRAIN_DOFS[m][0], STRAIN_DOFS[m][1]): m for m in range(6)}

    ties: dict[int, dict] = {}  # image label -> {"j": label, "d": (3,), "dofs": set}
    for eq in model.equations:
        (img, dof, c0), rest = eq[0], eq[1:]
        if not isinstance(img, int) or c0 == 0:
            raise AbaqusFormatError(f"equation {eq}: the first term must be a node label with a non-zero coefficient")
        real = [(n, d, c / c0) for n, d, c in rest if n not in strain_node]
        strain = [(strain_node[n], d, c / c0) for n, d, c in rest if n in strain_node]
        if len(real) != 1 or real[0][1] != dof or not np.isclose(real[0][2], -1.0, atol=1e-12):
            raise AbaqusFormatError(f"equation {eq}: expected u_img - u_j (+ strain terms) = 0 for one DOF")
        tie = ties.setdefault(img, {"j": real[0][0], "d": np.full(3, np.nan), "dofs": set()})
        if tie["j"] != real[0][0]:
            raise AbaqusFormatError(f"node {img} is tied to two nodes ({tie['j']}, {real[0][0]})")
        if dof in tie["dofs"]:
            raise AbaqusFormatError(f"node {img} DOF {dof} is constrained twice")
        tie["dofs"].add(dof)
        if dof > 3:
            if strain:
                raise AbaqusFormatError(f"equation {eq}: a rotation tie must not involve the strain nodes")
            continue
        a = dof - 1
        d = np.zeros(3)  # coefficient of eps_ab is -d_b  (shear: -d_b/2 on gamma_ab)
        for name, sdof, c in strain:
            m = voigt_of.get((name, sdof))
            if m is None:
                raise AbaqusFormatError(f"equation {eq}: strain node {name} has no DOF {sdof}")
            pairs = [(p, q) for p in range(3) for q in range(3) if _VOIGT_INDEX[p, q] == m and p == a]
            if not pairs:
                raise AbaqusFormatError(f"equation {eq}: strain component {LOAD_CASES[m]} does not act on u_{a + 1}")
            b = pairs[0][1]
            d[b] = -c if a == b else -2.0 * c
        geom = model.nodes[img] - model.nodes[tie["j"]]
        if not np.allclose(d, geom, rtol=0, atol=atol * scale):
            raise AbaqusFormatError(f"equation for node {img} DOF {dof} encodes the offset {d.tolist()} but the nodes "
                                    f"are {geom.tolist()} apart: periodicity inconsistent with the geometry")
        tie["d"] = geom
    for img, tie in ties.items():
        if tie["dofs"] != {1, 2, 3, 4, 5, 6}:
            raise AbaqusFormatError(f"image node {img}: DOFs {sorted(set(range(1, 7)) - tie['dofs'])} not tied")
        if tie["j"] in ties:
            raise AbaqusFormatError(f"image node {img} is tied to node {tie['j']}, itself an image node")

    # home nodes: element nodes that are not images, and the nodes images are tied to (a node
    # whose struts all leave the cell is reached only through its images, like the strain nodes)
    used = np.union1d(np.unique(model.elements), [t["j"] for t in ties.values()])
    home = [int(n) for n in used if n not in ties]
    index = {n: k for k, n in enumerate(home)}
    X = np.stack([model.nodes[n] for n in home])
    frac = X @ A_inv
    end_node, end_shift = {}, {}
    for n in home:
        end_node[n], end_shift[n] = index[n], np.zeros(3, dtype=np.int64)
    for img, tie in ties.items():
        s = tie["d"] @ A_inv
        if not np.allclose(s, np.round(s), atol=1e-7):
            raise AbaqusFormatError(f"image node {img}: offset {tie['d'].tolist()} is not a lattice translation "
                                    f"(fractional {s.tolist()})")
        end_node[img], end_shift[img] = index[tie["j"]], np.round(s).astype(np.int64)
    struts = np.array([[end_node[a], end_node[b]] for a, b in model.elements], dtype=np.int64)
    shifts = np.array([end_shift[b] - end_shift[a] for a, b in model.elements], dtype=np.int64)

    radius_of_set = {}
    for sec in model.sections:
        radius_of_set[sec["elset"]] = sec["radius"]
    radii = np.empty(len(model.elements))
    for k, (eid, elset) in enumerate(zip(model.element_ids, model.element_sets)):
        sets = [s for s, members in model.elsets.items() if s in radius_of_set and eid in set(members)] \
            if elset not in radius_of_set else [elset]
        if not sets:
            raise AbaqusFormatError(f"element {eid} has no beam section")
        radii[k] = radius_of_set[sets[0]]
    radius = float(radii[0]) if np.all(radii == radii[0]) else radii
    return PeriodicFrame(A, frac, struts, shifts, radius)


def material_from_abaqus(model: AbaqusModel) -> tuple[float, float]:
    """``(E_s, nu_s)`` of the (single) material used by the beam sections."""
    names = {sec["material"] for sec in model.sections}
    if len(names) != 1:
        raise AbaqusFormatError(f"expected one material in the beam sections, found {sorted(names)}")
    name = names.pop()
    if name not in model.materials or "E" not in model.materials[name]:
        raise AbaqusFormatError(f"material {name!r} has no *Elastic definition")
    return model.materials[name]["E"], model.materials[name]["nu"]
