"""FE settings: one object per kind of FE evaluation, with the evaluation it configures.

The defaults are the conventions of :mod:`trussvae.fem.elasticity` (stated there once). A data
set records the settings of its labels in ``meta.json`` under ``labels.<kind>.fe``;
:func:`settings_from_meta` rebuilds them, so that anything verifying a design by FE uses exactly
the settings with which the training labels were made.

``LinearFESettings(...).evaluate(frames)``    -> (n, 6, 6) Voigt stiffness (NaN where FE failed)
``LinearFESettings(...).homogenize(frame)``   -> (6, 6) Voigt stiffness (MechanismError if it fails)
``NonlinearFESettings(...).evaluate(frames)`` -> (stress (n, 13), ok (n,), reasons list[str])
``NonlinearFESettings(...).compress(frame)``  -> CompressionResult (the full load path)
``settings_for(kind, **values)``             -> the settings of a kind (what the entry scripts call)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from trussvae.fem.beam import BEAM_MODELS
from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S, DEFAULT_RELATIVE_DENSITY

__all__ = ["FESettings", "LinearFESettings", "NonlinearFESettings", "settings_for", "settings_from_meta", "LINEAR",
           "NONLINEAR"]

#: label-set names in a data set (``labels/<kind>``) and keys of ``meta.json['labels']``
LINEAR = "linear"
NONLINEAR = "nonlinear"



@dataclass(frozen=True)
class FESettings:
    """Base material, beam model and relative density shared by every FE evaluation."""

    relative_density: float = DEFAULT_RELATIVE_DENSITY
    E_s: float = DEFAULT_E_S
    nu_s: float = DEFAULT_NU_S
    beam: str = DEFAULT_BEAM

    #: label-set name (``labels/<kind>``); set by the subclasses
    kind = ""

    def __post_init__(self):
        if not 0 < self.relative_density < 1:
            raise ValueError(f"relative_density must be in (0, 1), got {self.relative_density}")
        if not self.E_s > 0:
            raise ValueError(f"E_s must be positive, got {self.E_s}")
        if not -1 < self.nu_s < 0.5:
            raise ValueError(f"nu_s must be in (-1, 0.5), got {self.nu_s}")
        if self.beam not in BEAM_MODELS:
            raise ValueError(f"beam must be one of {BEAM_MODELS}, got {self.beam!r}")

    def as_dict(self) -> dict:
        """Plain dict of the settings (what ``meta.json`` records under ``labels.<kind>.fe``)."""
        return asdict(self)

    def material(self) -> dict:
        """``E_s``, ``nu_s`` and ``beam``: the keyword arguments every FE routine takes."""
        return {"E_s": self.E_s, "nu_s": self.nu_s, "beam": self.beam}


@dataclass(frozen=True)
class LinearFESettings(FESettings):
    """Linear homogenization (the paper's labels): the 6x6 effective stiffness."""

    kind = LINEAR

    def evaluate(self, frames, n_jobs: int = 1) -> np.ndarray:
        """(n, 6, 6) Voigt stiffness of ``frames`` (NaN where a frame cannot carry load)."""
        from trussvae.fem.linear import homogenize_many

        frames = list(frames)
        if not frames:
            return np.zeros((0, 6, 6))
        return homogenize_many(frames, errors="nan", n_jobs=n_jobs, **self.material())

    def homogenize(self, frame) -> np.ndarray:
        """(6, 6) Voigt stiffness of one frame (its radii as given); MechanismError if it cannot carry load."""
        from trussvae.fem.linear import homogenize

        return homogenize(frame, **self.material())


@dataclass(frozen=True)
class NonlinearFESettings(FESettings):
    """Uniaxial compression along e3 (paper, Fig. 6): 13-point stress-strain labels."""

    max_strain: float = 0.25
    confined: bool = False
    imperfection: float = 1e-3
    seed: int = 0
    #: seconds per structure before it is recorded as failed
    time_limit: float = 60.0

    kind = NONLINEAR

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.max_strain < 1:
            raise ValueError(f"max_strain must be in (0, 1), got {self.max_strain}")

    def evaluate(self, frames, n_jobs: int = 1):
        """``(stress (n, 13), ok (n,), reasons)`` of ``frames`` (see ``fem.nonlinear.compression_labels``)."""
        from trussvae.fem.nonlinear import compression_labels

        return compression_labels(list(frames), max_strain=self.max_strain, time_limit=self.time_limit,
                                  n_jobs=n_jobs, confined=self.confined, imperfection=self.imperfection,
                                  seed=self.seed, **self.material())

    def compress(self, frame):
        """Uniaxial compression of one frame: the :class:`~trussvae.fem.nonlinear.CompressionResult`."""
        from trussvae.fem.nonlinear import uniaxial_compression

        return uniaxial_compression(frame, max_strain=self.max_strain, time_limit=self.time_limit,
                                    confined=self.confined, imperfection=self.imperfection, seed=self.seed,
                                    **self.material())


_KINDS = {LINEAR: LinearFESettings, NONLINEAR: NonlinearFESettings}


def settings_for(kind: str, **values) -> FESettings:
    """The FE settings of ``kind`` (``"linear"`` or ``"nonlinear"``) with ``values`` (the rest default).

    Raises ValueError naming an unknown kind, unknown setting(s) or an invalid value.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown FE kind {kind!r}; expected one of {sorted(_KINDS)}")
    cls = _KINDS[kind]
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {kind} FE setting(s) {unknown}; known: {known}")
    return cls(**values)


def settings_from_meta(meta: dict, kind: str = LINEAR) -> FESettings:
    """The FE settings with which a data set's ``kind`` labels were made (``meta`` = its meta.json)."""
    if kind not in _KINDS:
        raise ValueError(f"unknown label kind {kind!r}; expected one of {sorted(_KINDS)}")
    recorded = (meta.get("labels") or {}).get(kind)
    if not recorded or "fe" not in recorded:
        raise ValueError(f"the data set has no {kind} labels recorded in meta.json (labels.{kind}.fe); "
                         f"label it with: python homogenize.py out=<the data set> fem={kind} (and the n, seed "
                         "and chunk_size it was built with)")
    unknown = set(recorded["fe"]) - {f.name for f in fields(_KINDS[kind])}
    if unknown:
        raise ValueError(f"meta.json labels.{kind}.fe has settings this version does not know: {sorted(unknown)}")
    return settings_for(kind, **recorded["fe"])
