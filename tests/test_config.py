"""Config: defaults, overrides, and one clear error for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from qa.config import Config, load_config
from qa.errors import ConfigError


def test_repo_config_matches_defaults():
    cfg = load_config(ROOT / "config.yaml", required=True)
    defaults = Config()
    assert cfg.data_dir == ROOT / "data" and cfg.index_dir == ROOT / "index"
    assert cfg.search == defaults.search and cfg.model == defaults.model and cfg.chunking == defaults.chunking


def test_missing_default_config_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config()


def test_missing_named_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", required=True)


def test_relative_paths_follow_the_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("data_dir: articles\nsearch:\n  top_k: 7\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.data_dir == tmp_path / "articles" and cfg.search.top_k == 7


@pytest.mark.parametrize("text,message", [
    ("search: [1, 2]", "must be a mapping"),
    ("serch:\n  top_k: 3", "unknown setting 'serch'"),
    ("search:\n  topk: 3", "unknown setting 'search.topk'"),
    ("search:\n  top_k: five", "must be an integer"),
    ("search:\n  top_k: 0", "between 1 and 50"),
    ("search:\n  sentence_weight: 1.5", "'search.sentence_weight' must be between 0 and 1"),
    ("search:\n  min_score: high", "must be a number"),
    ("model:\n  offline: maybe", "true or false"),
    ("chunking:\n  max_tokens: 4", "at least 16"),
    ("key: [unclosed", "not valid YAML"),
])
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path)


def test_remote_model_needs_offline_false():
    from qa.config import ModelConfig
    from qa.encoder import resolve_model

    with pytest.raises(ConfigError, match="offline"):
        resolve_model(ModelConfig(name="someone/some-model"))
    assert resolve_model(ModelConfig(name="someone/some-model", offline=False)) == "someone/some-model"
    assert Path(resolve_model(ModelConfig())).is_dir()
