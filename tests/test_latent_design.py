"""scripts/latent_design.py summarises the latent-only design runs of a trained model."""

import pytest


def test_summary_of_a_design_run(load_script):
    mod = load_script("latent_design")
    results = {"best_training_value": 0.09, "best_latent_value": 0.12, "best_fe_value": 0.12,
               "improvement_over_training": 1 / 3, "config": {"search": {"n_starts": 100}},
               "candidates": [{"predicted_value": 0.11, "fe_value": 0.12, "moduli": {"E22": 0.12}},
                              {"predicted_value": 0.10, "fe_value": 0.08},
                              {"predicted_value": 0.05, "fe_value": 0.05},
                              {"predicted_value": None, "fe_value": 0.04}]}
    s = mod.summarise(results, "python design.py target=stiff")
    assert s["n_candidates"] == 4 and s["best_moduli"] == {"E22": 0.12} and s["best_predicted_value"] == 0.11
    assert s["search"] == {"n_starts": 100} and s["best_latent_value"] == 0.12
    # relative errors 1/12, 1/4, 0 (the candidate without a prediction is skipped): median 1/12
    assert s["median_rel_error_predicted_vs_fe"] == pytest.approx(1 / 12)
    assert mod.summarise({"candidates": []}, "x")["median_rel_error_predicted_vs_fe"] is None


def test_a_folder_without_checkpoints_is_refused(tmp_path, capsys, load_script):
    with pytest.raises(SystemExit):
        load_script("latent_design").main([str(tmp_path)])
    assert "not a training run folder" in capsys.readouterr().err
