"""The command-line trainer (python -m cnnlit.train): recipes, clear errors, divergence, dry runs,
and a 2-process torchrun run."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlit.checkpoints import load_checkpoint
from cnnlit.imagenet import IMAGENET_MEAN
from cnnlit.train import command_line, loop, recipes

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# --model tiny_models:tiny_cnn, whatever pytest's import mode
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
import tiny_models  # noqa: E402

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+)  train_loss ([\d.]+)  val_loss ([\d.]+)  val_acc "
                        r"([\d.]+)  lr ([\d.e-]+)  ([\d.]+) s$", re.MULTILINE)


def make_image_folder(root: Path, per_class: int = 16, size: int = 16, seed: int = 0) -> Path:
    """train/ and val/ of three classes told apart by colour, with noise so it is not trivial."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("val", per_class // 2)):
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(np.array(colour) + rng.normal(0, 60, (size, size, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:03d}.png")
    return root


# --------------------------------------------------------------------------- recipes: what the
# papers' numbers do

def lr_by_epoch(recipe, epochs):
    """The learning rate of each epoch 1..epochs under the recipe's schedule (no plateaus: a falling
    loss).
    """
    optimizer = recipes.make_optimizer(recipe, torch.nn.Linear(2, 2).parameters())
    scheduler = recipes.make_scheduler(recipe, optimizer)
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        # (no gradients: nothing moves) before the schedule's step
        optimizer.step()
        scheduler.step(1.0 / (epoch + 1)) if recipe.schedule == "plateau" else scheduler.step()
    return rates


def test_alexnet_recipe_is_sgd_that_divides_by_ten_on_a_plateau():
    """Krizhevsky et al. 2012, section 5: SGD, momentum 0.9, weight decay 0.0005, rate 0.01 divided
    by 10 when the validation error stops improving."""
    model = torch.nn.Linear(2, 2)
    r = recipes.get_recipe("alexnet").replace(patience=0, lr=None)
    optimizer = recipes.make_optimizer(r, model.parameters())
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 5e-4)
    scheduler = recipes.make_scheduler(r, optimizer)
    scheduler.step(1.0)
    scheduler.step(1.0)                     # no progress with patience 0: divide by 10
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.001)
    # while the loss keeps falling
    assert lr_by_epoch(recipes.get_recipe("alexnet"), 90) == [0.01] * 90


def test_googlenet_schedule_loses_4_percent_every_8_epochs():
    """Szegedy et al. 2015, section 6: "decreasing the learning rate by 4% every 8 epochs"."""
    rates = lr_by_epoch(recipes.get_recipe("googlenet"), 25)
    assert rates[:8] == [0.01] * 8
    assert rates[8] == pytest.approx(0.01 * 0.96) and rates[16] == pytest.approx(0.01 * 0.96 ** 2)
    assert rates[15] == rates[8]


def test_resnet_cifar_schedule_follows_the_iterations_of_section_4_2():
    """He et al. 2016, section 4.2: batch 128 on 45k training images, rate 0.1 divided by 10 at 32k
    and 48k iterations, stopped at 64k: the epochs are those iteration counts converted."""
    r = recipes.get_recipe("resnet_cifar")
    per_epoch = 45_000 / r.batch_size
    assert r.milestones == tuple(round(iterations / per_epoch) for iterations in (32_000, 48_000))
    assert r.epochs == round(64_000 / per_epoch)
    rates = lr_by_epoch(r, r.epochs)
    assert rates[0] == 0.1 and rates[-1] == pytest.approx(0.001)
    assert [e + 1 for e in range(1, r.epochs) if rates[e] < rates[e - 1] * 0.5] == [
        m + 1 for m in r.milestones
    ]


def test_resnet_imagenet_epochs_are_60e4_iterations():
    """He et al. 2016, section 3.4: batch 256, up to 60e4 iterations on ImageNet's 1,281,167
    training images.
    """
    r = recipes.get_recipe("resnet")
    assert r.epochs == round(600_000 * r.batch_size / 1_281_167)
    assert r.scale_range == (256, 480) and recipes.get_recipe("vgg").scale_range == (256, 512)


def test_scale_jittering_scales_with_the_image_size():
    """VGG's shorter side S in [256, 512] for 224 crops becomes [128, 256] for 112 crops."""
    for size, expected in ((224, (256, 512)), (112, (128, 256))):
        steps = recipes.train_transform(recipes.get_recipe("vgg"), size).transforms
        jitter = next(step for step in steps if isinstance(step, recipes.RandomShorterSide))
        assert (jitter.low, jitter.high) == expected


def test_transforms_are_sized_by_image_size():
    from PIL import Image as PILImage
    image = PILImage.new("RGB", (50, 40), (10, 20, 30))
    for name in recipes.RECIPES:
        r = recipes.get_recipe(name)
        assert recipes.train_transform(r, 24)(image).shape == (3, 24, 24), name
        assert recipes.eval_transform(r, 24)(image).shape == (3, 24, 24), name
    assert recipes.eval_transform(recipes.get_recipe("alexnet"), 24,
                                  channels=1)(image).shape == (1, 24, 24)


def test_normalisation_uses_imagenet_statistics():
    """A pixel at ImageNet's mean colour comes out of the evaluation transform as zero in every
    channel.
    """
    from PIL import Image as PILImage
    mean = tuple(round(255 * m) for m in IMAGENET_MEAN)
    tensor = recipes.eval_transform(recipes.get_recipe("alexnet"),
                                    8)(PILImage.new("RGB", (8, 8), mean))
    assert tensor.abs().max() < 0.01


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(recipes.UnknownRecipeError, match="alexnet, vgg, googlenet, resnet"):
        recipes.get_recipe("lenet-1989")


# --------------------------------------------------------------------------- clear errors from
# main()

def run_main(capsys, *argv):
    code = command_line.main(list(argv))
    return code, capsys.readouterr().err


def test_missing_data_folder(tmp_path, capsys):
    code, err = run_main(capsys, "--model", "tiny_models:tiny_cnn", "--data",
                         str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err and "train/ and val/" in err


def test_folder_without_class_folders(tmp_path, capsys):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    (tmp_path / "train" / "loose.png").write_bytes(b"")
    code, err = run_main(capsys, "--model", "tiny_models:tiny_cnn", "--data", str(tmp_path))
    assert code == 2 and "has no class folders" in err


def test_folder_without_val(tmp_path, capsys):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    code, err = run_main(capsys, "--model", "tiny_models:tiny_cnn", "--data", str(tmp_path))
    assert code == 2 and "no val/ folder" in err


def test_unknown_model_lists_the_registry(tmp_path, capsys):
    make_image_folder(tmp_path, per_class=2, size=8)
    code, err = run_main(capsys, "--model", "no-such-net", "--data", str(tmp_path))
    assert code == 2 and "unknown model 'no-such-net'" in err and "available models" in err


def test_unknown_recipe_is_a_clear_error(tmp_path, capsys):
    make_image_folder(tmp_path, per_class=2, size=8)
    code, err = run_main(capsys, "--model", "tiny_models:tiny_cnn", "--data", str(tmp_path),
                         "--recipe", "adam")
    assert code == 2 and "unknown recipe 'adam'" in err and "resnet" in err


def test_bad_model_argument_and_resume_without_checkpoint(tmp_path, capsys):
    make_image_folder(tmp_path, per_class=2, size=8)
    code, err = run_main(capsys, "--model", "tiny_models:tiny_cnn", "--data", str(tmp_path),
                         "--model-arg", "width=4")
    assert code == 2 and "does not take these arguments" in err
    code, err = run_main(capsys, "--model", "tiny_models:tiny_cnn", "--data", str(tmp_path),
                         "--checkpoint", str(tmp_path / "none.pt"), "--resume")
    assert code == 2 and "no checkpoint at" in err


def test_model_args_are_python_literals():
    assert command_line.parse_model_args(
        ["depth=50", "variant=paper", "dropout=0.5", "bn=True"]
    ) == {"depth": 50, "variant": "paper", "dropout": 0.5, "bn": True}
    with pytest.raises(command_line.CommandLineError, match="KEY=VALUE"):
        command_line.parse_model_args(["depth"])


def test_single_process_run_in_process(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", per_class=4, size=8)
    code = command_line.main(["--model", "tiny_models:tiny_cnn", "--data", str(data),
                              "--image-size", "8",
                       "--epochs", "2", "--batch-size", "4", "--workers", "0", "--recipe",
                              "resnet"])
    out = capsys.readouterr().out
    assert code == 0
    assert [int(m.group(1)) for m in EPOCH_LINE.finditer(out)] == [1, 2]


def test_in_process_run_writes_checkpoints_and_resumes_through_fit(tmp_path, capsys, monkeypatch):
    """The command line trains with cnnlit.train.fit: its checkpoint holds the run's description,
    the schedule and the learning rate of every epoch, and --resume continues the epoch count."""
    data = make_image_folder(tmp_path / "data", per_class=4, size=8)
    checkpoint = tmp_path / "run.pt"
    calls = []
    original = loop.fit
    monkeypatch.setattr(command_line, "fit", lambda *a, **k: calls.append(k) or original(*a, **k))
    common = ["--model", "tiny_models:tiny_cnn", "--data", str(data), "--image-size", "8",
              "--batch-size", "4", "--workers", "0", "--recipe", "resnet", "--lr", "0.05",
              "--checkpoint", str(checkpoint)]
    assert command_line.main([*common, "--epochs", "2"]) == 0
    state = load_checkpoint(checkpoint, tiny_models.tiny_cnn())
    assert state["epoch"] == 2 and state["history"]["lr"] == [0.05, 0.05]
    assert state["extra"]["classes"] == ["blue", "green", "red"] and "scheduler" in state["extra"]
    assert command_line.main([*common, "--epochs", "3", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out
    assert [int(m.group(1)) for m in EPOCH_LINE.finditer(out)] == [1, 2, 3]
    assert load_checkpoint(checkpoint, tiny_models.tiny_cnn())["history"]["epoch"] == [1, 2, 3]
    assert len(calls) == 2 and calls[1]["resume"] == str(checkpoint) and calls[1]["val_plan"]


def test_a_diverged_loss_is_reported_as_training_diverged(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", per_class=4, size=8)
    code = command_line.main(["--model", "tiny_models:diverging_cnn", "--data", str(data),
                              "--image-size", "8",
                              "--epochs", "2", "--batch-size", "4", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "training diverged" in err and "epoch 1, batch 1" in err


def test_dry_run_trains_one_epoch_of_one_batch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNLIT_DRY_RUN", "1")
    # 24 images: 6 batches of 4
    data = make_image_folder(tmp_path / "data", per_class=8, size=8)
    seen = []
    original = loop.train_epoch

    def counting(model, batches, *args, **kwargs):
        batches = list(batches)
        seen.append(sum(len(labels) for _, labels in batches))
        return original(model, iter(batches), *args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", counting)     # the command line trains through fit
    code = command_line.main(["--model", "tiny_models:tiny_cnn", "--data", str(data),
                              "--image-size", "8",
                              "--epochs", "3", "--batch-size", "4", "--workers", "0"])
    out = capsys.readouterr().out
    assert code == 0 and seen == [4]                       # one epoch, 1 batch of 4
    assert [int(m.group(1)) for m in EPOCH_LINE.finditer(out)] == [1]
    assert out.count("dry run (CNNLIT_DRY_RUN=1)") == 1


# --------------------------------------------------------------------------- torchrun, 2 processes,
# gloo

def torchrun(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
           "OMP_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               "2",
               "-m", "cnnlit.train", "--model", "tiny_models:tiny_cnn", "--workers", "0", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [(int(m.group(1)), float(m.group(3)), float(m.group(4)), float(m.group(5)))
            for m in EPOCH_LINE.finditer(result.stdout)], result.stdout


def test_torchrun_two_processes_learn_and_resume(tmp_path):
    data = make_image_folder(tmp_path / "data", per_class=16, size=16)
    checkpoint = tmp_path / "run.pt"
    common = ["--data", str(data), "--image-size", "16", "--batch-size", "8", "--lr", "0.05",
              "--recipe", "alexnet", "--checkpoint", str(checkpoint)]
    epochs, out = torchrun(*common, "--epochs", "4")
    assert [e[0] for e in epochs] == [1, 2, 3, 4]          # rank 0 alone prints: one line per epoch
    assert "2 process(es) on cpu" in out
    assert epochs[-1][1] < epochs[0][1]                    # the training loss goes down

    model = tiny_models.tiny_cnn()
    state = load_checkpoint(checkpoint, model)
    assert state["epoch"] == 4 and state["history"]["epoch"] == [1, 2, 3, 4]
    assert state["extra"]["world_size"] == 2 and state["extra"]["classes"] == ["blue", "green",
                                                                               "red"]

    resumed, out = torchrun(*common, "--epochs", "6", "--resume")
    assert "resumed from" in out and "after epoch 4" in out
    assert [e[0] for e in resumed] == [5, 6]               # epoch numbers continue
    state = load_checkpoint(checkpoint, model)
    assert state["epoch"] == 6 and state["history"]["epoch"] == [1, 2, 3, 4, 5, 6]
    assert state["history"]["loss"][:4] == pytest.approx([e[1] for e in epochs], abs=1e-4)
    assert min(state["history"]["loss"][4:]) < epochs[0][1]
    assert len(state["optimizer"]["state"]) > 0            # momentum buffers came back and went on
