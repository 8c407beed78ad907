"""cnnlit.train and cnnlit.checkpoints: learning, checkpoints, resuming, interrupts, divergence, dry
runs.
"""
import urllib.error

import pytest
import torch
from torch import nn

import cnnlit
from cnnlit import checkpoints, train
from cnnlit.data import DataUnavailableError, TensorData
from cnnlit.profiles import DRY_RUN_BATCHES


def small_cnn(classes=10):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 12, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(12 * 5 * 5, classes))


@pytest.fixture(scope="module")
def real_subset():
    """512 real Fashion-MNIST images (from whatever source cnnlit.data finds on this machine); the
    tests that need them are skipped where no source has the dataset."""
    try:
        return cnnlit.data.load("fashion-mnist", "train", subset=512, seed=1, verbose=False)
    except DataUnavailableError as error:
        pytest.skip(f"Fashion-MNIST is not available here: {error}")


def toy_data(n=64):
    generator = torch.Generator().manual_seed(0)
    return TensorData(torch.rand(n, 1, 28, 28, generator=generator), torch.arange(n) % 10,
                      [str(i) for i in range(10)])


def test_fit_lowers_the_loss_on_real_data(real_subset):
    cnnlit.seed_everything(0)
    model = small_cnn()
    before = train.evaluate(model, real_subset)
    history = train.fit(model, real_subset, epochs=3, lr=0.05, batch_size=32, device="cpu",
                        progress=False)
    after = train.evaluate(model, real_subset)
    assert len(history) == 3 and history.epoch == [1, 2, 3]
    assert history.loss[-1] < history.loss[0]
    assert after.loss < before.loss and after.accuracy > 0.5 > before.accuracy
    assert all(s > 0 for s in history.seconds)
    assert list(history.to_frame().columns) == ["loss", "accuracy", "seconds", "lr"]


def test_fit_accepts_a_plain_dataset_and_validation(real_subset):
    plain = torch.utils.data.TensorDataset(real_subset.images[:128], real_subset.labels[:128])
    history = train.fit(small_cnn(), plain, epochs=1, batch_size=32, val_data=real_subset,
                        device="cpu",
                        progress=False)
    assert len(history.val_accuracy) == 1 and 0 <= history.val_accuracy[0] <= 1


def test_stop_when_ends_early():
    history = train.fit(small_cnn(), toy_data(), epochs=10, device="cpu", progress=False,
                        stop_when=lambda h: len(h) == 2)
    assert history.epoch == [1, 2]


def test_checkpoint_round_trip(tmp_path):
    model, path = small_cnn(), tmp_path / "model.pt"
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train.fit(model, toy_data(), epochs=1, optimizer=optimizer, device="cpu", progress=False,
              checkpoint=path)
    restored, restored_optimizer = small_cnn(), None
    restored_optimizer = torch.optim.SGD(restored.parameters(), lr=0.1, momentum=0.9)
    state = checkpoints.load_checkpoint(path, restored, restored_optimizer)
    assert state["epoch"] == 1 and state["history"]["epoch"] == [1]
    for a, b in zip(model.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)
    assert restored_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


def test_resume_continues_from_the_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    cnnlit.seed_everything(0)
    first = train.fit(small_cnn(), toy_data(), epochs=2, device="cpu", progress=False,
                      checkpoint=path)
    resumed = train.fit(small_cnn(), toy_data(), epochs=4, device="cpu", progress=False,
                        checkpoint=path,
                        resume=path)
    assert resumed.epoch == [1, 2, 3, 4] and resumed.loss[:2] == first.loss
    assert checkpoints.load_checkpoint(path, small_cnn())["epoch"] == 4


class InterruptAfter(nn.Module):
    """Raises KeyboardInterrupt (as Ctrl-C does) on the n-th forward call while training."""

    def __init__(self, calls):
        super().__init__()
        self.net, self.calls = small_cnn(), calls

    def forward(self, x):
        if self.training:
            self.calls -= 1
            if self.calls < 0:
                raise KeyboardInterrupt
        return self.net(x)


def test_interrupt_keeps_the_last_checkpoint_and_the_model(tmp_path, capsys):
    path = tmp_path / "run.pt"
    # toy_data: 1 batch of 64 per epoch -> stops in epoch 4
    model = InterruptAfter(calls=3)
    history = train.fit(model, toy_data(), epochs=10, device="cpu", progress=False, checkpoint=path)
    assert history.interrupted and history.epoch == [1, 2, 3]
    assert "interrupted during epoch 4" in capsys.readouterr().out
    assert checkpoints.load_checkpoint(path, InterruptAfter(0))["epoch"] == 3
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)      # still usable


def test_nan_loss_names_epoch_and_batch():
    data = toy_data(96)
    # in the second epoch's shuffle it lands in some batch
    data.images[70] = float("nan")
    with pytest.raises(train.TrainingDiverged, match=r"epoch 1, batch [12]"):
        train.fit(small_cnn(), data, epochs=3, batch_size=48, device="cpu", progress=False)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = checkpoints.save_checkpoint(tmp_path / "other.pt", nn.Linear(3, 2), epoch=1)
    with pytest.raises(checkpoints.CheckpointMismatchError,
                       match="holds a Linear network.*Sequential"):
        checkpoints.load_checkpoint(path, small_cnn())


def test_checkpoints_load_with_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": object()}, path)
    with pytest.raises(Exception, match="[Ww]eights only"):
        checkpoints.load_checkpoint(path, small_cnn())


def test_load_weights_from_a_local_file_and_offline(tmp_path, capsys):
    source, target = small_cnn(), small_cnn()
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    assert checkpoints.load_weights(target, tmp_path / "weights.pt")
    assert torch.equal(source[0].weight, target[0].weight)

    class Unreachable:
        def get_state_dict(self, progress=False):
            raise urllib.error.URLError("Name or service not known")

    capsys.readouterr()
    assert checkpoints.load_weights(small_cnn(), Unreachable()) is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not available here" in out
    with pytest.raises(FileNotFoundError):
        checkpoints.load_weights(small_cnn(), tmp_path / "missing.pt")


def test_topk_error_and_bad_arguments():
    outputs = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    assert train.topk_error(outputs, torch.tensor([1, 2]), k=1) == 0.5
    assert train.topk_error(outputs, torch.tensor([1, 2]), k=3) == 0.0
    with pytest.raises(ValueError, match="between 1 and"):
        train.topk_error(outputs, torch.tensor([1, 2]), k=5)
    with pytest.raises(ValueError):
        train.fit(small_cnn(), toy_data(), epochs=-1, progress=False)


# --------------------------------------------------------------------------- dry runs
# (CNNLIT_DRY_RUN)

def count_batches(model):
    """Record (training?, batch size) of every forward call of ``model``."""
    calls = []
    model.register_forward_pre_hook(lambda module, inputs: calls.append((module.training,
                                                                         len(inputs[0]))))
    return calls


def test_dry_run_caps_fit_at_one_epoch_of_two_batches(monkeypatch, capsys):
    monkeypatch.setenv("CNNLIT_DRY_RUN", "1")
    model = small_cnn()
    calls = count_batches(model)
    history = train.fit(model, toy_data(160), epochs=5, batch_size=16, val_data=toy_data(1200),
                        device="cpu",
                        progress=False)
    assert DRY_RUN_BATCHES == 1 and history.epoch == [1]
    assert [size for training, size in calls if training] == [16] * DRY_RUN_BATCHES
    # of 3 batches
    assert [size for training, size in calls if not training] == [512] * DRY_RUN_BATCHES
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "dry run (CNNLIT_DRY_RUN=1)" in out and "of 5 epoch(s)" in out


def test_dry_run_caps_evaluate_and_predict(monkeypatch):
    data = toy_data(160)
    assert train.evaluate(small_cnn(), data, batch_size=16).count == 160
    monkeypatch.setenv("CNNLIT_DRY_RUN", "true")
    assert train.evaluate(small_cnn(), data, batch_size=16).count == DRY_RUN_BATCHES * 16
    scores, labels = train.predict(small_cnn(),
                                   torch.utils.data.TensorDataset(data.images, data.labels),
                                   batch_size=50)
    assert scores.shape == (DRY_RUN_BATCHES * 50, 10) and labels.shape == (DRY_RUN_BATCHES * 50,)


def test_dry_run_off_and_invalid_values(monkeypatch, capsys):
    monkeypatch.setenv("CNNLIT_DRY_RUN", "0")
    history = train.fit(small_cnn(), toy_data(64), epochs=2, batch_size=16, device="cpu",
                        progress=False)
    assert history.epoch == [1, 2] and capsys.readouterr().out == ""
    monkeypatch.setenv("CNNLIT_DRY_RUN", "maybe")
    with pytest.raises(ValueError, match="CNNLIT_DRY_RUN='maybe'"):
        train.fit(small_cnn(), toy_data(64), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="CNNLIT_DRY_RUN"):
        train.evaluate(small_cnn(), toy_data(64))


def test_fit_and_train_epoch_are_one_loop():
    """fit's epoch is train_epoch: the same seed gives the same weights and the same loss."""
    data = toy_data(64)
    cnnlit.seed_everything(3)
    by_fit = small_cnn()
    history = train.fit(by_fit, data, epochs=1, batch_size=16, lr=0.05, device="cpu",
                        progress=False)
    cnnlit.seed_everything(3)
    by_hand = small_cnn()
    optimizer = torch.optim.SGD(by_hand.parameters(), lr=0.05, momentum=0.9)
    totals = train.train_epoch(by_hand, train.batches(data, 16, True, "cpu"), optimizer,
                               nn.CrossEntropyLoss(),
                               "cpu")
    assert (
        totals.seen == 64
        and totals.loss == history.loss[0]
        and totals.accuracy == history.accuracy[0]
    )
    for a, b in zip(by_fit.parameters(), by_hand.parameters()):
        assert torch.equal(a, b)


# --------------------------------------------------------------------------- callbacks

class Recorder(train.Callback):
    """Counts every hook and records the batch accuracy every ``k`` batches; stops after
    ``stop_at`` steps."""

    def __init__(self, k, stop_at=None):
        self.k, self.stop_at, self.records, self.calls = k, stop_at, [], []

    def on_fit_start(self, state):
        self.calls.append("fit_start")

    def on_epoch_start(self, state):
        self.calls.append(f"epoch_start {state.epoch}")

    def on_batch_end(self, state):
        if state.step % self.k == 0:
            right = (state.outputs.argmax(1) == state.labels).float().mean()
            self.records.append((state.epoch, state.batch, float(right)))
        state.stop = state.step == self.stop_at

    def on_epoch_end(self, state):
        self.calls.append(f"epoch_end {state.epoch}")

    def on_fit_end(self, state):
        self.calls.append("fit_end")


def test_a_callback_records_every_k_batches():
    recorder = Recorder(k=4)        # 160 images in batches of 16: 10 batches per epoch, 30 in all
    history = train.fit(small_cnn(), toy_data(160), epochs=3, batch_size=16, device="cpu",
                        progress=False, callbacks=[recorder])
    assert len(recorder.records) == 30 // 4
    assert [(e, b) for e, b, _ in recorder.records] == [(1, 4), (1, 8), (2, 2), (2, 6), (2, 10),
                                                         (3, 4), (3, 8)]
    assert all(0 <= right <= 1 for *_, right in recorder.records)
    assert recorder.calls == ["fit_start", "epoch_start 1", "epoch_end 1", "epoch_start 2",
                              "epoch_end 2", "epoch_start 3", "epoch_end 3", "fit_end"]
    assert history.epoch == [1, 2, 3] and history.lr == [0.01] * 3


def test_a_callback_stops_training_after_a_batch():
    cnnlit.seed_everything(0)
    model, stopped = small_cnn(), Recorder(k=100, stop_at=13)
    calls = count_batches(model)
    history = train.fit(model, toy_data(160), epochs=5, batch_size=16, device="cpu", progress=False,
                        callbacks=[stopped])
    assert len([c for c in calls if c[0]]) == 13          # 10 batches of epoch 1, 3 of epoch 2
    assert history.epoch == [1, 2] and stopped.calls[-2:] == ["epoch_end 2", "fit_end"]


def test_fit_steps_a_plateau_schedule_with_the_validation_loss():
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    # patience 0, threshold so large that no epoch counts as progress: the rate falls every epoch
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, threshold=10.0)
    seen, step = [], scheduler.step
    scheduler.step = lambda metric: seen.append(metric) or step(metric)
    history = train.fit(model, toy_data(32), epochs=3, optimizer=optimizer, scheduler=scheduler,
                        val_data=toy_data(32), device="cpu", progress=False)
    assert history.lr == pytest.approx([0.1, 0.01, 0.001])
    assert seen == history.val_loss and seen != history.loss


def test_topk_error_refuses_labels_that_are_not_one_per_row():
    outputs = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.1, 0.0, 0.9]])
    labels = torch.tensor([2, 2, 2])
    assert train.topk_error(outputs, labels, k=1) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"labels \(N,\)"):
        train.topk_error(outputs, labels[:, None], k=1)


def test_evaluating_empty_data_says_there_is_nothing_to_predict():
    empty = TensorData(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long), ["a", "b"])
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with pytest.raises(ValueError, match="no images"):
        train.evaluate(model, empty, device="cpu")
