"""`TrussVAENet`: the trained network as a plain ``nn.Module`` (no Lightning).

It holds the two encoders, the two decoders, the property predictor, the overlapping latent
layout (:mod:`trussvae.models.latent`) and the label normaliser, and is everything inverse design
needs::

    encode(adj (B, 351), offsets (B, 27), phys=None) -> mu (B, d), logvar (B, d)
    decode_logits(z (B, d)) -> adjacency logits (B, 351), offsets (B, 27)
    decode(z)               -> adjacency probabilities (B, 351), offsets (B, 27)
    decode_graphs(z, threshold=0.5) -> B TrussGraphs
    predict(mu, phys=None)  -> (B, k) normalised properties
    predict_physical(mu, phys=None) -> (B, k) physical properties (float64)
    predict_inputs(adj, offsets, phys=None) -> mu, (B, k) normalised properties of the given structures
    predict_latent(mu)      -> (B, k) normalised properties from the latent alone (the search's gradient)
    predict_tta(adj, offsets, ops=None) -> (B, k) normalised, averaged over symmetric variants
    sample_latent(n, prior="normal" | "learned", generator=None) -> (n, d)
    fit_prior(adj, offsets, ...) fits the learned prior ``net.prior`` to the aggregate posterior
    normalise(y) / denormalise(y_norm)
    latent_dim, latent_slices, target, device

Options beyond the paper: ``admissible=True`` sends the predictor's 9 outputs through
:class:`~trussvae.models.admissible.AdmissibleStiffnessHead` (positive definite stiffness by
construction; ``predict`` still returns normalised values); ``prior_components=K > 0`` holds a
:class:`~trussvae.models.latent_prior.GaussianMixturePrior` of K components as ``net.prior``
(fitted after training, saved in the checkpoint).

``physics="ritz"`` gives the network the structure's 2-hop Rayleigh-Ritz stiffness estimate
(:mod:`trussvae.data.physics`; 9 physical orthotropic components, ``phys``), entering as
``asinh(phys / PHYS_SCALE)``:

* ``physics_input="predictor"`` (default): concatenated to ``mu`` at the predictor's input, so the
  predictor learns a correction of the estimate in the context of the (detached) latent; the latent,
  the decoders and everything the VAE reconstructs are trained exactly as in the plain model. A second, latent-only
  head (``latent_predictor``, the plain model's predictor, trained jointly on the same labels) keeps
  the latent organised by the properties as in the plain model and gives the latent search its
  gradient (:meth:`TrussVAENet.predict_latent`), while values come from the physics head. The properties of a
  latent point are those of the structure it decodes to: ``predict(mu)`` without ``phys`` computes the
  features of ``decode(mu)`` thresholded at 0.5;
* ``physics_input="encoder"``: a small MLP of the features is added to ``mu`` (the latent must carry
  them; measured to cost reconstruction, docs/model.md).

``curve_baseline="ritz"`` (nonlinear target with the predictor-side physics input): the physics head
predicts each compression curve *relative to its own linear estimate*, ``sigma_k = E3_R eps_k
exp(h_k)`` with ``E3_R`` the Young's modulus along e3 of the Ritz estimate (:func:`ritz_modulus_e3`,
uniaxial stress as in the labels) and ``h`` the head's outputs (log secant-modulus ratios), so the
physics sets every curve's level and slope at small strain and the network learns its shape.
Measured on 20,000 labelled curves: ``sigma(0.5%) / (E3_R 0.005)`` has median 0.993 (p0.1 0.39), the
ratio falls to a median 0.16 at 24.5% (buckling). ``predict`` still returns normalised stresses.

``curve_features="buckling"`` (with ``curve_baseline="ritz"``): ``phys`` carries, after the 9 Ritz
components, the 4 buckling features of :func:`trussvae.data.physics.buckling_features` (the cell's
initial modulus ``E3_0`` and its three smallest linearised critical strains under the labels' loading),
entering the physics head as ``asinh(E3_0 / PHYS_SCALE)`` and ``log(eps_cr)``: they tell the head where
the curve leaves its linear branch (a feature probe: per-curve NRMSE of an MLP 0.303 -> 0.156; the
model at 50,000 curves 0.158 -> 0.108, docs/model.md). They cost ~10 ms a structure, computed once for a
data set and per decode in design. ``curve_features="buckling2"`` adds the 4 columns of the second-order
analysis (:data:`trussvae.data.physics.BUCKLING2_NAMES`, ~40 ms a structure): the re-linearised first
critical strain (``log``), the pre-buckling tangent ratio (clamped to [-2, 2]), the first mode's sway share
(``log(share + 1e-6)``) and the number of close modes (``log(1 + n)``). ``curve_features="redistribution"``
adds to those the 28 columns of :func:`trussvae.data.physics.redistribution_features` (~2 ms a structure): per
label strain the share of the linear axial energy in the struts past their Euler strain (pinned, fixed ends;
as they are, in [0, 1]), the axial share of the cell's energy (as it is) and the first strut's buckling strain
(a log, clamped to [-12, 4]). ``curve_features="postbuckling"`` adds to those the 26 columns of
:func:`trussvae.data.physics.postbuckling_features` (~3 ms a structure, as they are, in (0, 1]): the secant
modulus ratio of the sequentially linear buckled-strut curve at each label strain, pinned and fixed ends.

Callers may pass ``phys`` (the data module's cached features); :meth:`TrussVAENet.predict_inputs` and
:meth:`TrussVAENet.encode` compute it from ``adj`` and ``offsets`` when it is not given (numba FE
kernels, ~0.6 ms a structure), so decode -> threshold -> encode -> predict works unchanged in inverse
design. The features are constants for autograd: a latent search's gradient flows through the learned
parts only, while every value it ranks is computed with the current decode's features.

It is built from plain hyper-parameters (``TrussVAENet(**config)``; :meth:`TrussVAENet.from_hparams`
picks the network's keys out of a training run's full hyper-parameters), so
:func:`trussvae.models.load_network` rebuilds it from a checkpoint with torch alone. Training
(losses, schedules, metrics, optimiser) is :class:`trussvae.models.TrussVAE`, which holds one as
``.net``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from trussvae.data.normalization import LabelNormalizer
from trussvae.data.physics import (
    BUCKLING_STRAIN_CAP,
    CURVE_FEATURE_KINDS,
    CURVE_FEATURE_NAMES,
    PHYSICS_KINDS,
    buckling_features,
    complete_buckling_fe,
    complete_fe,
    ritz_features,
)
from trussvae.design_space.truss_graph import DESIGN_SPACE_VERSION, TrussGraph
from trussvae.fem.elasticity import LABEL_STRAINS
from trussvae.models.admissible import AdmissibleStiffnessHead
from trussvae.models.augment import SymmetryTables, allowed_operations
from trussvae.models.decoders import AdjacencyDecoder, NodeFeatureDecoder
from trussvae.models.encoders import ACTIVATIONS, NORMS, GraphEncoder, MLPEncoder
from trussvae.models.frame_encoder import FrameGraphEncoder
from trussvae.models.latent import LatentLayout
from trussvae.models.latent_prior import GaussianMixturePrior
from trussvae.models.predictor import PropertyPredictor

__all__ = ["TrussVAENet", "NETWORK_KEYS", "TARGETS", "ENCODERS", "DECODER_INPUTS", "PRIORS", "PRIOR_FIT_ON",
           "PHYS_SCALE", "PHYSICS_INPUTS", "CURVE_BASELINES", "CURVE_FEATURE_KINDS", "physics_head_inputs",
           "ritz_modulus_e3"]

TARGETS = ("linear", "nonlinear")
ENCODERS = ("mlp", "gnn", "frame")
#: what the two decoders read of z (``decoder_input``): the paper's split (adjacency decoder: topology +
#: shared, node-feature decoder: shared + geometry) or the whole latent for both
DECODER_INPUTS = ("split", "full")
#: latent distributions of :meth:`TrussVAENet.sample_latent`
PRIORS = ("normal", "learned")
#: what the learned prior is fitted to: posterior samples mu + sigma * eps (the aggregate posterior) or the
#: posterior means (ex-post density estimation of the codes, Ghosh et al. 2020)
PRIOR_FIT_ON = ("sample", "mean")
#: off-diagonal orthotropic components (C1122, C1133, C2233): may be <= 0, never log-normalised under admissible
_OFF_DIAGONAL = (1, 2, 4)
#: physics features enter as asinh(phys / PHYS_SCALE): logarithmic above ~1e-4 E_s, sign-preserving
PHYS_SCALE = 1e-4
#: where the physics features enter (``physics_input``)
PHYSICS_INPUTS = ("predictor", "encoder")
#: what a nonlinear network's physics head predicts its curves relative to (``curve_baseline``)
CURVE_BASELINES = ("none", "ritz")
#: bound of the predicted log secant-modulus ratio (exp(4) = 55: far above any label, 1.4 at most)
_LOG_RATIO_MAX = 4.0


def physics_head_inputs(phys: torch.Tensor, curve_features: str = "none") -> torch.Tensor:
    """(B, 9 + curve columns) physical features -> what the physics head sees (module doc): the Ritz
    components and ``E3_0`` as ``asinh(x / PHYS_SCALE)``, critical strains as ``log``, and with
    ``"buckling2"`` the tangent ratio clamped to [-2, 2], ``log(sway share + 1e-6)``, ``log(1 + close modes)``;
    ``"redistribution"``: the same and the redistribution columns (shares as they are, the log strain clamped to
    [-12, 4]); ``"postbuckling"``: those and the buckled-strut secant ratios as they are."""
    parts = [torch.asinh(phys[:, :9] / PHYS_SCALE)]
    if curve_features != "none":
        parts += [torch.asinh(phys[:, 9:10] / PHYS_SCALE),
                  torch.log(phys[:, 10:13].clamp(min=1e-4, max=BUCKLING_STRAIN_CAP))]
    if curve_features in ("buckling2", "redistribution", "postbuckling"):
        parts += [torch.log(phys[:, 13:14].clamp(min=1e-4, max=BUCKLING_STRAIN_CAP)), phys[:, 14:15].clamp(-2.0, 2.0),
                  torch.log(phys[:, 15:16].clamp(min=0.0) + 1e-6), torch.log1p(phys[:, 16:17].clamp(min=0.0))]
    if curve_features in ("redistribution", "postbuckling"):
        parts += [phys[:, 17:44], phys[:, 44:45].clamp(-12.0, 4.0)]
    if curve_features == "postbuckling":
        parts.append(phys[:, 45:71])
    return torch.cat(parts, dim=-1)


def ritz_modulus_e3(phys: torch.Tensor) -> torch.Tensor:
    """(B, 9) orthotropic stiffness components (``ORTHOTROPIC_NAMES`` order) -> (B,) Young's modulus along
    e3 under uniaxial stress, ``1 / S33 = det(N) / (C1111 C2222 - C1122^2)`` of the 3x3 normal block ``N``
    (float64). 0 where it is not positive and finite (no frame: zero features, or a mechanism)."""
    c = phys.double()
    c11, c12, c13, c22, c23, c33 = (c[:, i] for i in range(6))
    det = c11 * (c22 * c33 - c23 * c23) - c12 * (c12 * c33 - c23 * c13) + c13 * (c12 * c23 - c22 * c13)
    minor = c11 * c22 - c12 * c12
    e3 = det / torch.where(minor > 0, minor, torch.ones_like(minor))
    return torch.where((minor > 0) & torch.isfinite(e3) & (e3 > 0), e3, torch.zeros_like(e3))


class TrussVAENet(nn.Module):
    """Encoders, decoders, property predictor, latent layout and label normaliser (see module doc).

    Args:
        d_A, d_x, d_Ax: adjacency / node-feature embedding sizes and their overlap (latent size
            ``d = d_A + d_x - d_Ax``).
        encoder: ``"mlp"`` (the paper's), ``"gnn"`` (GINE message passing on the adjacency side) or
            ``"frame"`` (:class:`~trussvae.models.frame_encoder.FrameGraphEncoder`: message passing
            over the full mirrored periodic frame with strut physics, on the adjacency side).
        adj_hidden, feat_hidden, pred_hidden: hidden sizes of the adjacency / node-feature encoder
            (decoders mirrored) and of the property predictor.
        gnn_hidden, gnn_layers: width and depth (message-passing rounds) of the GNN / frame encoder.
        dropout, activation, norm: of every hidden MLP layer.
        feature_activation: ``"tanh"`` (offsets in (-0.5, 0.5)) or ``"linear"``.
        shared_mode: ``"mean"`` or ``"paper_literal"`` (see :mod:`trussvae.models.latent`).
        target: ``"linear"`` (9 orthotropic stiffness components) or ``"nonlinear"`` (13 stresses).
        n_properties, property_names: number and names of the predicted properties.
        label_mean, label_std, label_log_mask: the label normaliser (identity when None).
        design_space_version: must be this code's :data:`DESIGN_SPACE_VERSION`.
        admissible: predict through :class:`~trussvae.models.admissible.AdmissibleStiffnessHead`
            (``target="linear"`` only; its scales are the physical label means of the normaliser).
        prior_components: number of Gaussians of the learned latent prior ``net.prior`` (0: none).
        physics: ``"none"`` or ``"ritz"`` (the Rayleigh-Ritz stiffness estimate as an input).
        physics_input: ``"predictor"`` or ``"encoder"`` (where it enters, module doc).
        physics_hops: its relaxation hops.  physics_fe: its FE settings (E_s, nu_s, beam,
            relative_density; those of the training data's labels).
        physics_hidden: hidden sizes of the physics-feature MLP (``physics_input="encoder"``).
        curve_baseline: ``"none"`` or ``"ritz"`` (nonlinear curves relative to the Ritz linear estimate,
            module doc; needs ``target="nonlinear"``, ``physics="ritz"``, ``physics_input="predictor"``).
        curve_features: ``"none"``, ``"buckling"``, ``"buckling2"``, ``"redistribution"`` or ``"postbuckling"``
            (the buckling features as a further input of the physics head, module doc; needs
            ``curve_baseline="ritz"``).
        curve_fe: the settings of the buckling features (those of the training data's nonlinear labels:
            E_s, nu_s, beam, relative_density, confined, imperfection, seed).
        decoder_input: ``"split"`` (the paper's: the adjacency decoder reads topology + shared latents,
            the node-feature decoder shared + geometry) or ``"full"`` (both read all of z, so the node
            activity that both halves of the graph carry is coded once; docs/model.md).
    """

    def __init__(self, d_A: int = 10, d_x: int = 10, d_Ax: int = 4, encoder: str = "mlp",
                 adj_hidden: Sequence[int] = (256, 128), feat_hidden: Sequence[int] = (128, 64),
                 pred_hidden: Sequence[int] = (128, 64), gnn_hidden: int = 64, gnn_layers: int = 3,
                 dropout: float = 0.0, feature_activation: str = "tanh", shared_mode: str = "mean",
                 activation: str = "relu", norm: str = "none", target: str = "linear", n_properties: int = 9,
                 property_names: Sequence[str] | None = None, label_mean: Sequence[float] | None = None,
                 label_std: Sequence[float] | None = None, label_log_mask: Sequence[bool] | None = None,
                 design_space_version: str = DESIGN_SPACE_VERSION, admissible: bool = False,
                 prior_components: int = 0, physics: str = "none", physics_hops: int = 2,
                 physics_fe: dict | None = None, physics_hidden: Sequence[int] = (128, 128),
                 physics_input: str = "predictor", curve_baseline: str = "none", curve_features: str = "none",
                 curve_fe: dict | None = None, decoder_input: str = "split"):
        config = {name: _plain(value) for name, value in locals().items() if name in NETWORK_KEYS}
        super().__init__()
        for name, value, allowed in [("encoder", encoder, ENCODERS), ("target", target, TARGETS),
                                     ("activation", activation, ACTIVATIONS), ("norm", norm, NORMS),
                                     ("physics", physics, PHYSICS_KINDS),
                                     ("physics_input", physics_input, PHYSICS_INPUTS),
                                     ("curve_baseline", curve_baseline, CURVE_BASELINES),
                                     ("curve_features", curve_features, CURVE_FEATURE_KINDS),
                                     ("decoder_input", decoder_input, DECODER_INPUTS)]:
            if value not in allowed:
                raise ValueError(f"model.{name} must be one of {list(allowed)}, got {value!r}")
        if design_space_version != DESIGN_SPACE_VERSION:
            raise ValueError(f"model built for design space {design_space_version!r}, this code is "
                             f"{DESIGN_SPACE_VERSION!r}")
        self.layout = LatentLayout(d_A, d_x, d_Ax, shared_mode)
        k = int(n_properties)
        self.property_names = list(property_names) if property_names else [f"p{i}" for i in range(k)]
        self.normalizer = LabelNormalizer(list(label_mean or [0.0] * k), list(label_std or [1.0] * k),
                                          list(label_log_mask or [False] * k))
        if not (len(self.normalizer.mean) == len(self.normalizer.std) == len(self.property_names) == k):
            raise ValueError(f"n_properties={k} but {len(self.normalizer.mean)} normalisation entries / "
                             f"{len(self.property_names)} names")
        self.encoder_kind = encoder
        self._target = target
        #: the construction arguments as plain values: ``TrussVAENet(**net.config)`` rebuilds it
        self.config = config
        act = dict(activation=activation, norm=norm)
        # construction order = parameter initialisation order (same weights for the same seed as before)
        if encoder == "mlp":
            self.adj_encoder = MLPEncoder(351, adj_hidden, d_A, dropout, **act)
        elif encoder == "gnn":
            self.adj_encoder = GraphEncoder(gnn_hidden, gnn_layers, d_A, head_hidden=adj_hidden[-1:])
        else:
            self.adj_encoder = FrameGraphEncoder(gnn_hidden, gnn_layers, d_A, head_hidden=adj_hidden[-1:], **act)
        self.feat_encoder = MLPEncoder(27, feat_hidden, d_x, dropout, **act)
        whole = slice(0, self.layout.d)
        self._adj_in = whole if decoder_input == "full" else self.layout.adjacency_input
        self._feat_in = whole if decoder_input == "full" else self.layout.feature_input
        self.adj_decoder = AdjacencyDecoder(self._adj_in.stop - self._adj_in.start, list(adj_hidden)[::-1],
                                            dropout, **act)
        self.feat_decoder = NodeFeatureDecoder(self._feat_in.stop - self._feat_in.start, list(feat_hidden)[::-1],
                                               feature_activation, dropout,
                                               hidden_activation=activation, norm=norm)
        if curve_features != "none" and curve_baseline == "none":
            raise ValueError(f"model.curve_features={curve_features} is an input of the nonlinear physics head: it "
                             "needs model.curve_baseline=ritz (and with it data.target=nonlinear, model.physics=ritz, "
                             "model.physics_input=predictor)")
        self.physics, self.physics_input, self.curve_features = physics, physics_input, curve_features
        self.curve_fe = complete_buckling_fe(curve_fe)
        n_phys = self.n_physics_features if physics_input == "predictor" else 0  # the physics head's extra inputs
        self.predictor = PropertyPredictor(self.layout.d + n_phys, pred_hidden, k, dropout, **act)
        self.symmetry = SymmetryTables()  # gather tables only (non-persistent buffers, no parameters)
        self.admissible = bool(admissible)
        self.stiffness_head = self._admissible_head() if self.admissible else None
        if isinstance(prior_components, bool) or not isinstance(prior_components, int | np.integer) \
                or prior_components < 0:
            raise ValueError(f"model.prior_components must be an integer >= 0 (0: no learned prior), "
                             f"got {prior_components!r}")
        self.prior = GaussianMixturePrior(self.layout.d, int(prior_components)) if prior_components else None
        self.physics_hops = int(physics_hops)
        self.physics_fe = complete_fe(physics_fe)
        #: latent-only head beside the physics head (physics_input="predictor"; module doc)
        self.latent_predictor = (PropertyPredictor(self.layout.d, pred_hidden, k, dropout, **act)
                                 if n_phys else None)
        if curve_baseline != "none" and (target != "nonlinear" or physics != "ritz" or physics_input != "predictor"
                                         or k != len(LABEL_STRAINS)):
            raise ValueError(f"model.curve_baseline={curve_baseline} predicts compression curves relative to the "
                             f"Ritz linear estimate: it needs data.target=nonlinear ({len(LABEL_STRAINS)} stresses), "
                             f"model.physics=ritz and model.physics_input=predictor; got target={target!r}, "
                             f"physics={physics!r}, physics_input={physics_input!r}, {k} properties")
        self.curve_baseline = curve_baseline
        self.phys_encoder = None
        if physics != "none" and physics_input == "encoder":
            layers, width = [], 9
            for h in physics_hidden:
                layers += [nn.Linear(width, int(h)), nn.SiLU()]
                width = int(h)
            last = nn.Linear(width, self.layout.d)
            nn.init.zeros_(last.weight)  # starts as the plain model; learns what the features add
            nn.init.zeros_(last.bias)
            self.phys_encoder = nn.Sequential(*layers, last)

    @property
    def n_physics_features(self) -> int:
        """Width of ``phys``: 9 Ritz components (+ the 4, 8, 36 or 62 curve features of ``curve_features``), 0
        without."""
        if self.physics == "none":
            return 0
        return 9 + len(CURVE_FEATURE_NAMES[self.curve_features])

    def physics_features(self, adj: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """(B, 351), (B, 27) -> (B, 9) physical Ritz features of the (thresholded) structures, computed
        with this network's hops and FE settings, followed by the 4 buckling features with
        ``curve_features`` (B, 13 or 17); 0 where the input is not a frame."""
        a = adj.detach().cpu().numpy() > 0.5
        o = offsets.detach().cpu().double().numpy()
        feats = ritz_features(a, o, self.physics_hops, self.physics_fe)
        if self.curve_features != "none":
            feats = np.hstack([feats, buckling_features(a, o, self.curve_fe, self.curve_features)])
        return torch.as_tensor(np.nan_to_num(feats, nan=0.0), dtype=offsets.dtype, device=offsets.device)

    def input_features(self, adj: torch.Tensor, offsets: torch.Tensor,
                       phys: torch.Tensor | None = None) -> torch.Tensor | None:
        """The physics features of the inputs: ``phys`` when given, computed when the network uses
        physics, else None."""
        if self.physics == "none":
            return None
        return self.physics_features(adj, offsets) if phys is None else phys

    @torch.no_grad()
    def decoded_features(self, mu: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, 9) physics features of the structures the latents decode to (threshold 0.5)."""
        prob, offsets = self.decode(mu)
        return self.physics_features((prob > 0.5).to(offsets), offsets)

    def _head(self, mu: torch.Tensor, phys: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The predictor's raw output and the physics features it used (None without the predictor input)."""
        if self.physics == "none" or self.physics_input != "predictor":
            return self.predictor(mu), None
        if phys is None:
            phys = self.decoded_features(mu)
        # mu detached: the physics head learns on top of the latent and never shapes it (the latent-only
        # head does, as the plain model's predictor does), so the VAE trains exactly as the plain model
        if phys.shape[-1] != self.n_physics_features:
            raise ValueError(f"this network takes {self.n_physics_features} physics features per structure "
                             f"(model.curve_features={self.curve_features}), got {phys.shape[-1]}")
        x = torch.cat([mu.detach(), physics_head_inputs(phys.to(mu), self.curve_features)], dim=-1)
        return self.predictor(x), phys

    def anchored_curves(self, log_ratio: torch.Tensor, phys: torch.Tensor) -> torch.Tensor:
        """(B, 13) log secant-modulus ratios, (B, 9) physics features -> (B, 13) physical stresses (float64)
        ``E3_R eps_k exp(h_k)`` (``curve_baseline="ritz"``, module doc)."""
        strains = torch.as_tensor(LABEL_STRAINS, dtype=torch.float64, device=log_ratio.device)
        linear = ritz_modulus_e3(phys.to(log_ratio.device))[:, None] * strains
        return linear * torch.exp(log_ratio.double().clamp(max=_LOG_RATIO_MAX))

    def _admissible_head(self) -> AdmissibleStiffnessHead:
        nz = self.normalizer
        if self._target != "linear" or len(nz.mean) != 9:
            raise ValueError(f"model.admissible=true needs the 9 linear stiffness components (data.target=linear), "
                             f"got target={self._target!r} with {len(nz.mean)} properties")
        logged = [self.property_names[i] for i in _OFF_DIAGONAL if nz.log_mask[i]]
        if logged:
            raise ValueError(f"model.admissible=true: the off-diagonal components {logged} are log-normalised, but "
                             "admissible predictions of them can be <= 0; use data.label_transform=none or auto")
        # physical mean of each component: the normaliser's mean, or for log-normalised components the mean
        # of the log-normal it describes, exp(m + s^2 / 2) (exp(m) alone is the geometric mean, smaller)
        means = [math.exp(m + 0.5 * s * s) if lg else m for m, s, lg in zip(nz.mean, nz.std, nz.log_mask)]
        try:
            return AdmissibleStiffnessHead(means)
        except ValueError as exc:
            raise ValueError(f"model.admissible=true needs the label statistics of stiffness labels (the mean "
                             f"normal block must be positive definite, the mean shear moduli > 0): {exc}") from None

    @classmethod
    def from_hparams(cls, hparams: dict) -> TrussVAENet:
        """Build from a training run's hyper-parameters (the keys that are not the network's --
        losses, schedules, optimiser -- are ignored)."""
        if not isinstance(hparams, dict):
            raise TypeError(f"hyper-parameters must be a dict, got {type(hparams).__name__}")
        return cls(**{k: v for k, v in hparams.items() if k in NETWORK_KEYS})

    # ------------------------------------------------------------------ properties
    @property
    def target(self) -> str:
        """What the predictor predicts: ``"linear"`` (9 orthotropic stiffness components) or ``"nonlinear"``."""
        return self._target

    @property
    def latent_dim(self) -> int:
        return self.layout.d

    @property
    def latent_slices(self) -> dict[str, slice]:
        """Slices of z: ``topology`` (specific), ``shared``, ``geometry`` (specific)."""
        return {"topology": self.layout.topology, "shared": self.layout.shared, "geometry": self.layout.geometry}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ the model
    def encode(self, adj: torch.Tensor, offsets: torch.Tensor,
               phys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 351) 0/1, (B, 27) offsets -> mu (B, d), logvar (B, d).

        ``phys`` (B, 9): the physics features of the inputs (``physics="ritz"`` only; computed here
        when not given)."""
        mu_A, lv_A = self.adj_encoder(adj) if self.encoder_kind == "mlp" else self.adj_encoder(adj, offsets)
        mu_x, lv_x = self.feat_encoder(offsets)
        mu = self.layout.combine(mu_A, mu_x)
        if self.phys_encoder is not None:
            phys = self.input_features(adj, offsets, phys)
            mu = mu + self.phys_encoder(torch.asinh(phys.to(mu) / PHYS_SCALE))
        return mu, self.layout.combine(lv_A, lv_x)

    def decode_logits(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, d) -> adjacency logits (B, 351), offsets (B, 27)."""
        return self.adj_decoder(z[:, self._adj_in]), self.feat_decoder(z[:, self._feat_in])

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, d) -> adjacency probabilities (B, 351), offsets (B, 27)."""
        logits, offsets = self.decode_logits(z)
        return torch.sigmoid(logits), offsets

    def predict(self, mu: torch.Tensor, phys: torch.Tensor | None = None) -> torch.Tensor:
        """(B, d) latent means -> (B, k) normalised properties (use :meth:`denormalise` for physical).

        ``phys``: the physics features of the structures (``physics_input="predictor"``; default: those of
        ``decode(mu)``, module doc). With ``admissible`` the physical stiffness is positive definite by
        construction and is returned normalised (``normalise(physical)``), so every caller sees the same
        scale as without."""
        raw, phys = self._head(mu, phys)
        if self.curve_baseline != "none":
            return self.normalise(self.anchored_curves(raw, phys)).to(raw.dtype)
        if self.stiffness_head is None:
            return raw
        return self.normalise(self.stiffness_head(raw, dtype=torch.float64)).to(raw.dtype)

    def predict_latent(self, mu: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, k) normalised properties from the latent alone: the latent-only head of a
        ``physics_input="predictor"`` network, else :meth:`predict` (which then needs nothing else).
        Differentiable in ``mu``; the latent search takes its gradient from here."""
        if self.latent_predictor is None:
            return self.predict(mu)
        raw = self.latent_predictor(mu)
        if self.stiffness_head is None:
            return raw
        return self.normalise(self.stiffness_head(raw, dtype=torch.float64)).to(raw.dtype)

    def predict_physical(self, mu: torch.Tensor, phys: torch.Tensor | None = None) -> torch.Tensor:
        """(B, d) latent means -> (B, k) physical properties in float64 (exact output of the admissible
        head, without the float32 round trip through the normalised scale)."""
        raw, phys = self._head(mu, phys)
        if self.curve_baseline != "none":
            return self.anchored_curves(raw, phys)
        if self.stiffness_head is not None:
            return self.stiffness_head(raw, dtype=torch.float64)
        return self.denormalise(raw.double())

    def predict_inputs(self, adj: torch.Tensor, offsets: torch.Tensor,
                       phys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode the structures (B, 351), (B, 27) and predict their properties with their own physics
        features (computed unless given): returns mu (B, d) and (B, k) normalised properties."""
        phys = self.input_features(adj, offsets, phys)
        mu, _ = self.encode(adj, offsets, phys)
        return mu, self.predict(mu, phys)

    def tta_operations(self) -> np.ndarray:
        """The symmetry operations :meth:`predict_tta` averages over by default: all 48 for the
        linear target, the 16 that keep axis 2 for the nonlinear one (:mod:`trussvae.models.augment`)."""
        return allowed_operations("all", self._target)

    def predict_tta(self, adj: torch.Tensor, offsets: torch.Tensor, ops: Sequence[int] | None = None,
                    phys: torch.Tensor | None = None) -> torch.Tensor:
        """Test-time averaging over symmetric variants: (B, 351), (B, 27) -> (B, k) normalised properties.

        Each variant (operation of ``ops``, default :meth:`tta_operations`) of every input is encoded and
        predicted; the physical predictions are mapped back to the input's axes (the inverse label
        permutation; unchanged for the nonlinear target, whose operations must keep axis 2) and averaged
        in physical space; the mean is returned normalised, like :meth:`predict`."""
        ops_np = self.tta_operations() if ops is None else np.asarray(list(ops), dtype=np.int64).reshape(-1)
        if ops_np.size == 0:
            raise ValueError("predict_tta needs at least one symmetry operation")
        if np.any((ops_np < 0) | (ops_np >= len(self.symmetry.adj_source))):
            raise ValueError(f"symmetry operations are indices 0..{len(self.symmetry.adj_source) - 1}, got {ops_np}")
        if self._target != "linear":
            bad = sorted(set(ops_np.tolist()) - set(allowed_operations("all", self._target).tolist()))
            if bad:
                raise ValueError(f"operations {bad} move axis 2: they change the nonlinear (e3) labels")
        B, n_ops = adj.shape[0], len(ops_np)
        op = torch.as_tensor(ops_np, device=adj.device).repeat_interleave(B)          # (n_ops B,) op-major
        adj_t, off_t = self.symmetry.inputs(adj.repeat(n_ops, 1), offsets.repeat(n_ops, 1), op)
        phys_t = None
        if self.physics != "none":  # the features transform like linear labels (data.physics)
            phys = self.input_features(adj, offsets, phys)
            phys_t = self.symmetry.orthotropic(phys.repeat(n_ops, 1), op)
        mu, _ = self.encode(adj_t, off_t, phys_t)
        y = self.predict_physical(mu, phys_t)                                        # (n_ops B, k) float64
        if self._target == "linear":
            y = self.symmetry.orthotropic_back(y, op)
        return self.normalise(y.view(n_ops, B, -1).mean(0)).to(adj.dtype)

    def sample_latent(self, n: int, prior: str = "normal", generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, d) latents on the network's device: ``"normal"`` z ~ N(0, I) or ``"learned"`` z from the
        fitted :attr:`prior` (a CPU ``generator`` makes both reproducible)."""
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {list(PRIORS)}, got {prior!r}")
        if int(n) < 1:
            raise ValueError(f"need n >= 1 latent samples, got {n}")
        if prior == "normal":
            return torch.randn(int(n), self.latent_dim, generator=generator).to(self.device)
        if self.prior is None:
            raise ValueError("this network has no learned prior (model.prior_components=0); use prior='normal'")
        if not self.prior.fitted:
            raise RuntimeError("the learned prior has not been fitted yet (net.fit_prior after training; train.py "
                               "does it before testing)")
        return self.prior.sample(int(n), generator=generator).to(self.device)

    @torch.no_grad()
    def posterior_latents(self, adj: torch.Tensor, offsets: torch.Tensor, max_samples: int = 100_000,
                          seed: int = 0, batch_size: int = 4096, phys: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """The latents a learned prior is fitted to, for (a random subset of at most ``max_samples`` of) the
        given structures, in eval mode: ``(mu, mu + sigma * eps)``, the posterior means and one posterior
        sample of each (subset and noise from one generator seeded with ``seed``)."""
        if int(max_samples) < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}")
        g = torch.Generator().manual_seed(int(seed))
        idx = torch.randperm(len(adj), generator=g)[:int(max_samples)]
        was_training = self.training
        self.eval()
        try:
            mus, zs = [], []
            for chunk in idx.split(batch_size):
                ph = None if phys is None else phys[chunk].to(self.device)
                mu, logvar = self.encode(adj[chunk].to(self.device), offsets[chunk].to(self.device), ph)
                mus.append(mu)
                zs.append(mu + torch.randn(mu.shape, generator=g).to(mu) * torch.exp(0.5 * logvar))
        finally:
            self.train(was_training)
        return torch.cat(mus), torch.cat(zs)

    def fit_prior(self, adj: torch.Tensor, offsets: torch.Tensor, max_samples: int = 100_000, seed: int = 0,
                  n_iter: int = 50, batch_size: int = 4096, phys: torch.Tensor | None = None,
                  fit_on: str = "sample") -> dict:
        """Fit the learned prior to the posteriors of (a random subset of at most ``max_samples`` of) the
        given structures by EM (:meth:`GaussianMixturePrior.fit`): to z = mu + sigma * eps of each
        (``fit_on="sample"``, the aggregate posterior) or to the means mu (``"mean"``: a tighter density
        of the codes; higher sample validity, docs/model.md); see :meth:`posterior_latents`. Returns the
        fit's report plus ``n`` (samples used)."""
        if self.prior is None:
            raise ValueError("this network has no learned prior (model.prior_components=0)")
        if fit_on not in PRIOR_FIT_ON:
            raise ValueError(f"model.prior_fit_on must be one of {list(PRIOR_FIT_ON)}, got {fit_on!r}")
        mu, z = self.posterior_latents(adj, offsets, max_samples, seed, batch_size, phys)
        report = self.prior.fit(mu if fit_on == "mean" else z, n_iter=n_iter, seed=int(seed))
        return {**report, "n": int(len(mu))}

    def denormalise(self, y_norm: torch.Tensor) -> torch.Tensor:
        """(B, k) normalised -> physical properties (e.g. stiffness in units of E_s)."""
        return self.normalizer.denormalize(y_norm)

    def normalise(self, y: torch.Tensor) -> torch.Tensor:
        """(B, k) physical -> normalised properties (inverse of :meth:`denormalise`)."""
        return self.normalizer.normalize(y)

    @torch.no_grad()
    def decode_graphs(self, z: torch.Tensor, threshold: float = 0.5) -> list[TrussGraph]:
        """(B, d) latents -> B :class:`TrussGraph` (adjacency probabilities thresholded)."""
        prob, offsets = self.decode(z.to(self.device))
        prob, offsets = prob.cpu().numpy(), offsets.cpu().double().numpy()
        return [TrussGraph.from_vae_input(p, o, threshold) for p, o in zip(prob, offsets)]

    def forward(self, adj: torch.Tensor, offsets: torch.Tensor, sample: bool = True,
                phys: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Encode, sample ``z = mu + eps * std`` (``z = mu`` when not ``sample``), decode, predict from mu.

        Returns ``mu``, ``logvar``, ``z`` (B, d), ``adj_logits`` (B, 351), ``offsets`` (B, 27), ``y`` (B, k).
        """
        phys = self.input_features(adj, offsets, phys)
        mu, logvar = self.encode(adj, offsets, phys)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        adj_logits, offsets_hat = self.decode_logits(z)
        return {"mu": mu, "logvar": logvar, "z": z, "adj_logits": adj_logits, "offsets": offsets_hat,
                "y": self.predict(mu, phys),
                **({"y_latent": self.predict_latent(mu)} if self.latent_predictor is not None else {})}


def _plain(value):
    """Tuples -> lists (checkpoint hyper-parameters hold plain JSON-like values)."""
    return list(value) if isinstance(value, tuple) else value


#: the constructor arguments of :class:`TrussVAENet` (a subset of :class:`~trussvae.models.TrussVAE`'s)
NETWORK_KEYS = tuple(p for p in inspect.signature(TrussVAENet.__init__).parameters if p != "self")
