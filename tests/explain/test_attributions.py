import pytest
import torch
from torch import nn

from leapfactual.explain import (
    LatentAttack,
    attribute_attributions,
    fit_attribute_probes,
)
from leapfactual.models import IdentityCodec

Z = torch.randn(400, 3, generator=torch.Generator().manual_seed(0))
ATTRIBUTES = torch.stack([Z[:, 0] > 0, Z[:, 1] + Z[:, 2] > 0.5], dim=1)


def test_probes_learn_each_attribute() -> None:
    probes = fit_attribute_probes(Z, ATTRIBUTES, names=["thick", "slanted"])
    p = probes.predict(Z)
    assert p.shape == (400, 2) and p.dtype == Z.dtype
    assert ((p > 0.5) == ATTRIBUTES).float().mean(dim=0).min() > 0.97
    assert probes.names == ("thick", "slanted")
    # one regression per attribute: "thick" ignores z_1, z_2; "slanted" ignores z_0
    w = probes.weight / probes.weight.norm(dim=1, keepdim=True)
    assert w[0, 1:].abs().max() < 0.1 and w[1, 0].abs() < 0.1


def test_local_and_global_importance() -> None:
    probes = fit_attribute_probes(Z, ATTRIBUTES, names=["thick", "slanted"])
    z = torch.tensor([[-1.0, 0.0, 0.0], [-0.5, 1.0, 1.0], [-2.0, -1.0, 0.0]])
    z_cf = z + torch.tensor([3.0, 0.0, 0.0])  # a counterfactual that only changes "thick"
    attr = attribute_attributions(probes, z, z_cf)
    assert torch.allclose(attr.local_importance, probes.predict(z_cf) - probes.predict(z))
    assert (attr.local_importance[:, 0] > 0.9).all()
    assert attr.local_importance[:, 1].abs().max() < 0.05
    assert torch.allclose(attr.global_importance, attr.local_importance.mean(dim=0))
    valid = torch.tensor([True, False, True])
    masked = attribute_attributions(probes, z, z_cf, valid=valid)
    assert torch.allclose(masked.global_importance, attr.local_importance[valid].mean(dim=0))
    assert set(attr.as_dict()) == {"thick", "slanted"}


def test_attributions_of_a_latent_attack() -> None:
    """The attack raises z_0 (the only direction the classifier reads): "thick" changes."""
    clf = nn.Linear(3, 2)
    with torch.no_grad():
        clf.weight.copy_(torch.tensor([[-2.0, 0.0, 0.0], [2.0, 0.0, 0.0]]))
        clf.bias.zero_()
    start = Z[Z[:, 0] < -0.5][:10]
    exp = LatentAttack(clf, IdentityCodec(), tau=0.9).explain(start, 1)
    probes = fit_attribute_probes(Z, ATTRIBUTES, names=["thick", "slanted"])
    importance = attribute_attributions(probes, exp.z, exp.z_cf, valid=exp.valid).as_dict()
    assert importance["thick"] > 0.5 and abs(importance["slanted"]) < 0.05


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="binary"):
        fit_attribute_probes(Z, Z[:, :2])
    with pytest.raises(ValueError, match="one value only"):
        fit_attribute_probes(Z, torch.ones(400, 1), names=["always"])
    with pytest.raises(ValueError, match="2 names for 1 attributes"):
        fit_attribute_probes(Z, ATTRIBUTES[:, 0], names=["a", "b"])
    with pytest.raises(ValueError, match="N = 400"):
        fit_attribute_probes(Z, ATTRIBUTES[:10])
    probes = fit_attribute_probes(Z, ATTRIBUTES)
    assert probes.names == ("attr0", "attr1")
    with pytest.raises(ValueError, match="3-d latents"):
        probes.predict(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="same shape"):
        attribute_attributions(probes, Z[:2], None)
    with pytest.raises(ValueError, match="no counterfactual"):
        attribute_attributions(probes, Z[:2], Z[:2], valid=torch.zeros(2, dtype=torch.bool))
