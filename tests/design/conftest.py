"""Shared fixtures of the design tests: a small training set, a small overfitted VAE, the network
interface design may use (a plain nn.Module), and ``trussvae.design.run`` wired to them."""

import numpy as np
import pytest
import torch

from trussvae.fem import homogenize
from trussvae.fem.settings import LinearFESettings
from trussvae.generation import generate_structures
from trussvae.generation.generator import graph_to_arrays
from trussvae.models import TrussVAE


@pytest.fixture(scope="session")
def train_set():
    graphs = generate_structures(60, seed=11, chunk_size=60)
    adj, off = zip(*(graph_to_arrays(g) for g in graphs))
    C = np.array([homogenize(g.to_frame(relative_density=0.15)) for g in graphs])
    return np.array(adj, dtype=np.float32), np.array(off), C, graphs


def _overfit_vae(adj, off, y, steps: int = 300, **kw) -> TrussVAE:
    """A small VAE overfitted on (adj, off, y) (no KL), so that it decodes trusses."""
    torch.manual_seed(0)
    m = TrussVAE(d_A=6, d_x=6, d_Ax=2, label_mean=y.mean(0).tolist(), label_std=(y.std(0) + 1e-9).tolist(),
                 label_log_mask=[False] * y.shape[1], validity_samples=10, **kw)
    batch = {"adj": torch.tensor(adj, dtype=torch.float32), "offsets": torch.tensor(off, dtype=torch.float32)}
    batch["y"] = m.normalise(torch.tensor(y, dtype=torch.float32))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(steps):
        parts = m.losses(batch, m(batch["adj"], batch["offsets"], sample=False))
        opt.zero_grad()
        (parts["adjacency"] + parts["features"] + parts["property"]).backward()
        opt.step()
    return m.eval()


@pytest.fixture(scope="session")
def model(train_set):
    """A small VAE overfitted for a few hundred steps on the 60 structures (no KL), so that it decodes trusses."""
    adj, off, C, _ = train_set
    y = np.array([[c[a, b] for a, b in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))]
                  for c in C])
    return _overfit_vae(adj, off, y)


@pytest.fixture(scope="session")
def overfit_vae():
    """``overfit_vae(adj, off, y, steps, **model_kwargs)``: a small VAE overfitted on (adj, off, y) (no KL)."""
    return _overfit_vae


class PlainNet(torch.nn.Module):
    """Exactly the network interface design may use: a plain nn.Module (no Lightning, no hparams)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def encode(self, adj, offsets, phys=None):
        return self.net.encode(adj, offsets, phys)

    def decode(self, z):
        return self.net.decode(z)

    def decode_logits(self, z):
        return self.net.decode_logits(z)

    def decode_graphs(self, z, threshold: float = 0.5):
        return self.net.decode_graphs(z, threshold)

    def predict(self, mu, phys=None):
        return self.net.predict(mu, phys)

    def predict_inputs(self, adj, offsets, phys=None):
        return self.net.predict_inputs(adj, offsets, phys)

    def normalise(self, y):
        return self.net.normalise(y)

    def denormalise(self, y):
        return self.net.denormalise(y)

    @property
    def latent_dim(self):
        return self.net.latent_dim

    @property
    def latent_slices(self):
        return self.net.latent_slices

    @property
    def target(self):
        return self.net.target

    @property
    def device(self):
        return next(self.parameters()).device


@pytest.fixture(scope="session")
def plain_model(model):
    return PlainNet(model)


@pytest.fixture
def run_mod(model, train_set, monkeypatch):
    """trussvae.design.run with the small model and training set in place of checkpoint and data set."""
    from trussvae.design import run

    adj, off, C, graphs = train_set
    hashes = np.array([g.canonical_hash() for g in graphs])
    monkeypatch.setattr(run, "load_training_set",
                        lambda *a, **k: run.TrainingSet(adj, off, C, hashes, LinearFESettings()))
    monkeypatch.setattr(run, "load_model", lambda *a, **k: model)
    return run
