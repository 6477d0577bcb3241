"""FE settings: defaults from fem.elasticity, construction by kind, and the round trip through a
data set's meta.json (settings_from_meta) with clear errors."""

import json

import numpy as np
import pytest

from trussvae.fem import elasticity as el
from trussvae.fem.frame import PeriodicFrame
from trussvae.fem.linear import homogenize
from trussvae.fem.settings import (
    LinearFESettings,
    NonlinearFESettings,
    settings_for,
    settings_from_meta,
)


def test_defaults_are_the_conventions_of_elasticity():
    for fe in (LinearFESettings(), NonlinearFESettings()):
        assert (fe.relative_density, fe.E_s, fe.nu_s, fe.beam) == (
            el.DEFAULT_RELATIVE_DENSITY, el.DEFAULT_E_S, el.DEFAULT_NU_S, el.DEFAULT_BEAM)


def test_settings_for_builds_each_kind_and_names_bad_input():
    assert settings_for("linear", nu_s=0.25) == LinearFESettings(nu_s=0.25)
    assert settings_for("nonlinear", max_strain=0.1) == NonlinearFESettings(max_strain=0.1)
    with pytest.raises(ValueError, match="unknown FE kind 'plastic'"):
        settings_for("plastic")
    with pytest.raises(ValueError, match=r"unknown linear FE setting\(s\) \['max_strain'\]"):
        settings_for("linear", max_strain=0.1)
    with pytest.raises(ValueError, match="nu_s"):
        settings_for("linear", nu_s=0.7)


def test_homogenize_uses_every_material_setting():
    frame = PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0]] * 3, np.eye(3, dtype=int), 0.05)
    fe = LinearFESettings(E_s=2.0, nu_s=0.25, beam="euler_bernoulli")
    np.testing.assert_allclose(fe.homogenize(frame), homogenize(frame, E_s=2.0, nu_s=0.25, beam="euler_bernoulli"))
    np.testing.assert_allclose(fe.evaluate([frame])[0], fe.homogenize(frame))
    assert not np.allclose(fe.homogenize(frame), LinearFESettings().homogenize(frame))


def test_settings_round_trip_through_a_labelled_store(tmp_path):
    from trussvae.generation import build_dataset
    from trussvae.generation.label import label_dataset
    from trussvae.io import LatticeStore

    fe = LinearFESettings(relative_density=0.1, nu_s=0.25)
    store = build_dataset(tmp_path / "ds", 4, seed=1, chunk_size=4, scheduler="sync", progress=False)
    label_dataset(store, fe, scheduler="sync", progress=False)
    meta = LatticeStore(store.root).meta  # re-read from disk
    assert settings_from_meta(meta, "linear") == fe
    with pytest.raises(ValueError, match=r"no nonlinear labels recorded in meta.json \(labels.nonlinear.fe\)"):
        settings_from_meta(meta, "nonlinear")


def test_nonlinear_settings_round_trip_through_json():
    fe = NonlinearFESettings(max_strain=0.1, confined=True, seed=3, time_limit=5.0, beam="euler_bernoulli")
    meta = json.loads(json.dumps({"labels": {"nonlinear": {"fe": fe.as_dict()}}}))
    assert settings_from_meta(meta, "nonlinear") == fe


def test_settings_from_meta_errors_name_the_problem():
    with pytest.raises(ValueError, match="no linear labels recorded"):
        settings_from_meta({}, "linear")
    with pytest.raises(ValueError, match="unknown label kind 'elastic'"):
        settings_from_meta({"labels": {}}, "elastic")
    meta = {"labels": {"linear": {"fe": {**LinearFESettings().as_dict(), "mesh": 4}}}}
    with pytest.raises(ValueError, match=r"settings this version does not know: \['mesh'\]"):
        settings_from_meta(meta, "linear")
