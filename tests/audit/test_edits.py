import pytest
import torch

from leapfactual.audit.edits import edit_parts, edits_for, fit_edits, split_change


def textured(batch: int = 2, channels: int = 1, side: int = 16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return 0.2 + 0.5 * torch.rand(batch, channels, side, side, generator=gen)


def test_a_brightness_change_is_one_global_edit_and_leaves_no_rest() -> None:
    x = textured()
    params, parts, counts, rest = split_change(x, x + 0.2, ("brightness", "contrast", "blur"))
    assert counts.tolist() == [[True, False, False]] * 2
    assert torch.allclose(parts[:, 0], torch.full_like(x, 0.2), atol=1e-5)
    assert rest.abs().max() < 1e-5
    assert torch.allclose(params[:, 0], torch.full((2,), 0.2, dtype=torch.float64), atol=1e-6)


def test_a_contrast_change_is_named_contrast() -> None:
    x = textured()
    x_cf = x.mean(dim=(2, 3), keepdim=True) + 1.5 * (x - x.mean(dim=(2, 3), keepdim=True))
    _, _, counts, rest = split_change(x, x_cf, ("brightness", "contrast", "blur"))
    assert counts.tolist() == [[False, True, False]] * 2
    assert rest.abs().max() < 1e-5


def test_a_local_patch_is_no_global_edit_even_where_it_fits_one() -> None:
    x = torch.full((1, 1, 16, 16), 0.2)
    x[:, :, :4, :4] = 0.9
    x_cf = x.clone()
    x_cf[:, :, :4, :4] = 0.2  # fits a contrast gain of -1, but only 1/16 of the pixels move
    _, parts, counts, rest = split_change(x, x_cf, ("brightness", "contrast", "blur"))
    assert not counts.any() and parts.abs().max() == 0
    assert torch.equal(rest, x_cf - x)


def test_a_colour_cast_transplants_into_another_image() -> None:
    x = textured(1, 3)
    cast = torch.tensor([0.2, 0.0, -0.1]).view(1, 3, 1, 1)
    params = fit_edits(x, x + cast)
    other = textured(1, 3, 8) * 0.5
    moved = other + edit_parts(other, params, ("brightness", "colour")).sum(dim=1)
    assert torch.allclose(moved - other, cast.expand_as(other), atol=1e-5)


def test_colour_needs_colour_images_and_unknown_edits_are_refused() -> None:
    assert edits_for(1) == ("brightness", "contrast", "blur")
    assert edits_for(3) == ("brightness", "contrast", "colour", "blur")
    with pytest.raises(ValueError, match="unknown global edits"):
        edits_for(1, ("sepia",))
