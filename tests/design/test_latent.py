"""Latent exploration (trussvae.design.latent) on the small overfitted VAE."""

import numpy as np
import pytest
import torch

from trussvae.design.latent import evaluate_path, interpolate, sample_neighbourhood, sample_prior, slerp, traverse_axis
from trussvae.fem import homogenize


def test_slerp_endpoints_and_norm():
    z1, z2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    z = slerp(z1, z2, torch.linspace(0, 1, 5))
    torch.testing.assert_close(z[0], z1)
    torch.testing.assert_close(z[-1], z2)
    assert float(z[2].norm()) > float(((z1 + z2) / 2).norm())  # on the arc, not the chord


def test_latent_exploration_paths(model, train_set):
    _, _, _, graphs = train_set
    d = model.latent_dim
    assert sample_prior(model, 5, seed=1).z.shape == (5, d)
    nb = sample_neighbourhood(model, graphs[0], 4, radius=0.1)
    assert nb.z.shape == (5, d)
    tr = traverse_axis(model, graphs[0], axis=d - 1, n=5)
    assert np.allclose(np.diff(tr.z[:, d - 1]), 1.5) and "geometry" in tr.label
    with pytest.raises(ValueError, match="axis"):
        traverse_axis(model, graphs[0], axis=d)
    path = evaluate_path(interpolate(model, graphs[0], graphs[1], n=4, method="linear"))
    assert path.stiffness.shape == (4, 6, 6) and len(path.final) == 4
    for g, C in zip(path.final, path.stiffness):
        assert (g is None) == bool(np.isnan(C).all())
        if g is not None:
            np.testing.assert_allclose(C, homogenize(g.to_frame(relative_density=0.15)), rtol=1e-9)
    with pytest.raises(ValueError, match="slerp"):
        interpolate(model, graphs[0], graphs[1], method="cubic")


def test_evaluate_path_needs_linear_settings(model, train_set):
    from trussvae.fem.settings import NonlinearFESettings

    path = sample_prior(model, 2, seed=0)
    with pytest.raises(ValueError, match="LinearFESettings"):
        evaluate_path(path, fe=NonlinearFESettings())


def _path_with_invalid_decodes():
    """A path of three decodes: valid (octet), invalid but repairable (a dangling strut to the body
    node), invalid beyond repair (no strut)."""
    from trussvae.design.latent import LatentPath
    from trussvae.design_space import octant
    from trussvae.generation import elementary

    g = elementary("octet")
    adj = g.adjacency.copy()
    body = octant.NODE_NAMES.index("t0")
    adj[0, body] = adj[body, 0] = 1
    dangling, empty = g.replace(adjacency=adj), g.replace(adjacency=np.zeros_like(adj))
    graphs = [g, dangling, empty]
    return LatentPath(np.zeros((3, 2)), graphs, np.array([x.is_valid() for x in graphs]), label="test path")


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title()] + [t.get_text() for t in ax.texts]
    return " | ".join(out)


def test_sheet_draws_invalid_decodes_with_their_reason_and_repair(tmp_path):
    from trussvae.design.latent import invalid_reason, path_figure

    path = evaluate_path(_path_with_invalid_decodes())
    assert list(path.valid) == [True, False, False]
    assert path.repaired[1] and path.final[2] is None
    fig = path_figure(path, tmp_path / "sheet.png")
    text = _texts(fig)
    assert "#1: invalid" in text and "#2: invalid" in text
    dangling, empty = invalid_reason(path.graphs[1]), invalid_reason(path.graphs[2])
    assert dangling.startswith("dangling") and empty.startswith("empty")
    flat = text.replace("\n", " ")
    assert dangling in flat and empty in flat  # the reason under each faded decode
    assert text.count("repaired") >= 2  # the repaired truss beside #1, its elastic surface below
    assert "repair failed" in text  # #2: the bottom panel says why there is no FE
    # no blank panel: every 3D axes has a drawing or a text
    for ax in fig.axes:
        assert ax.collections or ax.texts, ax.get_title()
    raw = next(ax for ax in fig.axes if ax.get_title() == "#1: invalid")
    assert any((c.get_alpha() or 1.0) < 0.5 for c in raw.collections)  # the invalid decode's struts, faded
    assert (tmp_path / "sheet.png").stat().st_size > 5000


def test_gif_shows_every_decode(tmp_path):
    from PIL import Image

    from trussvae.design.latent import path_gif

    path = evaluate_path(_path_with_invalid_decodes())
    out = path_gif(path, tmp_path / "path.gif", fps=2)
    with Image.open(out) as im:
        assert im.n_frames == 3  # invalid decodes are frames too, not skipped
