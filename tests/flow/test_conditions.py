import pytest
import torch

from leapfactual.flow import ConditionSpec

PROBS = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("softmax", PROBS),
        ("onehot", torch.tensor([[1.0, 0, 0], [0, 0, 1]])),
        ("class", torch.tensor([0, 2])),
        ("scalar", torch.tensor([[0.0], [2.0]])),
    ],
)
def test_encodings_of_classifier_outputs(kind: str, expected: torch.Tensor) -> None:
    assert torch.equal(ConditionSpec(kind, 3).from_probs(PROBS), expected)  # type: ignore[arg-type]


def test_targets_encode_as_confident_outputs() -> None:
    spec = ConditionSpec("softmax", 3)
    assert torch.equal(spec.from_labels(torch.tensor([1])), torch.tensor([[0.0, 1.0, 0.0]]))


def test_feature_width() -> None:
    assert ConditionSpec("scalar", 4).feature_dim == 1
    assert ConditionSpec("class", 4).features(torch.tensor([3]), torch.float32).shape == (1, 4)


def test_round_trip_dict() -> None:
    spec = ConditionSpec("onehot", 10)
    assert ConditionSpec.from_dict(spec.to_dict()) == spec


def test_wrong_number_of_classes_is_named() -> None:
    with pytest.raises(ValueError, match="trained on a 4-class classifier"):
        ConditionSpec("softmax", 4).from_probs(PROBS)


def test_label_out_of_range_is_named() -> None:
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        ConditionSpec("onehot", 3).from_labels(torch.tensor([3]))


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown condition encoding"):
        ConditionSpec("logits", 3)  # type: ignore[arg-type]


def test_a_regressors_value_is_standardised_and_round_trips() -> None:
    spec = ConditionSpec.of_values(torch.tensor([1.0, 2.0, 3.0]))
    assert spec.kind == "value" and spec.feature_dim == 1
    assert spec.mean == 2.0 and spec.std == 1.0
    assert torch.equal(spec.from_probs(torch.tensor([[3.0]])), torch.tensor([[1.0]]))
    assert torch.allclose(
        spec.from_targets(torch.tensor([0.0, 2.0])), torch.tensor([[-2.0], [0.0]])
    )
    assert ConditionSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="outputs \\[B, 1\\]"):
        spec.from_probs(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="not class labels"):
        spec.from_labels(torch.tensor([1]))
    with pytest.raises(ValueError, match="float values"):
        spec.from_targets(torch.tensor([1]))
    with pytest.raises(ValueError, match="two distinct"):
        ConditionSpec.of_values(torch.ones(5))
    with pytest.raises(ValueError, match="std > 0"):
        ConditionSpec("value", 1, 0.0, float("nan"))


def test_a_value_field_keeps_its_scale_through_a_checkpoint(tmp_path) -> None:
    from leapfactual.flow import MLPField, load_field, save_field

    field = MLPField(4, 1, width=8, depth=1, condition="value", scale=(2.5, 0.5))
    back = load_field(save_field(field, tmp_path / "f"))
    assert back.condition == ConditionSpec("value", 1, 2.5, 0.5)
    assert "scale" not in MLPField(4, 3, width=8, depth=1).config
