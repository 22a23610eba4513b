import json
import shutil
from dataclasses import replace

import pytest
import torch

from leapfactual.io import CheckpointError
from leapfactual.pipeline import FitSettings, FlowSettings, fit_run, load_run, override


def test_fit_writes_every_stage_and_measures(tiny_run) -> None:
    files = {p.name for p in tiny_run.directory.iterdir()}
    for stage in ("vae", "classifier", "flow", "split"):
        assert {f"{stage}.safetensors", f"{stage}.json"} <= files
    assert "checkpoints" not in files or not any((tiny_run.directory / "checkpoints").iterdir())
    summary = json.loads((tiny_run.directory / "run.json").read_text())["summary"]
    assert 0.5 < summary["classifier_test_accuracy"] <= 1
    assert 5 < summary["vae_test_psnr"] < 60
    assert 0 <= summary["classifier_agreement_on_reconstructions"] <= 1
    assert len(tiny_run.train) == 4000 and len(tiny_run.test) == 1000


def test_fit_measures_whether_the_flows_samples_follow_their_class(tiny_run) -> None:
    from leapfactual.metrics.generation import conditional_sample_accuracy

    score = tiny_run.summary["flow_sample_accuracy"]
    run = load_run(tiny_run.directory)
    again = conditional_sample_accuracy(run.flow, run.vae, run.classifier, 10, seed=0)
    assert score == again and 0 <= score <= 1


def test_a_flow_whose_samples_miss_their_class_is_warned_about(tiny_run) -> None:
    from leapfactual.pipeline import fit_warnings

    run = load_run(tiny_run.directory)
    run.meta["summary"] = {**run.summary, "flow_sample_accuracy": 0.3}
    assert any(w.startswith("only 30% of the flow's samples") for w in fit_warnings(run))
    run.meta["summary"]["flow_sample_accuracy"] = 0.9
    assert not any("flow's samples" in w for w in fit_warnings(run))


def test_the_codec_warning_names_the_work_size_of_a_vae_that_works_smaller(tiny_run) -> None:
    from leapfactual.models.resvae import ResVAE
    from leapfactual.pipeline import fit_warnings

    run = load_run(tiny_run.directory)
    run.meta["summary"] = {**run.summary, "classifier_agreement_on_reconstructions": 0.5}
    (plain,) = [w for w in fit_warnings(run) if "agrees with itself on only 50%" in w]
    assert "work_size" not in plain
    run.vae = ResVAE(1, 28, latent_dim=4, width=4, work_size=14)
    (inside,) = [w for w in fit_warnings(run) if "agrees with itself on only 50%" in w]
    assert inside.endswith(
        "; it works at 14 px inside, so finer detail is lost (--set vae.work_size=28)"
    )


def test_refit_reuses_finished_stages(tiny_run, tiny_config) -> None:
    stamps = {p.name: p.stat().st_mtime_ns for p in tiny_run.directory.glob("*.safetensors")}
    again = fit_run(tiny_run.directory, tiny_config)
    assert {
        p.name: p.stat().st_mtime_ns for p in tiny_run.directory.glob("*.safetensors")
    } == stamps
    assert torch.equal(again.flow.net[0].weight, tiny_run.flow.net[0].weight)


def test_a_refit_measures_only_what_changed(tiny_run, tiny_config, tmp_path, monkeypatch) -> None:
    import leapfactual.pipeline.run as module

    measured: list[str] = []
    real = module._measure
    monkeypatch.setattr(module, "_measure", lambda run, stage: measured.append(stage) or {})
    fit_run(tiny_run.directory, tiny_config)  # every stage reused, measured with these files
    assert measured == []
    out = tmp_path / "run"
    shutil.copytree(tiny_run.directory, out)
    (out / "flow.safetensors").unlink()  # the flow trained again: its numbers measured again
    monkeypatch.setattr(
        module, "_measure", lambda run, stage: measured.append(stage) or real(run, stage)
    )
    again = fit_run(out, tiny_config)
    assert measured == ["flow"]
    assert again.meta["measured"]["flow"]["flow"] == again.meta["files"]["flow"]
    meta = json.loads((out / "run.json").read_text())
    del meta["measured"]  # a run written before the record: measured once more, then recorded
    (out / "run.json").write_text(json.dumps(meta))
    measured.clear()
    fit_run(out, tiny_config)
    assert sorted(measured) == ["classifier", "flow", "vae"]
    assert set(json.loads((out / "run.json").read_text())["measured"]) == {
        "classifier",
        "flow",
        "vae",
    }


def test_a_stage_copied_from_another_run_brings_its_training_record(
    tiny_run, tiny_config, tmp_path
) -> None:
    steps = tiny_run.meta["vae_steps"]
    assert json.loads((tiny_run.directory / "vae.json").read_text())["training"]["steps"] == steps
    for name, strip in (("copied", False), ("stripped", True)):
        out = tmp_path / name
        out.mkdir()
        for stem in ("split", "vae", "classifier", "flow"):
            for suffix in (".safetensors", ".json"):
                shutil.copyfile(tiny_run.directory / f"{stem}{suffix}", out / f"{stem}{suffix}")
        if strip:  # a file written before stages carried their record: the steps stay unknown
            sidecar = json.loads((out / "vae.json").read_text())
            del sidecar["training"]
            (out / "vae.json").write_text(json.dumps(sidecar))
        run = fit_run(out, tiny_config)
        (check,) = [c for c in run.meta["verdict"]["checks"] if c["name"] == "training_steps"]
        if strip:
            assert "vae_steps" not in run.meta and check["value"] is None
        else:
            assert run.meta["vae_steps"] == steps and check["value"] == steps
            assert run.meta["stopping"]["vae"] == tiny_run.meta["stopping"]["vae"]


def test_other_settings_are_refused(tiny_run, tiny_config) -> None:
    with pytest.raises(ValueError, match=r"flow\.epochs differ"):
        fit_run(tiny_run.directory, override(tiny_config, {"flow.epochs": 99}))


def test_load_run_gives_a_working_explainer(tiny_run) -> None:
    run = load_run(tiny_run.directory)
    assert run.summary == tiny_run.summary
    x = run.test.images[:4]
    exp = run.explainer().explain(x, torch.tensor([1, 2, 3, 4]))
    assert exp.x_cf.shape == x.shape and exp.x_reliable is not None
    assert exp.config["condition"]["kind"] == "softmax"


def test_optional_stage_is_named_when_missing(tiny_run) -> None:
    with pytest.raises(ValueError, match="no oracle yet"):
        tiny_run.require("oracle")


def test_fitted_accessors_return_the_models_or_name_the_missing_stage(tiny_run) -> None:
    assert tiny_run.fitted_classifier() is tiny_run.classifier
    assert tiny_run.fitted_vae() is tiny_run.vae and tiny_run.fitted_flow() is tiny_run.flow
    bare = replace(tiny_run, classifier=None, vae=None, flow=None)
    for accessor, stage in [
        (bare.fitted_classifier, "classifier"),
        (bare.fitted_vae, "vae"),
        (bare.fitted_flow, "flow"),
    ]:
        with pytest.raises(ValueError, match=rf"has no {stage} yet; fit it with `leapfactual fit"):
            accessor()


def test_run_from_another_format_is_refused(tiny_run, tmp_path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(tiny_run.directory, copy)
    meta = json.loads((copy / "run.json").read_text())
    meta["run_format"] = 0
    (copy / "run.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="Re-fit the run"):
        load_run(copy)


def test_a_run_file_written_before_batch_size_is_read_and_refits_nothing(
    tiny_run, tiny_config, tmp_path, caplog
) -> None:
    copy = tmp_path / "before-rename"
    shutil.copytree(tiny_run.directory, copy)
    meta = json.loads((copy / "run.json").read_text())
    for stage in ("vae", "classifier", "flow", "oracle", "cvae"):  # the old format's key
        meta["config"][stage]["batch"] = meta["config"][stage].pop("batch_size")
    (copy / "run.json").write_text(json.dumps(meta))
    caplog.set_level("INFO", logger="leapfactual")
    run = load_run(copy, dataset=tiny_run.dataset)
    assert run.config == tiny_run.config
    assert "setting flow.batch is now called flow.batch_size" in caplog.text
    stamps = {p.name: p.stat().st_mtime_ns for p in copy.glob("*.safetensors")}
    fit_run(copy, tiny_config, dataset=tiny_run.dataset)  # the same settings: nothing refitted
    assert {p.name: p.stat().st_mtime_ns for p in copy.glob("*.safetensors")} == stamps
    assert "batch_size" in json.loads((copy / "run.json").read_text())["config"]["vae"]


def test_not_a_run_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a leapfactual run"):
        load_run(tmp_path)


def test_unknown_stage_and_setting_are_named(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown stages"):
        fit_run(tmp_path, FitSettings(), stages=("gan",))
    with pytest.raises(ValueError, match="unknown settings"):
        FitSettings.from_dict({"vae_epoch": 3})
    with pytest.raises(ValueError, match=r"unknown settings \['vae.epoch'\]"):
        FitSettings.from_dict({"vae": {"epoch": 3}})


def test_device_arguments_place_the_models(tiny_run) -> None:
    run = load_run(tiny_run.directory, device="cpu")
    assert run.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in run.flow.parameters())
    explainer = run.explainer(device="cpu")
    assert explainer.device == torch.device("cpu")
    with pytest.raises((RuntimeError, ValueError)):
        load_run(tiny_run.directory, device="no-such-device")


def test_unet_flow_is_selectable(tmp_path, make_tiny_config) -> None:
    config = override(
        make_tiny_config(data="digits"),
        {"flow.field": "unet", "flow.width": 4, "flow.depth": 1, "flow.epochs": 1},
    )
    run = fit_run(tmp_path / "unet", config, ("vae", "classifier", "flow"))
    assert type(load_run(run.directory).flow).__name__ == "UNet1DField"
    with pytest.raises(ValueError, match=r"unknown flow\.field 'transformer'"):
        replace(config, flow=FlowSettings(field="transformer"))


def test_bad_settings_are_refused_before_training() -> None:
    with pytest.raises(ValueError, match=r"unknown flow\.condition 'soft'"):
        FlowSettings(condition="soft")
    with pytest.raises(ValueError, match="test_fraction"):
        FitSettings(test_fraction=1.5)


def test_a_swapped_classifier_is_refused(tiny_run, tmp_path, make_tiny_config) -> None:
    from leapfactual.io import save_module
    from leapfactual.pipeline.build import fit_classifier

    copy = tmp_path / "swapped"
    shutil.copytree(tiny_run.directory, copy)
    other = fit_classifier(
        tiny_run.train.images[:256], tiny_run.train.labels[:256], 10, tiny_run.config.oracle, 7
    )
    save_module(other, copy / "classifier")  # a valid model, but not the one the flow knows
    with pytest.raises(CheckpointError, match=r"classifier\.safetensors changed since the run"):
        load_run(copy)


def test_data_that_changed_or_moved_is_named_with_the_run_file(tmp_path, monkeypatch) -> None:
    from PIL import Image

    from leapfactual.pipeline import ClassifierSettings, FlowSettings, VAESettings

    rng = torch.Generator().manual_seed(0)
    for k in range(2):
        (tmp_path / "data" / f"c{k}").mkdir(parents=True)
        for i in range(12):
            pixels = (torch.rand(12, 12, generator=rng) * 255 * (k + 1) / 2).byte().numpy()
            Image.fromarray(pixels).save(tmp_path / "data" / f"c{k}" / f"{i}.png")
    monkeypatch.chdir(tmp_path)  # a relative path, resolved when the run is fitted
    config = FitSettings(
        data="image-folder:data",
        vae=VAESettings(latent_dim=4, width=4, epochs=1, min_steps=0),
        classifier=ClassifierSettings(width=4, epochs=1, min_steps=0, accept_chance=True),
        flow=FlowSettings(epochs=1, min_steps=0),
    )
    run = fit_run(tmp_path / "run", config)
    meta = json.loads((run.directory / "run.json").read_text())
    assert meta["config"]["data"] == f"image-folder:{tmp_path / 'data'}"
    assert meta["data"]["shape"] == [1, 12, 12]
    monkeypatch.chdir(tmp_path.parent)  # from anywhere else it still loads
    assert len(load_run(run.directory).test) == len(run.test)
    Image.fromarray((torch.ones(12, 12) * 255).byte().numpy()).save(tmp_path / "data/c0/0.png")
    with pytest.raises(ValueError, match="changed since it was fitted"):
        _ = load_run(run.directory).test
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    moved = load_run(run.directory)  # loads: the data is only needed for the split
    assert moved.class_names == ["c0", "c1"] and moved.image_shape == (1, 12, 12)
    with pytest.raises(FileNotFoundError, match=r"run\.json: data 'image-folder:.*move it back"):
        _ = moved.test


def test_vae_agreement_fits_the_classifier_first_and_trains_the_codec_through_it(
    tmp_path, make_tiny_config, monkeypatch
) -> None:
    from leapfactual.pipeline import build, override

    seen: list[object] = []
    real = build.fit_vae

    def spy(images, settings, seed, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["classifier"])
        return real(images, settings, seed, **kwargs)

    monkeypatch.setattr(build, "fit_vae", spy)
    config = override(make_tiny_config(), {"vae.agreement": 0.01})
    run = fit_run(tmp_path / "run", config, ("vae",))  # the classifier comes with it
    assert run.classifier is not None and seen == [run.classifier]
    assert run.meta["vae_classifier"] == run.classifier_identity
    plain = fit_run(tmp_path / "plain", make_tiny_config(), ("vae",))
    assert plain.classifier is None and "vae_classifier" not in plain.meta


def test_a_failed_fit_removes_what_it_made(tiny_run, tiny_config, tmp_path, monkeypatch) -> None:
    import leapfactual.pipeline.run as run_module
    from leapfactual.io import LOCK_NAME

    fit_stage = run_module._fit_stage

    def fail_at(stage: str):
        def fit(run, name, *args):
            if name == stage:
                raise ValueError(f"the {name} failed")
            return fit_stage(run, name, *args)

        return fit

    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(run_module, "_fit_stage", fail_at("classifier"))  # the first stage
    with pytest.raises(ValueError, match="the classifier failed"):
        fit_run(out, tiny_config, dataset=tiny_run.dataset)
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_NAME, "notes.txt"])

    def fail_after_a_checkpoint(run, name, *args):
        (out / "checkpoints" / name).mkdir(parents=True)
        (out / "checkpoints" / name / "epoch-000001.json").write_text("{}")
        raise ValueError(f"the {name} failed")

    monkeypatch.setattr(run_module, "_fit_stage", fail_after_a_checkpoint)
    with pytest.raises(ValueError, match="the classifier failed"):
        fit_run(out, tiny_config, dataset=tiny_run.dataset)
    assert (out / "run.json").is_file()  # kept beside the checkpoint it resumes from
    shutil.rmtree(out / "checkpoints")
    monkeypatch.setattr(run_module, "_fit_stage", fail_at("flow"))  # after two saved stages
    with pytest.raises(ValueError, match="the flow failed"):
        fit_run(out, tiny_config, dataset=tiny_run.dataset)
    kept = {p.name for p in out.iterdir()}
    assert {"run.json", "split.safetensors", "vae.safetensors", "classifier.json"} <= kept


def test_a_loaded_run_gives_its_built_in_models_the_faster_layout(tiny_run) -> None:
    from leapfactual.pipeline import fast_layout, load_run

    def layout(model: torch.nn.Module) -> bool:  # the last convolution has several channels
        weight = [p for p in model.parameters() if p.dim() == 4][-1]
        return weight.is_contiguous(memory_format=torch.channels_last)

    loaded = load_run(tiny_run.directory)
    x = tiny_run.test.images[:8]
    assert layout(loaded.classifier) and layout(loaded.vae)
    assert not layout(tiny_run.classifier)  # a fit keeps the layout it trained in
    with torch.no_grad():
        assert torch.allclose(loaded.classifier(x), tiny_run.classifier(x), atol=1e-6)
        z = tiny_run.vae.encode(x)
        assert torch.allclose(loaded.vae.decode(z), tiny_run.vae.decode(z), atol=1e-6)
    other = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3))  # not a built-in model: as it is
    assert not layout(fast_layout(other))
