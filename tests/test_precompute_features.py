"""scripts/precompute_features.py: the buckling features of a store computed ahead of training, in parts,
into the cache a training run reads."""

import numpy as np
import pytest

from trussvae.data.physics import buckling_fe_settings, buckling_feature_path, load_or_compute_buckling
from trussvae.fem.settings import NonlinearFESettings
from trussvae.generation import build_dataset
from trussvae.generation.label import label_dataset


def test_parts_fill_the_training_cache(tmp_path, load_script, capsys):
    mod = load_script("precompute_features")
    store = build_dataset(tmp_path / "ds", 8, seed=4, chunk_size=4, scheduler="sync", progress=False)
    with pytest.raises(SystemExit):                       # no nonlinear labels yet: a clear error
        mod.main([str(store.root)])
    assert "has no nonlinear labels yet" in capsys.readouterr().err
    label_dataset(store, NonlinearFESettings(max_strain=0.05, time_limit=30.0, imperfection=2e-3),
                  scheduler="sync", progress=False)
    reports = [mod.main([str(store.root), "--kind", "buckling", "--part", f"{i}/2", "--log-every", "1"])
               for i in (0, 1)]
    assert [r["rows"] for r in reports] == [4, 4]
    path = buckling_feature_path(store.root, "buckling")
    assert path.is_file() and reports[0]["cache"] == str(path)
    with np.load(path) as z:
        assert z["done"].all()                            # both parts merged in one cache
        cached = np.array(z["features"])
    # exactly what a training run computes with the data set's own label settings (here a non-default
    # imperfection), and it finds every row cached
    s = store.load_structures()
    fe = buckling_fe_settings(store.meta)
    assert fe["imperfection"] == 2e-3
    fresh = load_or_compute_buckling(tmp_path / "other", s["adjacency"], s["offsets"], fe, kind="buckling")
    np.testing.assert_array_equal(cached, fresh)
    mtime = path.stat().st_mtime_ns
    again = mod.main([str(store.root), "--kind", "buckling", "--rows", "all"])
    assert again["rows"] == 8 and path.stat().st_mtime_ns == mtime   # nothing left to compute


def test_bad_part_is_named(load_script):
    mod = load_script("precompute_features")
    for bad in ("2/2", "x", "1/0"):
        with pytest.raises(ValueError, match="--part"):
            mod.parse_part(bad)
