import pytest
import torch

from leapfactual.data import Dataset, stratified_split, train_test_split

# sorted by class like mnist5k, with unequal class sizes: 50, 30, 20
LABELS = torch.cat([torch.full((50,), 0), torch.full((30,), 1), torch.full((20,), 2)])


def test_same_seed_same_split_other_seed_other_split() -> None:
    a = stratified_split(LABELS, [0.6, 0.2, 0.2], seed=3)
    b = stratified_split(LABELS, [0.6, 0.2, 0.2], seed=3)
    c = stratified_split(LABELS, [0.6, 0.2, 0.2], seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_split_ignores_the_global_random_state() -> None:
    torch.manual_seed(0)
    a = stratified_split(LABELS, [0.5, 0.5], seed=1)
    torch.manual_seed(123)
    torch.rand(10)
    b = stratified_split(LABELS, [0.5, 0.5], seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_parts_are_disjoint_cover_everything_and_keep_class_proportions() -> None:
    parts = stratified_split(LABELS, [0.6, 0.2, 0.2], seed=0)
    assert [p.dtype for p in parts] == [torch.long] * 3
    joined = torch.cat(parts)
    assert sorted(joined.tolist()) == list(range(100))
    for part, fraction in zip(parts, [0.6, 0.2, 0.2], strict=True):
        counts = torch.bincount(LABELS[part], minlength=3)
        assert counts.tolist() == [round(50 * fraction), round(30 * fraction), round(20 * fraction)]


def test_fractions_below_one_leave_the_rest_out() -> None:
    (part,) = stratified_split(LABELS, [0.1], seed=0)
    assert torch.bincount(LABELS[part], minlength=3).tolist() == [5, 3, 2]


def test_parts_are_shuffled_not_in_class_order() -> None:
    train, test = stratified_split(LABELS, [0.8, 0.2], seed=0)
    assert len(set(LABELS[train[:20]].tolist())) > 1
    assert not torch.equal(test, test.sort().values)


def test_tiny_classes_are_split_without_overlap() -> None:
    labels = torch.tensor([0, 1, 1, 2, 2, 2])
    parts = stratified_split(labels, [0.5, 0.5], seed=0)
    assert sorted(torch.cat(parts).tolist()) == list(range(6))


@pytest.mark.parametrize(
    ("fractions", "match"),
    [
        ([0.7, 0.4], "sum to at most 1"),
        ([0.5, -0.1], "non-negative"),
        ([float("nan")], "finite"),
        ([], "fractions is empty"),
    ],
)
def test_bad_fractions(fractions, match) -> None:
    with pytest.raises(ValueError, match=match):
        stratified_split(LABELS, fractions, seed=0)


def test_bad_labels() -> None:
    with pytest.raises(ValueError, match="1-D integer tensor"):
        stratified_split(LABELS.float(), [0.5], seed=0)


def test_train_test_split_of_a_dataset() -> None:
    images = torch.rand(100, 1, 3, 3)
    data = Dataset(images, LABELS.clone(), ["a", "b", "c"], "toy")
    train, test = train_test_split(data, test_fraction=0.2, seed=7)
    assert (len(train), len(test)) == (80, 20)
    assert torch.bincount(test.labels, minlength=3).tolist() == [10, 6, 4]
    assert train.class_names == test.class_names == ["a", "b", "c"]
    # every image lands in exactly one part, with its own label
    rows = torch.cat([train.images, test.images]).flatten(1)
    order = torch.cat([train.labels, test.labels])
    matched = (rows[:, None, :] == images.flatten(1)[None]).all(-1).nonzero()
    assert matched.shape[0] == 100 and sorted(matched[:, 1].tolist()) == list(range(100))
    assert torch.equal(order[matched[:, 0]], LABELS[matched[:, 1]])
    again, _ = train_test_split(data, test_fraction=0.2, seed=7)
    assert torch.equal(again.images, train.images)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_train_test_split_rejects_bad_fraction(fraction) -> None:
    data = Dataset(torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        train_test_split(data, test_fraction=fraction)
