"""The CPU fast path: bfloat16 detection, the per-family choices, and what a training step really
uses.
"""
import pytest
import torch

from cnnlit import fastpath
from cnnlit.models import get_model


@pytest.fixture
def cpu_kind(monkeypatch):
    """Pretend to be another CPU: ``cpu_kind("x86_64", {"avx512f"})``."""
    def pretend(machine: str, flags):
        fastpath.cpu_bf16.cache_clear()
        monkeypatch.setattr(fastpath.platform, "machine", lambda: machine)
        monkeypatch.setattr(fastpath, "_cpuinfo_flags",
                            lambda: None if flags is None else set(flags))
        return fastpath.cpu_bf16()
    yield pretend
    fastpath.cpu_bf16.cache_clear()


def test_bf16_is_native_only_with_its_instructions(cpu_kind, monkeypatch):
    assert cpu_kind("x86_64", {"avx512f", "avx512_bf16"}).native
    assert cpu_kind("x86_64", {"avx512f", "amx_bf16", "amx_tile"}).native
    # oneDNN would emulate
    emulated = cpu_kind("x86_64", {"avx2", "avx512f", "avx512bw", "avx512vl"})
    assert not emulated.native and "emulated" in emulated.reason
    # No /proc/cpuinfo (Windows, macOS): torch's own probe decides.
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not cpu_kind("AMD64", None).native
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert cpu_kind("AMD64", None).native


def test_arm_bf16_is_used_when_asked_but_not_by_default(cpu_kind):
    support = cpu_kind("aarch64", {"fp", "asimd", "bf16"})
    assert support.native and not support.measured
    resnet = get_model("resnet20")
    assert fastpath.plan(resnet, "cpu").autocast_dtype is None
    assert fastpath.plan(resnet, "cpu", amp=True).autocast_dtype == torch.bfloat16
    assert not cpu_kind("arm64", set()).native                       # Apple M1, or no /proc/cpuinfo


def test_emulating_cpu_never_gets_bf16_even_when_asked(cpu_kind):
    cpu_kind("x86_64", {"avx512f", "avx512bw"})
    for amp in (None, True):
        step = fastpath.plan(get_model("resnet20"), "cpu", amp=amp)
        assert step.autocast_dtype is None and "emulated" in step.reason


def test_every_family_in_the_table_is_a_chapter_network():
    chapter_networks = [get_model("lenet5"), get_model("lenet5_modern"), get_model("alexnet_small"),
                        get_model("zfnet_small"), get_model("vgg", config="A", num_classes=10,
                                                            width=8),
                        get_model("resnet20"), get_model("googlenet_small")]
    assert {fastpath.family(m) for m in chapter_networks} == set(fastpath.FAMILIES)


def test_family_looks_through_wrappers():
    class Wrapper(torch.nn.Module):                       # the shape of DistributedDataParallel
        def __init__(self, module):
            super().__init__()
            self.module = module
    resnet = get_model("resnet20")
    assert fastpath.family(Wrapper(resnet)) == "CifarResNet"
    assert fastpath.family(torch.nn.Linear(2, 2)) == "Linear"


def test_plan_follows_the_table_and_the_switches(cpu_kind, monkeypatch):
    cpu_kind("x86_64", {"avx512_bf16"})
    monkeypatch.delenv(fastpath.FASTPATH_VARIABLE, raising=False)
    resnet, lenet, other = get_model("resnet20"), get_model("lenet5"), torch.nn.Conv2d(1, 1, 3)
    choice = fastpath.FAMILIES["CifarResNet"]
    step = fastpath.plan(resnet, "cpu")
    assert step.channels_last == choice.channels_last
    assert (step.autocast_dtype == torch.bfloat16) == choice.bf16
    assert fastpath.plan(resnet, "cpu", amp=False, channels_last=False).autocast_dtype is None
    assert not fastpath.plan(resnet, "cpu", amp=False, channels_last=False).channels_last
    lenet_step = fastpath.plan(lenet, "cpu")
    assert lenet_step.channels_last == fastpath.FAMILIES["LeNet5"].channels_last
    unmeasured = fastpath.plan(other, "cpu")
    assert unmeasured.autocast_dtype is None and not unmeasured.channels_last
    monkeypatch.setenv(fastpath.FASTPATH_VARIABLE, "0")
    off = fastpath.plan(resnet, "cpu")
    assert (
        off.autocast_dtype is None and not off.channels_last and "CNNLIT_FASTPATH=0" in off.reason
    )
    # asked for: still on
    assert fastpath.plan(resnet, "cpu", amp=True).autocast_dtype == torch.bfloat16
    monkeypatch.setenv(fastpath.FASTPATH_VARIABLE, "fast")
    with pytest.raises(ValueError, match="CNNLIT_FASTPATH='fast'"):
        fastpath.plan(resnet, "cpu")


def test_cuda_keeps_float16_with_a_scaler():
    step = fastpath.plan(get_model("resnet20"), "cuda")
    assert step.autocast_dtype == torch.float16 and step.needs_scaler and step.channels_last
    assert fastpath.plan(get_model("resnet20"), "cuda", amp=False).autocast_dtype is None


def test_bad_switch_values_are_refused():
    with pytest.raises(TypeError, match="amp must be None"):
        fastpath.plan(get_model("resnet20"), "cpu", amp="bf16")


def test_fast_path_settings_name_the_cpu_support():
    assert str(fastpath.cpu_bf16()) in fastpath.fast_path_settings()


# --------------------------------------------------------------------------- inside a training step

from cnnlit import train  # noqa: E402
from cnnlit.data import TensorData  # noqa: E402


def small_batch(count=16, side=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return TensorData(torch.rand(count, 1, side, side, generator=generator),
                      torch.randint(0, 10, (count,), generator=generator),
                      [str(c) for c in range(10)])


def what_the_first_convolution_sees(model):
    """A forward hook on the stem convolution: (channels-last?, autocast on?, output dtype) per
    call. The layout is read from the output, which has many channels (with 1 channel, both layouts
    look alike)."""
    seen = []

    def record(module, inputs, output):
        seen.append(
            (
                output.is_contiguous(memory_format=torch.channels_last)
                and not output.is_contiguous(),
                torch.is_autocast_enabled("cpu")
                if hasattr(torch, "get_autocast_dtype")
                else torch.is_autocast_cpu_enabled(),
                output.dtype,
            )
        )
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    first.register_forward_hook(record)
    return seen


def test_fit_trains_in_bf16_channels_last_where_the_cpu_has_bf16(cpu_kind, monkeypatch):
    cpu_kind("x86_64", {"avx512f", "avx512_bf16"})
    monkeypatch.delenv(fastpath.FASTPATH_VARIABLE, raising=False)
    assert fastpath.FAMILIES["CifarResNet"].bf16 and fastpath.FAMILIES["CifarResNet"].channels_last
    model = get_model("resnet20", in_channels=1)
    seen = what_the_first_convolution_sees(model)
    train.fit(model, small_batch(), epochs=1, batch_size=8, device="cpu", progress=False)
    assert seen == [(True, True, torch.bfloat16)] * 2                   # both training steps
    assert model.conv1.weight.dtype == torch.float32                     # the weights stay float32
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    seen.clear()
    train.evaluate(model, small_batch(seed=1))                          # evaluation: float32
    assert [dtype for _, _, dtype in seen] == [torch.float32]


def test_fit_switched_off_trains_fp32_nchw(cpu_kind):
    cpu_kind("x86_64", {"avx512_bf16"})
    model = get_model("resnet20", in_channels=1)
    seen = what_the_first_convolution_sees(model)
    train.fit(model, small_batch(), epochs=1, batch_size=8, device="cpu", progress=False, amp=False,
              channels_last=False)
    assert seen == [(False, False, torch.float32)] * 2


def test_no_bf16_on_a_cpu_that_would_emulate_it(cpu_kind):
    cpu_kind("x86_64", {"avx2", "avx512f", "avx512bw"})
    model = get_model("resnet20", in_channels=1)
    seen = what_the_first_convolution_sees(model)
    train.fit(model, small_batch(), epochs=1, batch_size=8, device="cpu", progress=False)
    layout = fastpath.FAMILIES["CifarResNet"].channels_last
    assert seen == [(layout, False, torch.float32)] * 2


def test_lenet5_stays_as_its_table_says(cpu_kind):
    cpu_kind("x86_64", {"avx512_bf16"})
    model = get_model("lenet5")
    seen = what_the_first_convolution_sees(model)
    digits = TensorData(torch.rand(8, 1, 32, 32), torch.randint(0, 10, (8,)),
                        [str(c) for c in range(10)])
    train.fit(model, digits, epochs=1, batch_size=8, device="cpu", progress=False)
    choice = fastpath.FAMILIES["LeNet5"]
    assert seen == [(choice.channels_last, choice.bf16,
                     torch.bfloat16 if choice.bf16 else torch.float32)]


def test_bf16_loss_matches_fp32_on_a_fixed_batch():
    torch.manual_seed(0)
    reference = get_model("resnet20", in_channels=1)
    batch = small_batch(32, side=14)
    losses = {}
    for name, step in [("fp32", fastpath.StepPlan("cpu", False, None, "test")),
                       ("bf16", fastpath.StepPlan("cpu", True, torch.bfloat16, "test"))]:
        model = copy_of(reference)
        step.prepare_model(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        outputs, loss = train.training_step(model, step.prepare_images(batch.images), batch.labels,
                                            torch.nn.CrossEntropyLoss(), optimizer, plan=step)
        # the loss is float32
        assert outputs.dtype == torch.float32 and loss.dtype == torch.float32
        losses[name] = float(loss.detach())
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)
    assert losses["bf16"] != losses["fp32"]                 # it really ran in another precision


def copy_of(model):
    import copy
    return copy.deepcopy(model)


def test_auxiliary_outputs_come_back_as_float32():
    from cnnlit.models.googlenet import InceptionOutputs
    outputs = InceptionOutputs(torch.ones(2, 3, dtype=torch.bfloat16), None,
                               torch.ones(2, 3, dtype=torch.bfloat16))
    converted = fastpath.float32(outputs)
    assert isinstance(converted, InceptionOutputs) and converted.aux1 is None
    assert converted.logits.dtype == converted.aux2.dtype == torch.float32


def test_command_line_takes_the_fast_path_and_its_switches(cpu_kind, monkeypatch, tmp_path, capsys):
    from PIL import Image

    from cnnlit.train import command_line, loop
    cpu_kind("x86_64", {"avx512_bf16"})
    monkeypatch.setenv("CNNLIT_DRY_RUN", "1")
    for split in ("train", "val"):
        for label in ("a", "b"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (8, 8), (40 * i, 200 if label == "a" else 20,
                                          90)).save(tmp_path / split / label / f"{i}.png")
    plans = []
    original = loop.train_epoch                  # the command line trains through fit's epochs
    monkeypatch.setattr(loop, "train_epoch",
                        lambda *a, **k: plans.append(k["plan"]) or original(*a, **k))
    common = ["--model", "resnet20", "--data", str(tmp_path), "--image-size", "8", "--batch-size",
              "4",
              "--workers", "0", "--recipe", "resnet", "--epochs", "1"]
    assert command_line.main(common) == 0
    assert plans[-1].autocast_dtype == torch.bfloat16 and plans[-1].channels_last
    assert "bfloat16 autocast, channels-last" in capsys.readouterr().out
    assert command_line.main(common + ["--no-amp", "--no-channels-last"]) == 0
    assert plans[-1].autocast_dtype is None and not plans[-1].channels_last
