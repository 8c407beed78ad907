"""Chapter 08's exercises (transfer learning): the references are right, and each plausible slip
gets its own hint. WRONG and ACCEPTED are also read by tests/test_exercises.py, whose checks run
over every key of the bank."""
import pytest
import torch
import torchvision
from torch import nn

from cnnlit import data
from cnnlit import exercises as E
from cnnlit.models.resnet import resnet_cifar


def freeze_nothing(model, names):
    return model


def freeze_weights_only(model, names):
    for name, parameter in model.named_parameters():
        keep = any(name.startswith(f"{part}.") for part in names)
        parameter.requires_grad = keep or not name.endswith("weight") or ".bn" in name
    return model


def first_overall(labels, k):
    return torch.arange(k * (int(labels.max()) + 1))


CURVE = {way: {2: 0.3, 5: 0.5, 20: 0.8} for way in ("linear probe", "fine-tune", "scratch")}

WRONG = {
    "08.trainable_params_probe": (lambda: 512 * 37, "value"),                # forgot the bias
    "08.freeze": (lambda: freeze_nothing, "value"),
    "08.k_per_class": (lambda: first_overall, "value"),
    "08.labels_curve": (lambda: {**CURVE, "scratch": {2: 0.2, 5: 0.4}}, "design"),
}


def freeze_all_but(model, names):
    for name, parameter in model.named_parameters():
        parameter.requires_grad = any(name.startswith(f"{part}.") for part in names)
    return model


ACCEPTED = {"08.freeze": freeze_all_but, "08.labels_curve": CURVE}


def test_the_probe_trains_the_new_head_alone():
    model = torchvision.models.resnet18().requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 37)
    trained = sum(q.numel() for q in model.parameters() if q.requires_grad)
    assert E.get("08.trainable_params_probe").reference() == trained == 512 * 37 + 37
    assert "bias" in E.diagnose("08.trainable_params_probe", 512 * 37).message
    assert "ImageNet's head" in E.diagnose("08.trainable_params_probe", 512 * 1000 + 1000).message


def test_freezing_slips_are_named():
    assert E.diagnose("08.freeze", freeze_all_but) is None
    assert "still trainable" in E.diagnose("08.freeze", freeze_nothing).message
    assert "nothing is left" in E.diagnose("08.freeze",
                                           lambda m, names: m.requires_grad_(False)).message
    assert "batch norm" in E.diagnose("08.freeze", freeze_weights_only).message
    assert E.diagnose("08.freeze", lambda m, names: 3).kind == "type"
    model = freeze_all_but(resnet_cifar(8, in_channels=1), ["layer3", "fc"])
    assert {n.split(".")[0] for n, q in model.named_parameters() if q.requires_grad} == {
        "layer3", "fc"}


def test_k_per_class_is_the_packages_first_per_class():
    reference = E.get("08.k_per_class").reference()
    labels = torch.tensor([1, 1, 0, 2, 1, 0, 2, 0])
    assert torch.equal(reference(labels, 2), data.first_per_class(labels, 2))
    assert reference(labels, 2).tolist() == [0, 1, 2, 3, 5, 6]
    assert "each class separately" in E.diagnose("08.k_per_class", first_overall).message


@pytest.mark.parametrize("answer, words", [
    ({"probe": {}}, "three ways"),
    ({**CURVE, "scratch": {2: 0.2, 5: 0.4}}, "at least three"),
    ({**CURVE, "scratch": {2: 0.2, 5: 0.4, 20: 80}}, "between 0 and 1"),
    ({**CURVE, "scratch": {2: 0.2, 5: 0.4, 50: 0.8}}, "same numbers"),
    ({**CURVE, "scratch": {0: 0.2, 5: 0.4, 20: 0.8}}, "whole numbers"),
])
def test_a_labels_curve_needs_three_ways_at_the_same_label_counts(answer, words):
    assert words in E.diagnose("08.labels_curve", answer).message
    assert E.diagnose("08.labels_curve", CURVE) is None


def test_chapter_8_has_every_tier_in_order():
    tiers = [entry.tier for entry in E.catalogue(8)]
    assert tiers == [1, 2, 2, 3]
