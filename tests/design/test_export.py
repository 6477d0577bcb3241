"""STL export of printable cells (trussvae.design.export)."""

import numpy as np
import pytest
import trimesh

from trussvae.design.export import export_stl, frame_to_mesh
from trussvae.generation import elementary


def test_stl_block_has_the_tessellated_size(tmp_path):
    frame = elementary("simple_cubic_2x2x2").to_frame(relative_density=0.1)
    path = export_stl(frame, tmp_path / "sc.stl", tessellation=(2, 1, 1), scale=10.0)
    mesh = trimesh.load(path)
    r = frame.radius * 10
    np.testing.assert_allclose(mesh.bounds[1] - mesh.bounds[0], [20 + 2 * r, 10 + 2 * r, 10 + 2 * r], rtol=1e-6)
    assert len(mesh.faces) > 1000


def test_stl_bad_tessellation():
    with pytest.raises(ValueError, match="tessellation"):
        frame_to_mesh(elementary("bcc").to_frame(), (0, 1, 1))
