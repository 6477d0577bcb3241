"""Training checkpoints without Lightning: the data set record and :func:`load_network`.

A checkpoint written by training (PyTorch Lightning's format, a ``torch.save`` dict) holds:

- ``hyper_parameters``: every :class:`~trussvae.models.TrussVAE` argument as a plain value (the
  network's among them: :data:`~trussvae.models.network.NETWORK_KEYS`, label statistics included);
- ``state_dict``: the weights, the network's under ``net.`` (checkpoints written before the
  network was split out have them at the top level, ``adj_encoder.*`` etc.: both load);
- ``trussvae_data`` (:data:`DATA_KEY`, written since the split): the data set it was trained on,
  see :func:`dataset_record`;
- Lightning's own entries (epoch, optimiser and loop states, callbacks).

:func:`load_network` rebuilds the plain :class:`~trussvae.models.TrussVAENet` from it with torch
alone (``torch.load(weights_only=True)``: no code from the file is run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch

from trussvae.io.store import LatticeStore
from trussvae.models.network import TrussVAENet

__all__ = ["load_network", "run_checkpoint", "dataset_record", "train_fingerprint", "upgrade_state_dict",
           "network_state_dict", "store_prior", "CheckpointError", "DATA_KEY", "NET_PREFIX"]

#: checkpoint key of the data set record
DATA_KEY = "trussvae_data"
#: prefix of the network's parameters in the LightningModule's state dict
NET_PREFIX = "net."
#: the network's top-level submodules: state-dict keys under these names are the old (pre-split) layout
_NET_MODULES = ("adj_encoder.", "feat_encoder.", "adj_decoder.", "feat_decoder.", "predictor.")
#: hyper-parameters every trussvae training checkpoint has
_REQUIRED_HPARAMS = ("d_A", "d_x", "d_Ax", "encoder", "n_properties")


class CheckpointError(ValueError):
    """A file is not a readable trussvae training checkpoint, or does not fit this code."""


def train_fingerprint(hashes: Iterable[str]) -> str:
    """SHA-256 of the sorted canonical hashes of a training split (order-independent): the same
    value means the same set of training structures."""
    return hashlib.sha256("\n".join(sorted(str(h) for h in hashes)).encode()).hexdigest()


def dataset_record(data_dir: str | Path, split_seed: int, split_fractions: Iterable[float],
                   train_hashes: Iterable[str] | None = None, split: str = "random") -> dict:
    """What a checkpoint records about its data set (:data:`DATA_KEY`).

    ``data_dir`` (absolute path), ``provenance`` (the store's meta.json: format, design-space
    version, generator with its seed and configuration, ``n``, FE settings of each label set under
    ``labels``), ``split_seed``, ``split_fractions``, ``split`` (the split mode, ``random`` |
    ``topology``: :mod:`trussvae.data.splits`) and, given the training split's canonical
    hashes, ``n_train`` and ``train_fingerprint`` (:func:`train_fingerprint`).
    """
    root = Path(data_dir).resolve()
    record = {"data_dir": str(root), "provenance": dict(LatticeStore(root).meta), "split_seed": int(split_seed),
              "split_fractions": [float(f) for f in split_fractions], "split": str(split)}
    if train_hashes is not None:
        hashes = list(train_hashes)
        record.update(n_train=len(hashes), train_fingerprint=train_fingerprint(hashes))
    return record


def upgrade_state_dict(state_dict: dict) -> dict:
    """A :class:`~trussvae.models.TrussVAE` state dict in the current layout: keys of the old
    layout (the network's submodules at the top level, ``adj_encoder.*``) get the ``net.`` prefix;
    every other key is kept."""
    return {(NET_PREFIX + k if k.startswith(_NET_MODULES) else k): v for k, v in state_dict.items()}


def network_state_dict(state_dict: dict) -> dict:
    """The :class:`~trussvae.models.TrussVAENet` weights of a TrussVAE state dict (either layout)."""
    return {k[len(NET_PREFIX):]: v for k, v in upgrade_state_dict(state_dict).items() if k.startswith(NET_PREFIX)}


def store_prior(ckpt_path: str | Path, net: TrussVAENet, out: str | Path | None = None,
                hparams: dict | None = None) -> Path:
    """Write ``net``'s learned prior (``net.prior``, fitted after training) into the checkpoint file
    ``ckpt_path`` (its ``net.prior.*`` entries), atomically; everything else in the file is kept.

    ``out``: write the result to this file instead (``ckpt_path`` is left as it is). ``hparams``: prior
    settings to record in the file's ``hyper_parameters`` (e.g. ``prior_components``, ``prior_fit_on``
    of a refitted prior); with ``prior_components`` given the prior's entries may change size or be new (a
    prior added to a network trained without one). Returns the path written."""
    if net.prior is None:
        raise ValueError("the network has no learned prior (model.prior_components=0)")
    path = Path(ckpt_path)
    ckpt = _read(path, "cpu")
    state = ckpt["state_dict"]
    resized = hparams is not None and "prior_components" in hparams
    if resized and int(hparams["prior_components"]) != net.prior.n_components:
        raise ValueError(f"hparams prior_components={hparams['prior_components']} but the network's prior has "
                         f"{net.prior.n_components} components")
    for k, v in net.prior.state_dict().items():
        key = f"{NET_PREFIX}prior.{k}"
        if not resized and (key not in state or state[key].shape != v.shape):
            raise CheckpointError(f"{path}: its network has no learned prior of this size ({key}); "
                                  "was it trained with the same model.prior_components?")
        state[key] = v.detach().cpu().clone()
    if hparams:
        ckpt.setdefault("hyper_parameters", {}).update(hparams)
    target = Path(out) if out is not None else path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(target)
    return target


def _read(path: Path, map_location) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated file, not a torch file, or objects that are not plain data
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint of plain data "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict) \
            or not isinstance(ckpt.get("hyper_parameters"), dict):
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path} is not a trussvae training checkpoint: expected a dict with 'state_dict' "
                              f"and 'hyper_parameters' (written by train.py), got {keys}")
    missing = [k for k in _REQUIRED_HPARAMS if k not in ckpt["hyper_parameters"]]
    if missing:
        raise CheckpointError(f"{path} is not a trussvae training checkpoint: its hyper-parameters lack {missing}")
    return ckpt


def run_checkpoint(run_or_ckpt: str | Path) -> Path:
    """The checkpoint a training run folder reports as best (``best_checkpoint`` of its metrics.json),
    or ``run_or_ckpt`` itself when it is a file."""
    p = Path(run_or_ckpt)
    if p.is_file():
        return p
    metrics = p / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"{p} is neither a checkpoint file nor a training run folder with a metrics.json")
    best = json.loads(metrics.read_text()).get("best_checkpoint")
    if not best:
        raise FileNotFoundError(f"{metrics} names no best_checkpoint (the run did not finish training)")
    return Path(best)


def load_network(ckpt_path: str | Path, map_location="cpu") -> tuple[TrussVAENet, dict]:
    """Load the plain network of a training checkpoint (torch only, no Lightning), in eval mode.

    Returns ``(net, info)``; ``info`` holds ``path``, ``data_dir`` (absolute; None for checkpoints
    written before the data set was recorded: the caller must then be told the data set),
    ``data_provenance`` (the store's meta.json at training time, or None), ``split_seed``,
    ``split_fractions``, ``split`` (the split mode; None when not recorded: checkpoints written
    before split modes existed were trained on the ``random`` split), ``n_train`` and
    ``train_fingerprint`` (None when not recorded),
    ``target``, ``hparams`` (all training hyper-parameters), ``epoch`` and ``global_step``.

    Raises FileNotFoundError (no file) or :class:`CheckpointError` (not a trussvae checkpoint,
    corrupt, built for another design space, or weights that do not fit the architecture).
    """
    path = Path(ckpt_path)
    ckpt = _read(path, map_location)
    hparams = dict(ckpt["hyper_parameters"])
    try:
        net = TrussVAENet.from_hparams(hparams)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    weights = network_state_dict(ckpt["state_dict"])
    own = net.state_dict()
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{path}: the weights do not fit the network its hyper-parameters describe "
                              f"(missing {missing[:4]}{'...' if len(missing) > 4 else ''}, unexpected "
                              f"{unexpected[:4]}{'...' if len(unexpected) > 4 else ''})")
    try:
        net.load_state_dict(weights)
    except RuntimeError as exc:  # shape mismatch
        raise CheckpointError(f"{path}: the weights do not fit the network ({str(exc).splitlines()[-1].strip()})") \
            from exc
    if isinstance(map_location, str | torch.device):  # (a dict or callable map_location: weights stay on CPU)
        net.to(map_location)
    net.eval()
    record = ckpt.get(DATA_KEY) or {}
    info = {"path": str(path), "data_dir": record.get("data_dir"), "data_provenance": record.get("provenance"),
            "split_seed": record.get("split_seed"), "split_fractions": record.get("split_fractions"),
            "split": record.get("split"), "n_train": record.get("n_train"),
            "train_fingerprint": record.get("train_fingerprint"),
            "target": net.target, "hparams": hparams, "epoch": ckpt.get("epoch"),
            "global_step": ckpt.get("global_step")}
    return net, info
