"""Config: defaults, overrides, and one clear error for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from qa.config import Config, EvalConfig, WebConfig, _settings, load_config, main
from qa.errors import ConfigError


def test_repo_config_is_the_defaults_but_for_web_examples():
    cfg = load_config(ROOT / "config.yaml", required=True)
    resolved = Config(data_dir=ROOT / "data", index_dir=ROOT / "index",
                      eval=EvalConfig(multihop_dir=ROOT / "../shared/eval/multihop-rag"))
    assert cfg.replace(web=WebConfig()) == resolved
    assert cfg.web.examples and cfg.web.examples != Config().web.examples


def test_every_setting_has_help():
    missing = [key for key, f, _ in _settings(Config()) if not f.metadata.get("help")]
    assert missing == []


def test_config_yaml_is_generated_from_the_definitions(capsys):
    main(["--yaml"])
    assert capsys.readouterr().out == (ROOT / "config.yaml").read_text(encoding="utf-8"), \
        "config.yaml is stale: run `python -m qa.config --yaml > config.yaml`"


def test_readme_table_is_generated_from_the_definitions(capsys):
    main(["--markdown"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration (`config.yaml`)\n", 1)[1].split("\n## ", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert capsys.readouterr().out == table, \
        "README's configuration table is stale: paste in `python -m qa.config --markdown`"


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
    ("search:\n  weak_below: some", "'search.weak_below' must be a number"),
    ("search:\n  weak_below: -0.1", "'search.weak_below' must be 0 or more"),
    ("search:\n  min_score: 0.3\n  weak_below: 0.2", "'search.weak_below' must be at least 'search.min_score'"),
    ("model:\n  offline: maybe", "true or false"),
    ("chunking:\n  max_tokens: 4", "at least 16"),
    ("chunking:\n  overlap_sentences: -1", "'chunking.overlap_sentences' must be 0 or more"),
    ("search:\n  mode: sparse", "'search.mode' must be one of hybrid, dense, bm25"),
    ("search:\n  fusion: sum", "'search.fusion' must be one of minmax, rrf"),
    ("model:\n  backend: tf", "'model.backend' must be one of torch, onnx, onnx-int8"),
    ("model:\n  batch_size: 0", "'model.batch_size' must be at least 1"),
    ("index:\n  keep_versions: 0", "'index.keep_versions' must be at least 1"),
    ("vectors:\n  nprobe: 0", "'vectors.nprobe' must be at least 1"),
    ("vectors:\n  approx_above: -1", "'vectors.approx_above' must be 0 or more"),
    ("storage:\n  backend: s3", "'storage.backend' must be one of local"),
    ("server:\n  threads: 0", "'server.threads' must be at least 1"),
    ("server:\n  reload_interval: -1", "'server.reload_interval' must be 0 or more"),
    ("key: [unclosed", "not valid YAML"),
    ("search:\n  outlet_aliases: [FOX News]", "'search.outlet_aliases' must be a dict"),
    ("search:\n  outlet_aliases: {FOX News - Health: 3}", "'search.outlet_aliases' must map outlet names"),
    ("search:\n  outlet_aliases: {'  ': FOX News}", "'search.outlet_aliases' must map outlet names"),
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


def test_outlet_aliases_are_read_as_a_table(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search:\n  outlet_aliases:\n    FOX News - Health: FOX News\n    Fox Life: FOX News\n")
    assert load_config(path).search.outlet_aliases == {"FOX News - Health": "FOX News", "Fox Life": "FOX News"}
    assert Config().search.outlet_aliases == {} and Config().search.outlet_aliases is not Config().search.outlet_aliases


def test_the_weak_zone_may_be_closed_by_setting_it_to_min_score(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search:\n  min_score: 0.3\n  weak_below: 0.3\n")
    assert load_config(path).search.weak_below == 0.3
