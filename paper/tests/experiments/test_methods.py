"""Every experiment, the command line and the speed benchmark name methods as the registry
does, and title them with the registry's titles."""

import importlib.util
import inspect
from pathlib import Path

import pytest

from leapfactual.explain import method_info, registered_methods
from paper.cli.bench import bench
from paper.cli.divergence import divergence
from paper.experiments import divergence as div
from paper.experiments import morphomnist
from paper.experiments.morphomnist import MorphoBenchConfig, build_methods

SPEED = Path(__file__).parents[3] / "benchmarks" / "speed.py"


def _default(command: object, option: str) -> tuple[str, ...]:
    text = inspect.signature(command).parameters[option].default  # type: ignore[arg-type]
    return tuple(m.strip() for m in text.split(","))


def _speed_rows() -> dict[str, tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("speed", SPEED)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ROWS


@pytest.mark.parametrize(
    "names",
    [
        morphomnist.METHODS,
        morphomnist.RELIABLE,
        MorphoBenchConfig().methods,
        div.METHODS,
        div.DivergenceConfig().methods,
        _default(bench, "methods"),
        _default(bench, "reliable"),
        _default(divergence, "methods"),
        tuple(method for method, _ in _speed_rows().values()),
    ],
)
def test_method_lists_use_registry_names(names: tuple[str, ...]) -> None:
    assert names and set(names) <= set(registered_methods())


def test_command_line_defaults_are_the_experiments_defaults() -> None:
    assert _default(bench, "methods") == morphomnist.METHODS
    assert _default(bench, "reliable") == morphomnist.RELIABLE
    assert _default(divergence, "methods") == div.METHODS


def test_columns_are_titled_by_the_registry(tiny_run) -> None:
    names = ("opt", "leapfactual", "latent_attack", "reflection", "pixel_attack")
    methods = build_methods(tiny_run, MorphoBenchConfig(methods=names, opt_steps=1))
    leap = method_info("leapfactual")
    titles = [method_info(n).title for n in names]
    titles.insert(2, leap.reliable_title())
    assert [m.name for m in methods] == titles
    plain, reliable = methods[1], methods[2]  # explained once, read twice
    assert reliable.explainer is plain.explainer and reliable.output == "reliable"


def test_divergence_titles_its_reliable_variants_by_the_registry() -> None:
    cfg = div.DivergenceConfig(reliable_tau=0.9)
    variants = div.reliable_variants(cfg)
    assert set(variants) == {m for m in cfg.methods if method_info(m).reliable is not None}
    assert method_info("latent_attack").reliable_title(variants["latent_attack"]) == (
        "Latent attack τ=0.9"
    )
    assert method_info("reflection").reliable_title(variants["reflection"]) == (
        "Latent reflection ×2"
    )
