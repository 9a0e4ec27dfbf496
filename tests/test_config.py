import json

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


def test_auto_preset_follows_dataset_size_and_resolution():
    from ganvas.config import auto_preset

    tiny = build_config("auto", num_images=50)  # a tiny set: the few-shot model with DiffAugment
    assert (tiny.model.name, tiny.aug.name, tiny.train.batch, tiny.model.max_width) == ("fastgan", "diffaugment",
                                                                                        16, 128)
    small = build_config("auto", {"model.name": "stylegan"}, num_images=50)  # the user's model gets its settings
    assert (small.model.name, small.aug.name, small.train.batch) == ("stylegan", "ada", 16)
    assert small.model.max_width == 128 and small.model.w_dim == 128  # narrow for tiny sets
    assert small.loss.r1_gamma == pytest.approx(0.0002 * 32 ** 2 / 16, abs=1e-4) and small.loss.r1_interval == 16
    big = build_config("auto", {"data.resolution": 128}, num_images=20000)
    assert big.train.batch == 32 and big.model.width == 16 and big.model.max_width == 256
    assert big.loss.r1_gamma == pytest.approx(0.0002 * 128 ** 2 / 32, abs=1e-4)
    assert big.train.ema_kimg == pytest.approx(10.0)
    assert big.model.noise and not small.model.noise  # noise inputs only above 64 px
    mine = build_config("auto", {"train.batch": 8, "aug.name": "diffaugment"}, num_images=50)
    assert mine.train.batch == 8 and mine.aug.name == "diffaugment"  # the user's settings win
    _, reasons = auto_preset(64, 700)
    assert any("700 images" in r for r in reasons) and any("R1 gamma" in r for r in reasons)
    with pytest.raises(ConfigError, match="dataset size"):
        build_config("auto")


def test_auto_preset_from_the_cli_says_what_it_chose(tmp_path):
    from helpers import make_art_folder, run_cli

    art = make_art_folder(tmp_path / "art", n=12)
    proc = run_cli("train", "--data", str(art), "--preset", "auto", "--batch", "4", "--dry-run", check=True)
    assert "preset auto for 12 images at 32 px" in proc.stderr and "your settings win: train.batch" in proc.stderr
    assert "model fastgan (a light few-shot GAN" in proc.stderr and "DiffAugment" in proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["model"]["name"] == "fastgan" and cfg["aug"]["name"] == "diffaugment" and cfg["train"]["batch"] == 4
    bad = run_cli("train", "--data", "ring8", "--preset", "auto", "--dry-run")
    assert bad.returncode == 2 and "image data" in bad.stderr
