import pytest

from ganvas.config import RunConfig, all_keys, build_config, parse_set
from ganvas.errors import ConfigError


def test_overrides_are_typed():
    cfg = build_config(overrides={"train.batch": "32", "optim.G.lr": "1e-3", "train.tensorboard": "false",
                                  "optim.D.betas": "0.1,0.9"})
    assert cfg.train.batch == 32 and cfg.optim.G.lr == 1e-3
    assert cfg.train.tensorboard is False and cfg.optim.D.betas == (0.1, 0.9)


@pytest.mark.parametrize("key,value,fragment", [
    ("train.bach", "3", "did you mean train.batch"),
    ("train.batch", "x", "expected int"),
    ("train.batch", "2.5", "expected int"),
    ("optim.G.lr", "nan", "expected float"),
    ("optim.G.betas", "0.5", "pair"),
    ("optim.G", "1", "section"),
    ("data.fit", "zoom", "crop, pad or stretch"),
    ("train.kimg", "-1", "positive"),
    ("data.resolution", "48", "power of two"),
])
def test_bad_overrides_name_the_problem(key, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        build_config(overrides={key: value})


def test_loss_recommendations_yield_to_explicit_keys():
    cfg = build_config(overrides={"loss.name": "wgan-gp"})
    assert cfg.train.n_critic == 5 and cfg.optim.D.betas == (0.0, 0.9)
    cfg = build_config(overrides={"loss.name": "wgan-gp", "train.n_critic": 2})
    assert cfg.train.n_critic == 2
    assert build_config().train.n_critic == 1


def test_preset_then_override():
    assert build_config("demo").data.source == "emoji"
    assert build_config("demo", {"train.kimg": 1}).train.kimg == 1.0
    with pytest.raises(ConfigError, match="unknown preset"):
        build_config("nope")


def test_json_round_trip():
    cfg = build_config(overrides={"optim.G.betas": "0,0.99", "train.seed": 7})
    back = RunConfig.from_dict(__import__("json").loads(cfg.to_json()))
    assert back == cfg
    assert "train.batch" in all_keys()


def test_parse_set():
    assert parse_set(["a.b=1", "c.d = x=y"]) == {"a.b": "1", "c.d": "x=y"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_set(["train.batch"])
