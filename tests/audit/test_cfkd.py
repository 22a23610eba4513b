import json
from dataclasses import replace

import pytest
import torch
from torch import nn

from leapfactual.audit.cfkd import (
    TargetTeacher,
    _check_labels,
    cfkd,
    counterexamples,
    load_cfkd,
    minimal_change,
    refitting_factory,
)
from leapfactual.audit.necessity import necessity
from leapfactual.audit.options import AUTO_ROUNDS, CFKDSettings, parse_rounds
from leapfactual.audit.teacher_server import HumanTeacher
from leapfactual.audit.teachers import TeacherQueue
from leapfactual.data import Dataset, load_dataset, stratified_split
from leapfactual.data.confounded import ConfoundedTask, confounded_digits
from leapfactual.explain import Explainer
from leapfactual.pipeline import ClassifierSettings, FlowSettings, VAESettings
from leapfactual.pipeline.build import fit_classifier, fit_vae, predict_probs

TINY = ClassifierSettings(width=8, epochs=4, min_steps=0)
FAST = CFKDSettings(rounds=2, per_round=40, epochs=2, lr=2e-3, targets="all-others")


class ShortcutCE(Explainer):
    """A CE that changes only the nuisance: added toward the confounded class, removed away
    from it (the CE a classifier that relies on the nuisance is content with)."""

    name = "shortcut"

    def __init__(self, classifier: nn.Module, task: ConfoundedTask) -> None:
        super().__init__(classifier)
        self.task = task

    def explain_batch(self, x, target, probs, cost):
        toward = (target == self.task.correlated_class)[:, None, None, None]
        x_cf = torch.where(toward, self.task.add_nuisance(x), self.task.remove_nuisance(x))
        return {"x_cf": x_cf, "probs_cf": self.classify(x_cf, cost)}


class Truth:
    """Labels each CE with the digit it shows, read from the training labels by its id
    (``r{round}-{index}-{target}``); fails at round ``fail_at`` (an interruption)."""

    def __init__(self, labels: torch.Tensor, fail_at: int | None = None) -> None:
        self.labels, self.fail_at, self.queues = labels, fail_at, []

    def label(self, queue: TeacherQueue) -> torch.Tensor:
        self.queues.append(queue)
        rounds = {int(i.split("-")[0][1:]) for i in queue.ids}
        if self.fail_at in rounds:
            raise KeyboardInterrupt
        return self.labels[[int(i.split("-")[1]) for i in queue.ids]]


@pytest.fixture(scope="module")
def task() -> ConfoundedTask:
    data = load_dataset("mnist5k")
    base = data.subset(stratified_split(data.labels, [0.12], 0)[0])
    return confounded_digits(base, seed=0)


@pytest.fixture(scope="module")
def confounded(task) -> nn.Module:
    return fit_classifier(task.train.images, task.train.labels, 10, TINY, 1)


def flips(model, task) -> float:
    clean = task.test_clean.images
    a = predict_probs(model, clean).argmax(1)
    return float((a != predict_probs(model, task.add_nuisance(clean)).argmax(1)).float().mean())


def make(task):
    return lambda model: ShortcutCE(model, task)


def test_cfkd_with_true_labels_removes_the_shortcut(task, confounded) -> None:
    before = flips(confounded, task)
    assert before > 0.5  # the tiny model does take the patch for an 8
    weights = {k: v.clone() for k, v in confounded.state_dict().items()}
    truth = Truth(task.train.labels)
    result = cfkd(confounded, make(task), task.train, truth, FAST)
    after = flips(result.classifier, task)
    assert after < before - 0.3
    # every CE changed only the patch: the truth keeps the source unless the model was wrong
    assert result.labels_used == len(result.labels) > 0
    assert result.kept_source > 0.7 * result.labels_used
    assert [r["round"] for r in result.history] == [0, 1] and result.teacher == "Truth"
    assert result.history[0]["explained"] == 40 * 9 and 0 < result.history[0]["validity"] < 1
    assert len(result.index) == len(result.labels) and result.images.shape[1:] == (1, 28, 28)
    assert all(torch.equal(v, weights[k]) for k, v in confounded.state_dict().items())
    plain = cfkd(confounded, make(task), task.train, TargetTeacher(), FAST)
    assert torch.equal(plain.labels, plain.targets) and plain.kept_source == 0
    assert flips(plain.classifier, task) > after + 0.3  # target labels teach the shortcut


class RemovingCE(ShortcutCE):
    """CEs that only take the nuisance away (from the confounded class); toward it the input
    is returned unchanged (invalid, so never asked about): a shortcut no CE paints."""

    def explain_batch(self, x, target, probs, cost):
        toward = (target == self.task.correlated_class)[:, None, None, None]
        x_cf = torch.where(toward, x, self.task.remove_nuisance(x))
        return {"x_cf": x_cf, "probs_cf": self.classify(x_cf, cost)}


def test_counterexamples_teach_a_shortcut_the_ces_only_take_away(task, confounded) -> None:
    removing = lambda model: RemovingCE(model, task)  # noqa: E731
    every = replace(FAST, rounds=4, per_round=len(task.train), targets="random")  # 8s: ~50 CEs
    truth = Truth(task.train.labels)
    plain = cfkd(confounded, removing, task.train, truth, replace(every, counterexamples=False))
    painted = cfkd(confounded, removing, task.train, Truth(task.train.labels), every)
    assert all(r["painted"] == 0 for r in plain.history)
    assert painted.history[0]["painted"] == 2 * painted.history[0]["kept_source"] > 0
    assert painted.labels_used == plain.labels_used  # no teacher label more
    before = flips(confounded, task)
    # the CEs show an 8 without the patch is an 8, never a patch on another digit: painting
    # the patch still flips most predictions after the plain repair, few after the other
    assert flips(plain.classifier, task) > 0.5 * before
    assert flips(painted.classifier, task) < flips(plain.classifier, task) - 0.2


def test_a_counterexample_is_the_kept_change_added_and_taken_away_elsewhere() -> None:
    images = torch.zeros(6, 1, 2, 2)
    images[:, 0, 0, 0] = torch.arange(6).float() / 10
    images[5] = 1.0  # the range is [0, 1]
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    train = Dataset(images, labels, ["0", "1", "2"])
    shown = images[[0, 1]].clone()
    shown[:, :, 1, 1] += 0.5  # each CE's change: +0.5 in one pixel
    source, target, given = torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([0, 2])
    x, y = counterexamples(train, shown, torch.tensor([0, 1]), source, target, given, seed=3)
    assert len(x) == 2  # only the CE kept at its source: one added, one taken away
    assert labels[torch.tensor([int(y[0]), int(y[1])])].tolist() == y.tolist()
    assert int(y[0]) != 1 and int(y[1]) != 0  # not the target, not the source
    assert bool((x >= 0).all() and (x <= 1).all())
    again = counterexamples(train, shown, torch.tensor([0, 1]), source, target, given, seed=3)
    assert torch.equal(again[0], x) and torch.equal(again[1], y)
    none = counterexamples(train, shown, torch.tensor([0, 1]), source, target, target, seed=3)
    assert none[0].shape == (0, 1, 2, 2) and none[1].shape == (0,)


def test_an_interrupted_job_resumes_to_the_same_weights(task, confounded, tmp_path) -> None:
    settings = CFKDSettings(rounds=2, per_round=10, epochs=1, targets="all-others")
    with pytest.raises(KeyboardInterrupt):
        cfkd(confounded, make(task), task.train, Truth(task.train.labels, fail_at=1), settings,
             directory=tmp_path)  # fmt: skip
    state = json.loads((tmp_path / "cfkd.json").read_text())
    assert len(state["history"]) == 1 and (tmp_path / "round-0" / "classifier.json").is_file()
    truth = Truth(task.train.labels)
    resumed = cfkd(confounded, make(task), task.train, truth, settings, directory=tmp_path)
    assert len(truth.queues) == 1 and len(resumed.history) == 2  # round 0 was not redone
    whole = cfkd(confounded, make(task), task.train, Truth(task.train.labels), settings)
    expected = whole.classifier.state_dict()
    for name, value in resumed.classifier.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert torch.equal(resumed.labels, whole.labels) and torch.equal(resumed.index, whole.index)
    model, record = load_cfkd(tmp_path)
    assert torch.equal(
        predict_probs(model, task.test.images), predict_probs(whole.classifier, task.test.images)
    )
    assert record["identity"]["teacher"] == "Truth"
    with pytest.raises(ValueError, match="another settings"):
        cfkd(confounded, make(task), task.train, truth, CFKDSettings(rounds=3), directory=tmp_path)


def scripted(*values: float):
    """A reliance measure that answers ``values`` in turn (the first: before round 1)."""
    answers = iter(values)
    return lambda model: next(answers)


def test_until_stable_stops_when_reliance_stops_falling(task, confounded, tmp_path) -> None:
    settings = CFKDSettings(rounds=5, per_round=6, epochs=1, targets="all-others",
                            until_stable=True)  # fmt: skip
    logs: list[str] = []
    measure = scripted(0.6, 0.3, 0.29, 0.1)
    result = cfkd(confounded, make(task), task.train, Truth(task.train.labels), settings,
                  directory=tmp_path, reliance=measure, log=logs.append)  # fmt: skip
    assert [r["reliance"] for r in result.history] == [0.3, 0.29]  # round 2 fell 1 point
    assert "reliance 60.0% -> 29.0% fell 1.0% in the last round, less than 2%" in logs[-1]
    assert f"stopped after 2 rounds ({result.labels_used} CEs labelled" in logs[-1]
    truth = Truth(task.train.labels)  # a second call finds the job done
    again = cfkd(confounded, make(task), task.train, truth, settings, directory=tmp_path,
                 reliance=scripted(0.6))  # fmt: skip
    assert len(again.history) == 2 and not truth.queues
    zero = cfkd(confounded, make(task), task.train, Truth(task.train.labels), settings,
                reliance=scripted(0.5, 0.0))  # fmt: skip
    assert len(zero.history) == 1  # nothing left to fall
    falling = cfkd(confounded, make(task), task.train, Truth(task.train.labels),
                   replace(settings, rounds=2), reliance=scripted(0.9, 0.6, 0.3))  # fmt: skip
    assert [r["reliance"] for r in falling.history] == [0.6, 0.3]  # capped by rounds
    with pytest.raises(ValueError, match="until_stable stops when reliance on the shortcut"):
        cfkd(confounded, make(task), task.train, truth, settings)


def test_rounds_are_a_number_or_auto() -> None:
    assert parse_rounds("4") == (4, False) and parse_rounds(" Auto ") == (AUTO_ROUNDS, True)
    for bad in ("0", "-1", "three", "2.5", ""):
        with pytest.raises(ValueError, match="--rounds must be a positive whole number or"):
            parse_rounds(bad)


def test_the_human_teacher_reads_the_answers_given(task, confounded, tmp_path) -> None:
    settings = CFKDSettings(rounds=1, per_round=8, epochs=1, targets="all-others", needed=True)
    seen = Truth(task.train.labels)
    cfkd(confounded, make(task), task.train, seen, settings)
    queue = seen.queues[0]
    assert queue.needed is not None and queue.needed.shape == (len(queue), 1, 28, 28)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i, "kind": "shortcut"}) + "\n" for i in queue.ids))
    result = cfkd(confounded, make(task), task.train, HumanTeacher(answers), settings)
    assert torch.equal(result.labels, result.sources) and result.labels_used == len(queue)


def test_minimal_change_pastes_only_the_needed_regions() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x_cf = x.clone()
    x_cf[..., 0:2, 0:2] = 1.0  # region the classifier reads
    x_cf[..., 5:8, 5:8] = 1.0  # a larger region it ignores

    def classifier(images: torch.Tensor) -> torch.Tensor:
        score = images[:, 0, 0:2, 0:2].mean((1, 2)) * 8 - 4
        return torch.stack([-score, score], 1)

    nec = necessity(classifier, x, x_cf, torch.tensor([1]))
    shown = minimal_change(x, x_cf, nec)
    assert float(shown[..., 0:2, 0:2].min()) == 1.0 and float(shown[..., 5:8, 5:8].max()) == 0.0


def test_bad_settings_teachers_and_models_are_refused(task, confounded) -> None:
    for options, message in (
        ({"rounds": 0}, "rounds"),
        ({"lr": 0.0}, "lr"),
        ({"targets": "next"}, "targets"),
        ({"replay": -1}, "replay"),
    ):
        with pytest.raises(ValueError, match=message):
            CFKDSettings(**options)

    class Wrong:
        def label(self, queue):
            return torch.full((len(queue),), -1)

    one = CFKDSettings(rounds=1, per_round=20, epochs=1, targets="all-others")
    with pytest.raises(ValueError, match=r"classes 0\.\.9"):
        cfkd(confounded, make(task), task.train, Wrong(), one)
    with pytest.raises(ValueError, match=r"nn\.Module"):
        cfkd(lambda x: x, make(task), task.train, TargetTeacher(), one)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label"):
        cfkd(confounded, make(task), task.train, object(), one)  # type: ignore[arg-type]


def test_refitting_factory_fits_one_flow_per_set_of_weights(task, confounded) -> None:
    vae = fit_vae(
        task.train.images[:200], VAESettings(latent_dim=4, width=4, epochs=1, min_steps=0), 0
    )
    factory = refitting_factory(
        vae, task.train.images[:200], FlowSettings(epochs=1, min_steps=0), 0
    )
    a, b = factory(confounded), factory(confounded)
    assert a.name == "leapfactual" and a.field is b.field
    other = fit_classifier(task.train.images[:50], task.train.labels[:50], 10, TINY, 2)
    assert factory(other).field is not a.field


def test_nan_labels_are_refused_naming_the_teacher() -> None:
    x = torch.zeros(2, 1, 4, 4)
    queue = TeacherQueue(x, x, torch.tensor([0, 0]), torch.tensor([1, 1]), ("a", "b"))
    message = (
        r"the teacher \(MyTeacher\) returned 1 NaN or infinite "
        r"labels of 2; no CE is learnt from them"
    )
    with pytest.raises(ValueError, match=message):
        _check_labels(torch.tensor([1.0, float("nan")]), queue, 2, "MyTeacher")
    assert _check_labels(torch.tensor([1.0, 0.0]), queue, 2, "MyTeacher").tolist() == [1, 0]
