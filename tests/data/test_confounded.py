import pytest
import torch

from leapfactual.data import Dataset, load_dataset, stratified_split
from leapfactual.data.confounded import (
    ConfoundedTask,
    add_nuisance,
    confounded_digits,
    load_confounded,
    load_confounded_test,
    nuisance_mask,
    remove_nuisance,
)


@pytest.fixture(scope="module")
def base() -> Dataset:
    data = load_dataset("mnist5k")  # sorted by class: take a stratified share
    return data.subset(stratified_split(data.labels, [0.12], 0)[0])


def test_nuisance_follows_the_class_in_training_only(base) -> None:
    task = confounded_digits(base, correlated_class=3, p_train=0.9, seed=1)
    assert isinstance(task, ConfoundedTask)
    train, test = task.train, task.test
    assert len(train) + len(test) == len(base) and train.shape == (1, 28, 28)
    mine = train.labels == 3
    assert 0.75 < float(task.train_has[mine].float().mean()) <= 1.0
    assert not bool(task.train_has[~mine].any())  # p_other = 0 by default
    # at test half of every class, whatever the class
    assert 0.35 < float(task.test_has.float().mean()) < 0.65
    assert bool(task.test_has[test.labels == 3].any()) and bool(
        task.test_has[test.labels != 3].any()
    )
    # the patch is exactly the seen difference between an image and its clean twin
    mask = task.nuisance_mask(train.images)
    assert mask.shape == (len(train), 1, 28, 28) and int(mask[0].sum()) == 25
    changed = (train.images != task.train_clean.images).flatten(1).any(1)
    assert torch.equal(changed, task.train_has)
    assert torch.equal(train.images[~task.train_has], task.train_clean.images[~task.train_has])
    box = train.images[task.train_has][:, :, 1:6, 1:6]
    assert bool((box == 1.0).all())
    assert torch.equal(task.train_clean.labels, train.labels)
    # the decorrelated training digits: same digits, nuisance on about half of every class
    dec = task.train_decorrelated
    assert torch.equal(dec.labels, train.labels)
    assert 0.35 < float(task.decorrelated_has[mine].float().mean()) < 0.65
    assert 0.35 < float(task.decorrelated_has[~mine].float().mean()) < 0.65


def test_remove_and_rule_undo_the_nuisance(base) -> None:
    task = confounded_digits(base, seed=0)
    clean = task.test_clean.images
    assert torch.equal(task.remove_nuisance(task.add_nuisance(clean)), task.remove_nuisance(clean))
    touched = (task.remove_nuisance(clean) != clean).flatten(1).any(1)
    assert float(touched.float().mean()) < 0.1  # digits rarely reach the corner
    seen: list[torch.Tensor] = []

    def classifier(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return torch.zeros(len(x), 10)

    task.rule(classifier)(task.test.images)
    assert float(seen[0][:, :, 1:6, 1:6].abs().max()) == 0.0


def test_seeds_imbalance_and_options(base) -> None:
    a, b = confounded_digits(base, seed=2), confounded_digits(base, seed=2)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test_has, b.test_has)
    assert not torch.equal(confounded_digits(base, seed=3).train_has, a.train_has)
    assert a.settings["seed"] == 2 and a.correlated_class == 8
    small = confounded_digits(base, imbalance=0.25, seed=2)
    full_count = int((a.train.labels == 8).sum())
    assert int((small.train.labels == 8).sum()) == round(0.25 * full_count)
    assert int((small.train.labels != 8).sum()) == int((a.train.labels != 8).sum())
    assert len(small.test) == len(a.test)  # the test set stays balanced
    weak = confounded_digits(base, strength=0.5, patch_size=3, p_train=1.0, p_other=1.0, seed=0)
    assert bool(weak.train_has.all())
    assert float(weak.train.images[:, :, 1:4, 1:4].min()) >= 0.5


def test_tint_makes_rgb_and_is_removable(base) -> None:
    task = confounded_digits(base, nuisance="tint", strength=0.8, seed=0)
    assert task.train.shape == (3, 28, 28)
    clean = task.train_clean.images
    assert torch.equal(clean[:, 0], clean[:, 1]) and torch.equal(clean[:, 0], clean[:, 2])
    tinted = task.train.images[task.train_has]
    assert float((tinted[:, 1] - 0.2 * tinted[:, 0]).abs().max()) < 1e-6
    assert torch.equal(task.remove_nuisance(tinted), clean[task.train_has])
    mask = task.nuisance_mask(tinted)
    assert mask.shape == (len(tinted), 1, 28, 28) and bool(mask.any()) and not bool(mask.all())


def test_bad_options_are_refused(base) -> None:
    for options, message in (
        ({"nuisance": "stripes"}, "unknown nuisance"),
        ({"strength": 0.0}, "strength"),
        ({"correlated_class": 10}, "correlated_class"),
        ({"p_train": 1.5}, "p_train"),
        ({"imbalance": 0.0}, "imbalance"),
        ({"patch_size": 27}, "patch_size"),
    ):
        with pytest.raises(ValueError, match=message):
            confounded_digits(base, **options)
    rgb = Dataset(torch.zeros(4, 3, 8, 8), torch.arange(4) % 2, ["a", "b"])
    with pytest.raises(ValueError, match="grey"):
        confounded_digits(rgb)
    with pytest.raises(ValueError, match="RGB"):
        add_nuisance(torch.zeros(1, 1, 8, 8), "tint", 0.5)
    for fn in (remove_nuisance, nuisance_mask):
        with pytest.raises(ValueError, match="unknown nuisance"):
            fn(torch.zeros(1, 1, 8, 8), "blur")


def test_registered_loaders_give_the_confounded_and_test_parts() -> None:
    train, test = load_confounded(load_dataset("mnist5k")), load_confounded_test(load_dataset())
    assert len(train) + len(test) == 5000 and train.shape == test.shape == (1, 28, 28)
    has = (train.images[:, 0, 1:6, 1:6] == 1.0).flatten(1).all(1)
    assert float(has[train.labels == 8].float().mean()) > 0.9 and not bool(
        has[train.labels != 8].any()
    )
    assert load_dataset("confounded") is load_dataset("confounded")  # built once per process
    assert torch.equal(load_dataset("confounded").images, train.images)
