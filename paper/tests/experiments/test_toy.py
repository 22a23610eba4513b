import torch

from paper.experiments.toy import (
    STARTS,
    TARGET,
    ToyConfig,
    plot_toy,
    quadrant_labels,
    run_toy,
    toy_explainer,
)


def test_blend_and_inject_reach_quadrant_three(toy_field) -> None:
    exp = toy_explainer(toy_field).explain(STARTS, TARGET)
    assert (quadrant_labels(exp.x_cf) == 3).all()
    assert (quadrant_labels(exp.x_reliable) == 3).all()
    # distance to the nearest decision boundary of quadrant 3 is min(x, y)
    blend_margin = exp.x_cf.min(dim=1).values
    inject_margin = exp.x_reliable.min(dim=1).values
    assert (blend_margin < inject_margin).all()


def test_point_already_in_target_does_not_move_while_blending(toy_field) -> None:
    exp = toy_explainer(toy_field).explain(STARTS[3:], TARGET)
    assert torch.allclose(exp.x_cf, STARTS[3:], atol=1e-5)


def test_flow_samples_land_in_their_quadrant(toy_field) -> None:
    from leapfactual.flow import integrate

    gen = torch.Generator().manual_seed(5)
    for k in range(4):
        z0 = torch.rand(400, 2, generator=gen) - 0.5
        cond = toy_field.condition.from_labels(torch.full((400,), k))
        with torch.no_grad():
            z1 = integrate(lambda t, z, c=cond: toy_field(t, z, c), z0, 0.0, 1.0)
        assert (quadrant_labels(z1) == k).float().mean() > 0.9


def test_figure_is_written(toy_field, toy_config, tmp_path) -> None:
    exp = toy_explainer(toy_field).explain(STARTS, TARGET)
    path = plot_toy(toy_field, exp, tmp_path / "toy.png", toy_config)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000


def test_run_toy_on_a_device_draws_on_the_cpu(tmp_path) -> None:
    result = run_toy(tmp_path, ToyConfig(points=256, epochs=1), device="cpu")
    assert next(result.field.parameters()).device.type == "cpu"
    assert result.figure is not None and result.figure.read_bytes()[:4] == b"\x89PNG"
