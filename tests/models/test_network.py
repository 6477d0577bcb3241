"""The plain network: usable without Lightning, rebuilt from plain hyper-parameters."""

import pytest
import torch

from trussvae.design_space.truss_graph import TrussGraph
from trussvae.models.network import NETWORK_KEYS, TrussVAENet

torch.set_num_threads(1)


def _inputs(B=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, 351, generator=g) < 0.05).float(), (torch.rand(B, 27, generator=g) - 0.5) * 0.8


@pytest.mark.parametrize("encoder", ["mlp", "gnn"])
def test_network_api_shapes(encoder):
    net = TrussVAENet(d_A=6, d_x=5, d_Ax=2, encoder=encoder, n_properties=4, property_names=list("abcd"))
    adj, off = _inputs()
    assert isinstance(net, torch.nn.Module) and net.latent_dim == 9 and net.target == "linear"
    assert net.device == torch.device("cpu")
    assert net.latent_slices == {"topology": slice(0, 4), "shared": slice(4, 6), "geometry": slice(6, 9)}
    mu, logvar = net.encode(adj, off)
    assert mu.shape == logvar.shape == (8, 9)
    logits, off_hat = net.decode_logits(mu)
    prob, off_hat2 = net.decode(mu)
    assert logits.shape == prob.shape == (8, 351) and off_hat.shape == (8, 27)
    assert torch.equal(prob, torch.sigmoid(logits)) and torch.equal(off_hat, off_hat2)
    assert net.predict(mu).shape == (8, 4)
    out = net(adj, off, sample=False)
    assert torch.equal(out["z"], out["mu"]) and set(out) == {"mu", "logvar", "z", "adj_logits", "offsets", "y"}
    graphs = net.decode_graphs(mu, threshold=0.5)
    assert len(graphs) == 8 and all(isinstance(g, TrussGraph) for g in graphs)


def test_normalise_denormalise_round_trip():
    net = TrussVAENet(n_properties=3, label_mean=[-4.0, 0.01, 0.0], label_std=[0.5, 0.004, 1.0],
                      label_log_mask=[True, False, False])
    y = torch.tensor([[0.02, 0.01, -0.3], [0.001, 0.02, 0.4]])
    y_norm = net.normalise(y)
    assert not torch.allclose(y_norm, y)
    torch.testing.assert_close(net.denormalise(y_norm), y, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(y_norm[:, 1], (y[:, 1] - 0.01) / 0.004)


def test_rebuilt_from_config_and_from_training_hparams():
    net = TrussVAENet(d_A=6, d_x=6, d_Ax=2, adj_hidden=(64, 32), target="nonlinear", n_properties=13)
    assert set(net.config) == set(NETWORK_KEYS) and net.config["adj_hidden"] == [64, 32]
    twin = TrussVAENet(**net.config)
    twin.load_state_dict(net.state_dict())
    # a training run's hyper-parameters: the loss / schedule keys are not the network's
    again = TrussVAENet.from_hparams({**net.config, "w_mmd": 100.0, "lr": 1e-3, "kl_schedule": "cyclical"})
    again.load_state_dict(net.state_dict())
    adj, off = _inputs()
    for other in (twin, again):
        assert other.target == "nonlinear"
        torch.testing.assert_close(other.encode(adj, off), net.encode(adj, off), rtol=0, atol=0)
    with pytest.raises(TypeError, match="dict"):
        TrussVAENet.from_hparams([("d_A", 6)])


def test_bad_hyper_parameters_are_named():
    with pytest.raises(ValueError, match="model.encoder"):
        TrussVAENet(encoder="cnn")
    with pytest.raises(ValueError, match="model.target"):
        TrussVAENet(target="plastic")
    with pytest.raises(ValueError, match="design space"):
        TrussVAENet(design_space_version="octant8-v0")
    with pytest.raises(ValueError, match="n_properties"):
        TrussVAENet(n_properties=3, label_mean=[0.0] * 9)


def test_lightning_module_delegates_to_its_network():
    from trussvae.models import TrussVAE

    m = TrussVAE(d_A=6, d_x=5, d_Ax=2, n_properties=9, target="linear")
    assert isinstance(m.net, TrussVAENet)
    assert m.net.config == {k: (list(v) if isinstance(v, tuple) else v) for k, v in m.hparams.items()
                            if k in NETWORK_KEYS}
    adj, off = _inputs()
    m.eval()
    mu, _ = m.encode(adj, off)
    torch.testing.assert_close(mu, m.net.encode(adj, off)[0], rtol=0, atol=0)
    torch.testing.assert_close(m.predict(mu), m.net.predict(mu), rtol=0, atol=0)
    torch.testing.assert_close(m.decode(mu), m.net.decode(mu), rtol=0, atol=0)
    assert (m.latent_dim, m.latent_slices, m.target) == (m.net.latent_dim, m.net.latent_slices, m.net.target)
    assert m.normalizer is m.net.normalizer and m.property_names is m.net.property_names
    # the module's parameters are the network's (one optimiser sees them all)
    assert {id(p) for p in m.parameters()} == {id(p) for p in m.net.parameters()}


def test_decoder_input_split_reads_only_its_half_and_full_reads_all():
    """``decoder_input="split"`` (paper): the adjacency decoder ignores the geometry-specific latents and the
    node-feature decoder the topology-specific ones; ``"full"``: both depend on every latent entry."""
    adj, off = _inputs()
    for mode in ("split", "full"):
        net = TrussVAENet(d_A=6, d_x=5, d_Ax=2, decoder_input=mode)
        net.eval()
        z = net.encode(adj, off)[0].detach()
        sl = net.latent_slices
        for block, reader in [("geometry", 0), ("topology", 1)]:
            z2 = z.clone()
            z2[:, sl[block]] += 1.0
            changed = not torch.equal(net.decode_logits(z2)[reader], net.decode_logits(z)[reader])
            assert changed == (mode == "full"), (mode, block)
        twin = TrussVAENet(**net.config)
        twin.load_state_dict(net.state_dict())
        torch.testing.assert_close(twin.decode(z), net.decode(z), rtol=0, atol=0)
    with pytest.raises(ValueError, match="model.decoder_input"):
        TrussVAENet(decoder_input="both")
