"""Settings: defaults on the dataclasses, TOML files, dotted overrides, clear errors."""

from __future__ import annotations

import math

import pytest

from leapfactual.explain import Blend, Inject
from leapfactual.pipeline.settings import (
    ClassifierSettings,
    ExplainSettings,
    FitSettings,
    FlowSettings,
    VAESettings,
    from_dict,
    load_toml,
    override,
    parse_assignments,
    to_dict,
)


def test_a_config_round_trips_through_plain_data() -> None:
    config = FitSettings(
        vae=VAESettings(kind="resnet", epochs=3), flow=FlowSettings(lr_milestones=(4,))
    )
    assert from_dict(FitSettings, to_dict(config)) == config
    assert to_dict(config)["flow"]["lr_milestones"] == [4]
    job = ExplainSettings(inject=None, options={"tau": 0.9})
    assert from_dict(ExplainSettings, to_dict(job)) == job


def test_a_toml_file_sets_any_nested_setting(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('data = "digits"\n[vae]\nkind = "resnet"\nlr = 1e-3\n[flow]\nwidth = 8\n')
    config = from_dict(FitSettings, load_toml(path))
    assert config.data == "digits" and config.vae.kind == "resnet" and config.flow.width == 8
    assert config.vae.lr == 1e-3 and config.classifier == FitSettings().classifier


def test_overrides_parse_values_and_keep_types() -> None:
    config = override(
        FitSettings(), parse_assignments(["vae.epochs=5", "flow.lr_milestones=[3, 6]"])
    )
    assert config.vae.epochs == 5 and config.flow.lr_milestones == (3, 6)
    assert override(FitSettings(), {"seed": 3}, parse=False).seed == 3
    job = override(ExplainSettings(), parse_assignments(["inject=none", "blend.gamma=0.2"]))
    assert job.inject is None and job.blend == Blend(gamma=0.2)
    back = override(job, {"inject.steps": 2}, parse=False)  # an optional table comes back on
    assert back.inject == Inject(steps=2)


def test_the_vae_kind_brings_its_own_width() -> None:
    assert VAESettings(kind="conv").base_width == 32 and VAESettings(kind="resnet").base_width == 16
    assert VAESettings(kind="resnet", width=24).base_width == 24


def test_the_residual_vae_works_at_64_px_at_most_unless_told() -> None:
    resnet = VAESettings(kind="resnet")
    assert [resnet.work_side(s) for s in (28, 64, 128, 200)] == [28, 64, 64, 64]
    assert VAESettings(kind="resnet", work_size=128).work_side(128) == 128
    assert (
        override(FitSettings(), {"vae.kind": "resnet", "vae.work_size": "96"}).vae.work_size == 96
    )
    assert VAESettings(kind="conv").work_side(128) == 128  # the conv VAE has no work size


def test_auto_picks_the_residual_vae_for_colour_or_larger_images() -> None:
    auto = VAESettings()
    assert auto.kind == "auto"
    picked = {(c, s): auto.for_images(c, s).kind for c in (1, 3) for s in (8, 28, 32, 64)}
    assert picked == {
        (1, 8): "conv", (1, 28): "conv", (1, 32): "resnet", (1, 64): "resnet",
        (3, 8): "resnet", (3, 28): "resnet", (3, 32): "resnet", (3, 64): "resnet",
    }  # fmt: skip
    assert VAESettings(kind="conv").for_images(3, 64).kind == "conv"  # the user's word stands
    with pytest.raises(ValueError, match=r"vae\.kind = 'auto' picks 'conv' for 1 x 28 x 28"):
        VAESettings(work_size=16).for_images(1, 28)
    with pytest.raises(ValueError, match=r"resolve it with VAESettings\.for_images"):
        _ = auto.base_width


def test_a_minimum_of_steps_raises_the_epochs_on_small_data() -> None:
    settings = VAESettings(epochs=20, batch_size=64, min_steps=1000)
    assert settings.epochs_for(4000) == 20  # 63 steps an epoch: 1260 steps already
    assert settings.epochs_for(128) == 500  # 2 steps an epoch
    assert VAESettings(epochs=3, min_steps=0).epochs_for(10) == 3
    assert FlowSettings(epochs=30, batch_size=256).epochs_for(4000) == 188  # 16 steps an epoch
    assert FlowSettings(epochs=30, batch_size=256).epochs_for(60000) == 30  # 7,050 steps
    assert ClassifierSettings(epochs=8, batch_size=64).epochs_for(4000) == 8
    with pytest.raises(ValueError, match=r"flow\.min_steps must be a whole number >= 0"):
        FlowSettings(min_steps=-1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: override(FitSettings(), {"vae.epochs": "many"}), "must be an integer, got 'many'"),
        (lambda: override(FitSettings(), {"flow.lr": math.nan}, parse=False), "finite number"),
        (lambda: override(FitSettings(), {"vae.nope": 1}), r"unknown setting 'vae.nope'"),
        (lambda: override(FitSettings(), {"seed.x": 1}), r"'seed' is not a table"),
        (lambda: from_dict(FitSettings, {"vae": 3}), "must be a table"),
        (lambda: parse_assignments(["epochs"]), "--set needs KEY=VALUE"),
        (lambda: VAESettings(epochs=0), "VAESettings.epochs must be positive"),
        (lambda: FlowSettings(source="beta"), "unknown flow.source 'beta'"),
        (lambda: FlowSettings(source_bounds=(1.0, 0.0)), "low < high"),
    ],
)
def test_bad_settings_name_the_problem(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_missing_and_broken_files_are_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_toml(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[vae\n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_toml(tmp_path / "bad.toml")


def test_fit_config_is_the_old_name_of_fit_settings() -> None:
    import leapfactual as lf
    from leapfactual.pipeline import FitConfig

    assert FitConfig is FitSettings is lf.FitSettings is lf.FitConfig


def test_old_names_of_fields_are_read_as_the_new_ones_with_a_note(caplog) -> None:
    caplog.set_level("INFO", logger="leapfactual")
    old = {"vae": {"batch": 16}, "classifier": {"batch": 8}, "flow": {"batch": 32}}
    config = from_dict(FitSettings, old)
    assert (config.vae.batch_size, config.classifier.batch_size) == (16, 8)
    assert config.flow.batch_size == 32
    assert "setting vae.batch is now called vae.batch_size" in caplog.text
    caplog.clear()
    assert from_dict(FitSettings, {"flow": {"batch_size": 32}}).flow.batch_size == 32
    assert caplog.text == ""  # the new name: no note
    flags = override(FitSettings(), parse_assignments(["vae.batch=16", "flow.batch=8"]))
    assert flags.vae.batch_size == 16 and flags.flow.batch_size == 8
    assert "setting flow.batch is now called flow.batch_size" in caplog.text


def test_an_old_and_a_new_name_of_one_setting_are_refused() -> None:
    with pytest.raises(ValueError, match=r"vae\.batch and vae\.batch_size are one setting"):
        from_dict(FitSettings, {"vae": {"batch": 16, "batch_size": 8}})
    with pytest.raises(ValueError, match=r"flow\.batch and flow\.batch_size are one setting"):
        override(FitSettings(), parse_assignments(["flow.batch=16", "flow.batch_size=8"]))
    with pytest.raises(ValueError, match=r"unknown setting 'vae\.batches'"):
        override(FitSettings(), parse_assignments(["vae.batches=16"]))  # no old name


def test_one_solver_default_everywhere() -> None:
    import inspect

    from leapfactual.explain import LeapFactual
    from leapfactual.flow import Solver, integrate, leap

    assert Solver() == Solver("rk4", 4)
    assert ExplainSettings().solver == Solver()
    for fn in (leap, integrate, LeapFactual):
        assert inspect.signature(fn).parameters["solver"].default == Solver(), fn


def test_the_residual_vae_defaults_are_the_settings_defaults() -> None:
    import inspect

    from leapfactual.models import ResVAE
    from leapfactual.pipeline import VAESettings
    from leapfactual.pipeline.settings import CODEC_DEFAULTS

    own = inspect.signature(ResVAE).parameters
    assert own["beta"].default == CODEC_DEFAULTS["resnet"].beta
    assert own["width"].default == CODEC_DEFAULTS["resnet"].width
    assert own["latent_dim"].default == VAESettings().latent_dim
