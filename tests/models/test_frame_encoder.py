"""The physics-aware frame encoder: the frame it builds, symmetries, gradients, wiring and reload."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from trussvae.data.graphs import active_dofs
from trussvae.design_space import octant, symmetry
from trussvae.generation import generate_structures
from trussvae.models import TrussVAE, TrussVAENet, load_network
from trussvae.models.frame_encoder import (
    N_FULL_STRUTS,
    STRUT_PARENT,
    FrameGraphEncoder,
    affine_stiffness,
    build_full_frame,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def graphs():
    return generate_structures(24, seed=3)


def _inputs(graphs, dtype=torch.float64):
    adj, off = map(np.stack, zip(*(g.to_vae_input() for g in graphs)))
    return torch.as_tensor(adj, dtype=dtype), torch.as_tensor(off, dtype=dtype)


def _encoder(hidden=16, layers=2, latent=5):
    torch.manual_seed(0)
    return FrameGraphEncoder(hidden, layers, latent, head_hidden=(32,)).double().eval()


def test_tables():
    assert N_FULL_STRUTS == len(octant.FULL_STRUT_NODES) == 2016
    # every candidate full strut has exactly one parent octant strut, and is among its images
    for s in range(0, N_FULL_STRUTS, 37):
        assert s in octant.STRUT_IMAGES[STRUT_PARENT[s]]


def test_frame_matches_to_frame(graphs):
    adj, off = _inputs(graphs)
    fr = build_full_frame(adj, off)
    assert fr.positions.shape == (len(graphs), 64, 3)
    for k, g in enumerate(graphs):
        ref = g.to_frame()
        sel = fr.batch == k
        assert int(sel.sum()) == len(ref.struts)
        ref_len = np.linalg.norm(ref.nodes[ref.struts[:, 1]] + ref.shifts - ref.nodes[ref.struts[:, 0]], axis=1)
        np.testing.assert_allclose(np.sort(fr.length[sel].numpy()), np.sort(ref_len), atol=1e-6)
        assert fr.radius[k].item() == pytest.approx(float(ref.radius), rel=1e-6)
        used = np.unique(fr.ends[sel].numpy() - 64 * k)
        np.testing.assert_allclose(fr.positions[k, used].numpy(), octant.full_node_fractional(g.positions)[used],
                                   atol=1e-6)
        # and the node positions of the reference frame are exactly these (same order: np.unique)
        np.testing.assert_allclose(fr.positions[k, used].numpy(), ref.nodes, atol=1e-6)


def test_sparse_and_dense_edge_lists_agree(graphs):
    adj, off = _inputs(graphs[:6])
    enc = _encoder()
    with torch.no_grad():
        sparse = enc.pooled(adj, off, all_candidates=False)
        dense = enc.pooled(adj, off, all_candidates=True)
    torch.testing.assert_close(sparse, dense, rtol=1e-10, atol=1e-10)
    fr = build_full_frame(adj, off, all_candidates=True)
    assert len(fr.weight) == 6 * N_FULL_STRUTS
    torch.testing.assert_close(affine_stiffness(fr, 6), affine_stiffness(build_full_frame(adj, off), 6))


def test_invariant_under_the_8_octant_mirrors(graphs):
    adj, off = _inputs(graphs[:8])
    enc = _encoder()
    with torch.no_grad():
        ref_mu, ref_lv = enc(adj, off)
        for perm_flips in [((0, 1, 2), f) for f in np.ndindex(2, 2, 2)]:
            op = symmetry.operation_index(*perm_flips)
            a2, o2 = symmetry.transform_inputs(adj.numpy(), off.numpy(), op)
            if op != symmetry.IDENTITY:  # the inputs do change
                assert not (np.array_equal(a2, adj.numpy()) and np.array_equal(o2, off.numpy()))
            mu, lv = enc(torch.as_tensor(a2), torch.as_tensor(o2))
            torch.testing.assert_close(mu, ref_mu, rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(lv, ref_lv, rtol=1e-9, atol=1e-9)


def test_not_invariant_under_axis_permutations(graphs):
    """An axis permutation changes the stiffness, so the encoding must be able to change too."""
    adj, off = _inputs(graphs[:8])
    enc = _encoder()
    op = symmetry.operation_index((1, 0, 2))
    a2, o2 = symmetry.transform_inputs(adj.numpy(), off.numpy(), op)
    with torch.no_grad():
        assert not torch.allclose(enc(adj, off)[0], enc(torch.as_tensor(a2), torch.as_tensor(o2))[0], atol=1e-6)


@pytest.mark.parametrize("op", range(symmetry.N_OPERATIONS))
def test_affine_stiffness_is_equivariant(graphs, op):
    adj, off = _inputs(graphs[:6])
    C = affine_stiffness(build_full_frame(adj, off), 6).numpy()
    a2, o2 = symmetry.transform_inputs(adj.numpy(), off.numpy(), op)
    C2 = affine_stiffness(build_full_frame(torch.as_tensor(a2), torch.as_tensor(o2)), 6).numpy()
    np.testing.assert_allclose(C2, symmetry.transform_orthotropic(C, op), rtol=1e-10, atol=1e-14)


def test_affine_stiffness_of_simple_cubic():
    """Simple cubic: 3 struts of length 1 per cell along the axes; C1111 = A * 1 = rho / 3, shear 0."""
    from trussvae.generation.elementary import elementary

    adj, off = _inputs([elementary("simple_cubic")])
    C = affine_stiffness(build_full_frame(adj, off), 1)[0].numpy()
    np.testing.assert_allclose(C[[0, 3, 5]], 0.15 / 3, rtol=1e-12)
    np.testing.assert_allclose(C[[1, 2, 4, 6, 7, 8]], 0.0, atol=1e-15)


def test_gradients_reach_offsets_and_every_adjacency_entry(graphs):
    adj, off = _inputs(graphs[:4])
    enc = _encoder()
    prob = (0.8 * adj + 0.1).requires_grad_(True)       # soft adjacency
    hard = (prob > 0.5).to(prob.dtype)
    st = hard + prob - prob.detach()                     # straight-through, as in the design loop
    offsets = off.clone().requires_grad_(True)
    mu, logvar = enc(st, offsets)
    (mu.square().sum() + logvar.sum()).backward()
    assert torch.isfinite(prob.grad).all() and torch.isfinite(offsets.grad).all()
    dof = active_dofs(adj)
    assert dof.any() and (offsets.grad[dof] != 0).all()    # every offset of an active node matters
    assert (offsets.grad[~dof] == 0).all()                 # inactive nodes do not
    # absent struts (hard value 0) receive a gradient too: all candidates are kept under autograd
    assert (prob.grad[hard == 0] != 0).float().mean() > 0.5


def test_offset_gradient_matches_finite_differences(graphs):
    adj, off = _inputs(graphs[:2])
    enc = _encoder()
    offsets = off.clone().requires_grad_(True)
    v = torch.randn(off.shape, generator=torch.Generator().manual_seed(1), dtype=off.dtype)
    f = lambda o: enc(adj, o)[0].sum()  # noqa: E731
    f(offsets).backward()
    eps = 1e-6
    fd = (f(off + eps * v) - f(off - eps * v)) / (2 * eps)
    assert (offsets.grad * v).sum().item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-8)


def test_bad_inputs():
    enc = _encoder()
    with pytest.raises(ValueError, match="adj"):
        enc(torch.zeros(2, 350), torch.zeros(2, 27))
    with pytest.raises(ValueError, match="offsets"):
        enc(torch.zeros(2, 351), torch.zeros(3, 27))
    with pytest.raises(ValueError, match="n_layers"):
        FrameGraphEncoder(16, 0, 4)


def test_network_with_frame_encoder_shapes_and_training_step(graphs):
    adj, off = _inputs(graphs[:16], torch.float32)
    net = TrussVAENet(d_A=6, d_x=5, d_Ax=2, encoder="frame", gnn_hidden=16, gnn_layers=2, n_properties=9)
    mu, logvar = net.encode(adj, off)
    assert mu.shape == logvar.shape == (16, 9)
    with pytest.raises(ValueError, match="encoder"):
        TrussVAENet(encoder="frames")
    torch.manual_seed(0)
    m = TrussVAE(d_A=6, d_x=5, d_Ax=2, encoder="frame", gnn_hidden=16, gnn_layers=2, n_properties=9, w_mmd=1.0)
    batch = {"adj": adj, "offsets": off, "y": torch.randn(16, 9), "index": torch.arange(16)}
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in m.net.adj_encoder.state_dict().items()}
    first = None
    for _ in range(30):
        parts = m.losses(batch, m(batch["adj"], batch["offsets"]))
        loss = parts["adjacency"] + parts["features"] + parts["property"] + 1e-3 * parts["kl"] + parts["mmd"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert torch.isfinite(loss) and loss.item() < first
    changed = [k for k, v in m.net.adj_encoder.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("head") for k in changed) and any(k.startswith("pair_proj") for k in changed)


def test_load_network_round_trip(graphs, tmp_path):
    torch.manual_seed(0)
    model = TrussVAE(d_A=6, d_x=6, d_Ax=2, encoder="frame", gnn_hidden=16, gnn_layers=2, adj_hidden=[32],
                     feat_hidden=[16], pred_hidden=[16], n_properties=9)
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, max_epochs=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "f.ckpt")
    net, info = load_network(tmp_path / "f.ckpt")
    assert info["hparams"]["encoder"] == "frame" and net.encoder_kind == "frame"
    adj, off = _inputs(graphs[:5], torch.float32)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(net.encode(adj, off), model.net.encode(adj, off), rtol=0, atol=0)
        mu = net.encode(adj, off)[0]
        torch.testing.assert_close(net.predict(mu), model.net.predict(mu), rtol=0, atol=0)
