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
    np.testing.assert_allclose(mesh.bounds, [[0, 0, 0], [20, 10, 10]], atol=1e-6)  # one solid, clipped to the block
    assert mesh.is_watertight and len(mesh.split()) == 1
    assert len(mesh.faces) > 1000
    preview = frame_to_mesh(frame, (2, 1, 1), scale=10.0, solid=False)  # overlapping shells, not clipped
    r = frame.radius * 10
    np.testing.assert_allclose(preview.bounds[1] - preview.bounds[0], [20 + 2 * r, 10 + 2 * r, 10 + 2 * r], rtol=1e-6)


def test_stl_bad_tessellation():
    with pytest.raises(ValueError, match="tessellation"):
        frame_to_mesh(elementary("bcc").to_frame(), (0, 1, 1))
