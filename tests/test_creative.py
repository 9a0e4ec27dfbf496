"""Creative mode (CAN): D names styles, G is pushed toward works whose style D cannot name."""

import math

import pytest
import torch

from ganvas.config import ModelConfig
from ganvas.models import MODELS, DataInfo
from ganvas.train.stats import read_stats
from ganvas.train.steps import style_ambiguity
from helpers import TINY_TRAIN, make_art_folder, run_cli


@pytest.mark.parametrize("name", ["dcgan", "stylegan"])
def test_discriminators_grow_a_style_head(name):
    cfg = ModelConfig(z_dim=8, width=8, max_width=32, w_dim=16, d_norm="layer")
    G, D = MODELS.get(name).build(cfg, DataInfo("image", resolution=16, style_classes=3))
    assert G.c_dim == 0  # G is not conditioned on the styles
    x = torch.randn(4, 3, 16, 16)
    logits, styles = D(x, styles=True)
    assert logits.shape == (4,) and styles.shape == (4, 3)
    torch.testing.assert_close(logits, D(x))
    styles.sum().backward()
    assert D.style_head.weight.grad.abs().sum() > 0
    _, plain = MODELS.get(name).build(cfg, DataInfo("image", resolution=16))
    with pytest.raises(ValueError, match="no style head"):
        plain(x, styles=True)


def test_style_ambiguity_is_smallest_when_d_cannot_name_the_style():
    k = 4
    uniform = torch.zeros(2, k)
    amb, ent = style_ambiguity(uniform)
    assert amb.item() == pytest.approx(2 * math.log(k)) and ent.item() == pytest.approx(2 * math.log(k))
    sure = torch.tensor([[10.0, 0, 0, 0], [0, 0, 10.0, 0]])
    amb_sure, ent_sure = style_ambiguity(sure)
    assert amb_sure > amb and ent_sure < 0.01
    x = torch.randn(3, k, requires_grad=True)  # the gradient pushes the posterior toward uniform
    style_ambiguity(x)[0].backward()
    step = x - 0.1 * x.grad
    assert style_ambiguity(step)[0] < style_ambiguity(x)[0]


def test_creative_run_logs_styles_and_needs_labels(tmp_path):
    art = make_art_folder(tmp_path / "art", n=24, classes=("ink", "oil", "pastel"))
    out = tmp_path / "can"
    run_cli("train", "--data", str(art), "--labels", "subdirs", "--creative", "--out", str(out), "--kimg", "0.128",
            *TINY_TRAIN, check=True)
    rows = [r for r in read_stats(out / "stats.jsonl") if "Loss/D/style" in r]
    assert rows and all(0 <= r["Scores/fake_style_entropy"] <= math.log(3) + 1e-6 for r in rows)
    assert 0 < rows[0]["Loss/D/style"] < 2 * math.log(3)  # cross-entropy of a barely trained 3-way classifier
    gen = run_cli("generate", str(out), "--seeds", "0-3", "--out", str(tmp_path / "g"), check=True)
    assert "wrote 4 images" in gen.stdout  # an unconditional generator: no --class needed
    bad = run_cli("train", "--data", str(art), "--creative", "--out", str(tmp_path / "x"), *TINY_TRAIN)
    assert bad.returncode == 2 and "needs labelled images" in bad.stderr
