"""openunmix.training.averaging: the weight average's arithmetic, runs with --ema (validated and saved weights, resume)
and with --clip-grad, through the Trainer's public interface."""

import shutil

import pytest
import torch

from conftest import TINY_TRAIN
from helpers.training import STEPS_PER_EPOCH, history
from openunmix.commands.train import parse_args
from openunmix.training import Trainer, TrainConfig, TrainingError
from openunmix.training.averaging import WeightAverage, check_averaging, effective_decay
from openunmix.training.callbacks import Callback
from openunmix.training.validation import validation_loss


def _config(root, out, *flags):
    return parse_args(["--root", str(root), "--is-wav", "--output", str(out), "--no-cuda", *TINY_TRAIN, *flags])


def _toy():
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def test_the_average_by_hand():
    torch.manual_seed(0)
    model = _toy()
    decay = 0.2  # the warm-up's factors 0.1, 2/11, then 3/12 > 0.2: both branches of the minimum
    assert [effective_decay(decay, n) for n in range(4)] == [0.1, 2 / 11, 0.2, 0.2]
    average = WeightAverage(model, decay)
    expected = {k: v.double().clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    for n in range(4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model.train()
        model(torch.randn(5, 3))  # moves batch norm's running statistics and its integer counter
        average.update(model)
        d = min(decay, (1 + n) / (10 + n))
        for k, v in model.state_dict().items():
            if k in expected:
                expected[k] = d * expected[k] + (1 - d) * v.double()
    got = average.module.state_dict()
    # 4 float32 updates of values below 10 against float64 arithmetic: a few float32 roundings (1.2e-7
    # relative each) per update, far below 1e-6
    for k, v in expected.items():
        assert v.dtype == torch.float64 and got[k].dtype == torch.float32
        torch.testing.assert_close(got[k].double(), v, rtol=1e-6, atol=1e-6, msg=k)
    assert got["1.num_batches_tracked"] == model.state_dict()["1.num_batches_tracked"] == 4  # copied
    assert average.updates == 4 and not average.module.training
    assert not any(p.requires_grad for p in average.module.parameters())
    assert not torch.equal(got["0.weight"], model.state_dict()["0.weight"])

    # a checkpoint's state continues the same average, bitwise (the same operations on the same numbers)
    again = WeightAverage(_toy(), 0.2)
    again.load_state_dict(average.state_dict())
    assert again.updates == 4
    with torch.no_grad():
        model[0].weight.mul_(2)
    average.update(model)
    again.update(model)
    for k, v in average.module.state_dict().items():
        assert torch.equal(v, again.module.state_dict()[k]), k


def test_bad_values_are_one_line_errors(tmp_path):
    for ema, clip, words in ((1.0, None, "--ema 1.0"), (0.0, None, "--ema 0.0"), (None, 0.0, "--clip-grad 0.0"),
                             (None, -1.0, "--clip-grad -1.0")):
        with pytest.raises(TrainingError, match=words) as err:
            check_averaging(ema, clip)
        assert "\n" not in str(err.value)
    with pytest.raises(TrainingError, match="strictly between 0 and 1"):  # the Trainer checks before any work
        Trainer(TrainConfig(root=str(tmp_path / "none"), output=str(tmp_path / "o"), ema=1.5))
    assert not (tmp_path / "o").exists()


class RawWeights(Callback):
    """The raw weights at the start and after every step."""

    def __init__(self):
        self.start = None
        self.steps = []

    def on_train_start(self, trainer):
        self.start = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    def on_step(self, trainer, step):
        self.steps.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})
        return False


def test_ema_validates_and_saves_the_average_and_resumes_exactly(tmp_path, musdb_root, capsys):
    raw = RawWeights()
    out = tmp_path / "whole"
    flags = ("--ema", "0.2", "--no-tensorboard")
    trainer = Trainer(_config(musdb_root, out, "--epochs", "2", *flags), callbacks=[raw])
    assert trainer.run() == 0
    assert "weight averaging: EMA decay 0.2" in capsys.readouterr().out
    info = history(out)
    assert info["args"]["ema"] == 0.2 and info["args"]["clip_grad"] is None
    assert len(raw.steps) == 2 * STEPS_PER_EPOCH

    # the saved model is the average of the raw weights at the best epoch, computed here by hand
    best_step = info["best_epoch"] * STEPS_PER_EPOCH
    expected = {k: v.double() for k, v in raw.start.items()}
    for n, weights in enumerate(raw.steps[:best_step]):
        d = min(0.2, (1 + n) / (10 + n))
        expected = {k: d * expected[k] + (1 - d) * w.double() if w.is_floating_point() else w
                    for k, w in weights.items()}
    saved = torch.load(out / "vocals.pth", weights_only=True)
    # at most 4 float32 updates against float64 arithmetic (rounding of 1.2e-7 relative each); the input
    # scale's values reach the hundreds, hence a relative tolerance
    for k, v in expected.items():
        torch.testing.assert_close(saved[k].double(), v.double(), rtol=1e-5, atol=1e-6, msg=k)
    assert not torch.allclose(saved["fc1.weight"], raw.steps[best_step - 1]["fc1.weight"])  # not the raw weights
    # training went on with the raw weights
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, raw.steps[-1][k]), k

    # validation ran on the average: the last validation loss again (the same computation), not the raw model's
    assert trainer.validate() == info["valid_loss_history"][-1]
    chunk = int(trainer.cfg.valid_chunk_dur * trainer.sample_rate)
    assert validation_loss(trainer.model, trainer.part, trainer.valid_ds, chunk, trainer.device, None,
                           trainer.ctx) != info["valid_loss_history"][-1]
    assert trainer.eval_state().keys() == trainer.model.state_dict().keys()
    assert torch.equal(trainer.eval_state()["fc1.weight"], trainer.average.module.fc1.weight)

    # a run stopped after epoch 1 and resumed gives the same average and the same files
    part = tmp_path / "part"
    assert Trainer(_config(musdb_root, part, "--epochs", "1", *flags)).run() == 0
    shutil.copy(part / "vocals.chkpnt", tmp_path / "epoch1.chkpnt")
    chk = torch.load(tmp_path / "epoch1.chkpnt", weights_only=True)
    assert chk["ema"]["updates"] == STEPS_PER_EPOCH
    resumed = Trainer(_config(musdb_root, part, "--epochs", "2", "--checkpoint", str(part), *flags))
    assert resumed.run() == 0
    # the same computations in the same order in one process: bit-identical
    for k, v in trainer.eval_state().items():
        assert torch.equal(v, resumed.eval_state()[k]), k
    again = torch.load(part / "vocals.pth", weights_only=True)
    for k, v in saved.items():
        assert torch.equal(v, again[k]), k
    a, b = history(out), history(part)
    assert a["valid_loss_history"] == b["valid_loss_history"] and a["valid_sdr_history"] == b["valid_sdr_history"]
    assert torch.load(part / "vocals.chkpnt", weights_only=True)["ema"]["updates"] == 2 * STEPS_PER_EPOCH


class GradNorms(Callback):
    """After each step: the gradients' norm (after clipping) and the trainer's norm before clipping."""

    def __init__(self):
        self.after, self.before = [], []

    def on_step(self, trainer, step):
        grads = [p.grad.norm() for p in trainer.model.parameters() if p.grad is not None]
        self.after.append(float(torch.linalg.vector_norm(torch.stack(grads))))
        self.before.append(None if trainer.grad_norm is None else float(trainer.grad_norm))
        return False


def test_clip_grad_bounds_the_norm_and_a_huge_norm_changes_nothing(tmp_path, musdb_root):
    flags = ("--epochs", "1", "--no-valid-sdr")
    plain = Trainer(_config(musdb_root, tmp_path / "plain", *flags, "--no-tensorboard"))
    plain.run()
    huge = Trainer(_config(musdb_root, tmp_path / "huge", *flags, "--no-tensorboard", "--clip-grad", "1e9"))
    huge.run()
    # a norm far above the gradients' scales them by exactly 1
    for k, v in plain.model.state_dict().items():
        assert torch.equal(v, huge.model.state_dict()[k]), k
    assert history(tmp_path / "huge")["args"]["clip_grad"] == 1e9

    norms = GradNorms()
    out = tmp_path / "clipped"
    clipped = Trainer(_config(musdb_root, out, *flags, "--clip-grad", "0.001"), callbacks=[norms])
    clipped.run()
    assert len(norms.after) == STEPS_PER_EPOCH
    assert all(b > 0.001 for b in norms.before)  # every step was clipped
    # clipping scales by NORM / (norm + 1e-6): the norm after it is at most NORM, and within 1e-3 of it
    # for norms above 1e-3 (float32 sums of a few thousand squares: 1e-5 relative at most)
    assert all(a <= 0.001 * (1 + 1e-5) for a in norms.after), norms.after
    assert norms.after == pytest.approx([0.001] * STEPS_PER_EPOCH, rel=1e-3)
    assert not torch.equal(clipped.model.state_dict()["fc1.weight"], plain.model.state_dict()["fc1.weight"])
    # TensorBoard's step/grad_norm is the norm before clipping (stored as float32: 6e-8 relative)
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    reader = event_accumulator.EventAccumulator(str(out / "tensorboard" / "vocals"), size_guidance={"scalars": 0})
    reader.Reload()
    assert [e.value for e in reader.Scalars("step/grad_norm")] == pytest.approx(norms.before, rel=1e-6)
