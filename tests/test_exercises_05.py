"""Chapter 5's exercises: He's standard deviation for a 3×3 convolution on 256 channels, batch
normalisation in training and in evaluation mode, and the variance factor of VGG's N(0, 10⁻²)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlit import exercises as E


def test_he_std_is_the_square_root_of_two_over_the_fan_in():
    reference = E.get("05.he_std").reference()
    assert reference == pytest.approx(math.sqrt(2 / (3 * 3 * 256)))        # He et al. (2015)
    # the standard deviation torch's own He initialisation draws for that layer
    layer = nn.Conv2d(256, 8, 3)
    assert nn.init.calculate_gain("relu") / math.sqrt(
        nn.init._calculate_correct_fan(layer.weight, "fan_in")) == pytest.approx(reference)
    torch.manual_seed(0)
    weights = nn.init.kaiming_normal_(torch.empty(512, 256, 3, 3), nonlinearity="relu")
    assert float(weights.std()) == pytest.approx(reference, rel=0.01)
    assert E.diagnose("05.he_std", round(reference, 5)) is None       # four significant digits


@pytest.mark.parametrize("wrong, words", [
    (math.sqrt(2 / 256), "3·3 positions"),                                 # n = channels only
    (math.sqrt(2 / 9), "input channels as well"),                          # n = the kernel only
    (2 / (9 * 256), "standard deviation"),                                 # the variance
    (math.sqrt(1 / (9 * 256)), "Glorot"),                                  # Glorot's 1/n
])
def test_he_std_slips_get_their_own_hints(wrong, words):
    problem = E.diagnose("05.he_std", wrong)
    assert problem.kind == "value" and words in problem.message
    assert E.get("05.he_std").options["method"] not in problem.message


def test_batch_norm_eval_accepts_pytorchs_module_and_names_the_training_statistics():
    def by_module(x, gamma, beta, running_mean, running_var, eps=1e-5):
        norm = nn.BatchNorm2d(x.shape[1], eps=eps).eval()
        with torch.no_grad():
            norm.weight.copy_(gamma), norm.bias.copy_(beta)
            norm.running_mean.copy_(running_mean), norm.running_var.copy_(running_var)
        return norm(x)

    assert E.diagnose("05.batch_norm_eval", by_module) is None
    batch = E.diagnose("05.batch_norm_eval", lambda x, g, b, m, v, eps=1e-5: F.batch_norm(
        x, None, None, g, b, training=True, eps=eps))
    assert batch.kind == "value" and "running averages" in batch.message
    no_root = E.diagnose("05.batch_norm_eval", lambda x, g, b, m, v, eps=1e-5: (
        g[:, None, None] * (x - m[:, None, None]) / (v[:, None, None] + eps) + b[:, None, None]))
    assert "square root" in no_root.message


def test_the_training_mode_batch_norm_and_the_staged_factor_keep_their_meaning():
    assert "biased variance" in E.diagnose("05.batch_norm", lambda x, g, b, eps=1e-5: (
        g[:, None, None] * (x - x.mean((0, 2, 3), keepdim=True))
        / torch.sqrt(x.var((0, 2, 3), keepdim=True) + eps) + b[:, None, None])).message
    factor = E.get("05.staged_he").reference()
    # VGG's N(0, 10^-2) (Sec. 3.1): 2.9 at 64 channels, 23 at 512 (1/2 · 9C · 10^-2)
    assert factor(64) == pytest.approx(2.88) and factor(512) == pytest.approx(23.04)
    assert [entry.tier for entry in E.catalogue(5)] == [1, 2, 2, 3]
