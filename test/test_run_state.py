"""The run folder before training: which folder an unnamed run resumes."""

from __future__ import annotations

from lstm_se import config, run_state


def test_an_unnamed_run_is_found_again_until_it_finishes(tmp_path):
    cfg = config.from_dict({"folder": str(tmp_path)})
    first = run_state.find_run_dir(cfg)
    assert first.parent == tmp_path and first.name[:2] == "20"
    # An unfinished run with the same config (state saved, no model.keras) is resumed...
    (first / "backup").mkdir(parents=True)
    (first / "backup" / "state.json").write_text('{"epoch": 1}')
    config.save(cfg, first / "config.yaml")
    assert run_state.find_run_dir(cfg) == first
    # ...but not with another config, nor with --restart, nor once it has finished.
    assert run_state.find_run_dir(config.from_dict(config.to_dict(cfg), ["epochs=3"])) != first
    assert run_state.find_run_dir(cfg, restart=True) != first
    (first / "model.keras").write_bytes(b"")
    assert run_state.find_run_dir(cfg) != first
