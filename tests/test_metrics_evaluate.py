"""`ganvas metrics` end to end with the tiny random extractor (no weights needed)."""

import json

import pytest

from ganvas.config import build_config
from ganvas.errors import DataError, GanvasError
from ganvas.metrics import evaluate as ev
from ganvas.train import train
from helpers import make_art_folder, run_cli


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    return make_art_folder(tmp_path_factory.mktemp("art") / "art", n=32)


@pytest.fixture(scope="module")
def run(tmp_path_factory, art):
    cfg = build_config(overrides={"data.source": str(art), "data.resolution": 16, "train.batch": 16,
                                  "model.width": 8, "model.z_dim": 8, "train.tensorboard": False,
                                  "train.grid_size": 4, "train.kimg": 0.128})
    out = tmp_path_factory.mktemp("runs") / "run"
    train(cfg, out, progress=False, log=lambda m: None)
    return out


def test_cli_scores_a_run_with_every_metric(run, art):
    proc = run_cli("metrics", str(run), "--ref", str(art), "--metrics", "fid,kid,pr,dc", "--num", "24",
                   "--extractor", "random-conv", "--json", check=True)
    result = json.loads(proc.stdout)
    for key in ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage"):
        assert key in result
    assert result["extractor"] == "random-conv" and result["num"] == 24 and result["num_real"] == 24
    assert result["fid"] > 0 and result["resolution"] == 16
    text = run_cli("metrics", str(run), "--ref", str(art), "--metrics", "fid", "--num", "24", "--extractor",
                   "random-conv", check=True).stdout  # 24 images in more feature dimensions than that
    assert f"from 24 images in {result['fid_dims']}-dimensional features: biased upward" in text


def test_same_folder_scores_perfectly(art):
    result = ev.evaluate(art, str(art), ["fid", "pr"], num=32, extractor="random-conv", resolution=16,
                         progress=False)
    assert result["fid"] == pytest.approx(0.0, abs=1e-3)
    assert result["precision"] == 1.0 and result["recall"] == 1.0


def test_real_features_are_cached(run, art, monkeypatch):
    calls = []
    real_extract = ev.extract

    def counting(ext, images, **kw):
        calls.append(1)
        return real_extract(ext, images, **kw)

    monkeypatch.setattr(ev, "extract", counting)
    first = ev.evaluate(run, str(art), ["kid"], num=16, extractor="random-conv", progress=False)
    assert len(calls) == 2  # generated + real
    second = ev.evaluate(run, str(art), ["kid"], num=16, extractor="random-conv", progress=False)
    assert len(calls) == 3  # generated only: the real features came from the cache
    assert second["kid"] == first["kid"]


def test_a_missing_reference_fails_before_any_generating(run, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ev, "extract", lambda *a, **kw: calls.append(1))
    with pytest.raises(DataError, match="does not exist"):
        ev.evaluate(run, str(tmp_path / "nowhere"), ["kid"], num=16, extractor="random-conv", progress=False)
    assert calls == []  # no generated images were rendered and embedded first


def test_default_metric_follows_the_count():
    assert ev.default_metrics(500) == ["kid"] and ev.default_metrics(5000) == ["fid", "kid"]


def test_bad_metric_and_points_run_are_clear(art, tmp_path):
    proc = run_cli("metrics", str(art), "--ref", str(art), "--metrics", "fidd", "--extractor", "random-conv")
    assert proc.returncode == 2 and "unknown metric 'fidd'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("key,value,message", [("train.metrics", "kid,fidd", "unknown metric 'fidd'"),
                                               ("train.metrics_extractor", "efnet", "unknown feature extractor")])
def test_a_bad_training_metric_fails_before_any_data_is_read(tmp_path, key, value, message):
    cfg = build_config(overrides={"data.source": str(tmp_path / "not-there"), "train.metrics": "kid", key: value})
    with pytest.raises(GanvasError, match=message):  # not "folder does not exist": the names come first
        train(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_metrics_during_training_mark_the_best_and_keep_resume_exact(tmp_path, art):
    from helpers import TINY_TRAIN

    args = ["train", "--data", str(art), "--kimg", "0.512", "--checkpoint-kimg", "0.128", "--metrics", "kid,fid",
            "--metrics-every", "0.128", "--set", "train.metrics_extractor=random-conv",
            "--set", "train.metrics_num=16", *TINY_TRAIN]
    run_cli(*args, "--out", str(tmp_path / "whole"), check=True)
    rows = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [128, 256, 384, 512]
    assert all("kid" in r and "fid" in r for r in rows) and rows[0]["best"] is True
    best = min(rows, key=lambda r: r["fid"])
    assert best.get("best") is True
    record = json.loads((tmp_path / "whole" / "best" / "generator.json").read_text())
    assert record["training"]["nimg"] == max(r["nimg"] for r in rows if r.get("best"))
    assert (tmp_path / "whole" / "metrics.png").exists()
    # Scoring draws nothing from the training streams: a killed and resumed run is still bit-identical.
    assert run_cli(*args, "--out", str(tmp_path / "cut"), env={"GANVAS_FAULT_KILL_AT_NIMG": "300"}).returncode == -9
    run_cli(*args, "--out", str(tmp_path / "cut"), check=True)
    whole = (tmp_path / "whole" / "generator.safetensors").read_bytes()
    assert (tmp_path / "cut" / "generator.safetensors").read_bytes() == whole
    cut_rows = [json.loads(line) for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in cut_rows] == [128, 256, 384, 512]  # no duplicated rows after the resume


def test_metrics_say_which_reference_files_were_skipped(tmp_path, run):
    ref = make_art_folder(tmp_path / "ref", n=16)
    (ref / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    result = ev.evaluate(run, str(ref), ["kid"], num=8, extractor="random-conv", progress=False)
    assert result["ref_skipped"] == [{"path": str(ref / "broken.png"), "reason": result["ref_skipped"][0]["reason"]}]
    assert result["source_skipped"] == [] and result["num_real"] == 8
    proc = run_cli("metrics", str(run), "--ref", str(ref), "--metrics", "kid", "--num", "8",
                   "--extractor", "random-conv", check=True)
    assert f"skipped 1 unusable file in {ref}:\n  {ref / 'broken.png'}: " in proc.stdout


def test_an_unfinished_run_is_not_scored_as_a_folder_of_images(tmp_path, run, art):
    import shutil

    unfinished = tmp_path / "unfinished"
    shutil.copytree(run, unfinished)
    for name in ("generator.safetensors", "generator.json"):
        (unfinished / name).unlink()  # as a run stopped before its end: checkpoints and grids, no export
    with pytest.raises(GanvasError, match="Training has not finished yet: rerun the same `ganvas train`"):
        ev.evaluate(unfinished, str(art), ["kid"], num=8, extractor="random-conv", progress=False)
    shutil.rmtree(unfinished / "checkpoints")  # killed before its first checkpoint: config.json and grids
    with pytest.raises(GanvasError, match="no exported generator"):
        ev.evaluate(unfinished, str(art), ["kid"], num=8, extractor="random-conv", progress=False)
