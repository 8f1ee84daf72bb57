"""Training of an Open-Unmix target model or an X-UMX joint model: statistics pass,
epochs, early stopping, checkpoints, resume, and multi-process data parallelism.

The model type is a part of the loop (:mod:`openunmix.architectures`): for
``umx`` the loss is the mean squared error between the model's output and the
target magnitude ``(batch, channels, bins, frames)``; for ``xumx`` it is the
multi-domain (+ combination) loss of :mod:`openunmix.losses`. ``<stem>`` below
is the target for ``umx`` and ``xumx`` for ``xumx``. Everything written to the
output folder is written atomically, once per finished epoch:

* ``<stem>.pth``: the best model's state dict (upstream names);
* ``<stem>.json``: arguments, STFT settings, sample rate, loss and time
  histories, best epoch;
* ``<stem>.chkpnt``: everything needed to resume (model, optimizer,
  scheduler, early stopping, epoch, histories); random numbers are
  seeded from ``(seed, epoch, rank)`` each epoch, so no generator state is needed;
* ``<stem>_loss.png``: the loss curves.

Runs under ``torchrun`` too (``WORLD_SIZE`` > 1): DistributedDataParallel with
NCCL on GPUs and gloo on CPU; ``batch_size`` is the global batch, split
evenly between processes, and batch-norm statistics are computed over the
global batch, so a multi-process run follows a single-process run with the
same global batch (dropout masks aside).
"""

from __future__ import annotations

import contextlib
import gc
import math
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from . import data as data_mod
from . import distributed as dist_utils
from .audio import AudioError
from .architectures import PartError, Spectrogram, make_part
from .transforms import STFT
from .utils import ModelError, bandwidth_to_max_bin, load_torch, make_output_folder, save_torch


class TrainingError(Exception):
    """Training cannot go on; the message says why."""


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without an improvement of more than ``min_delta``."""

    patience: int = 20
    min_delta: float = 0.0
    best: float = math.inf
    num_bad_epochs: int = 0

    def step(self, value: float) -> bool:
        """Record an epoch's validation loss; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        return self.num_bad_epochs >= self.patience


@dataclass
class TrainConfig:
    """Every setting of a training run (what ``train.py`` parses)."""

    root: str
    output: str
    dataset: str = "musdb"
    target: str = "vocals"
    epochs: int = 1000
    patience: int = 20
    batch_size: int = 16
    seq_dur: float = 5.0
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_decay_patience: int = 80
    lr_decay_gamma: float = 0.3
    seed: int = 1
    nfft: int = 4096
    nhop: int = 1024
    bandwidth: float = 16000.0
    nb_channels: int = 2
    sample_rate: float = 44100.0
    hidden_size: int = 512
    nb_layers: int = 3
    unidirectional: bool = False
    samples_per_track: int = 64
    nb_workers: int = 0
    valid_chunk_dur: float = 30.0
    checkpoint: Optional[str] = None
    model: Optional[str] = None
    no_cuda: bool = False
    amp: bool = False
    quiet: bool = False
    dataset_options: Dict[str, Any] = field(default_factory=dict)
    architecture: str = "umx"
    mcoef: float = 10.0
    combination: bool = True


# ---------------------------------------------------------------- statistics


class _StatsItems(Dataset):
    """One item per training track: per-bin sums of its mono mixture magnitude."""

    def __init__(self, groups: Sequence[Sequence[Path]], sample_rate: float, n_fft: int, n_hop: int, chunk: int):
        self.groups = [list(g) for g in groups]
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.n_hop = n_hop
        self.chunk = chunk

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, torch.Tensor, int]:
        # no torch.set_num_threads here: with nb_workers=0 this runs in the caller's
        # process and would leave every later training step on one thread (DataLoader
        # workers already run single-threaded)
        from . import audio

        stft = STFT(self.n_fft, self.n_hop)
        mono = []
        for path in self.groups[i]:
            x, rate = audio.load(path)
            mono.append(audio.resample(x.mean(axis=0, keepdims=True), rate, self.sample_rate))
        mix = data_mod.sum_sources(mono)
        total = torch.zeros(self.n_fft // 2 + 1, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        count = 0
        with torch.inference_mode():
            for start in range(0, mix.shape[-1], self.chunk):
                mag = stft(torch.from_numpy(mix[None, :, start : start + self.chunk]))[0, 0].abs().double()
                total += mag.sum(-1)
                total_sq += (mag**2).sum(-1)
                count += mag.shape[-1]
        return total, total_sq, count


def dataset_statistics(
    dataset: Any, sample_rate: float, n_fft: int, n_hop: int, nb_workers: int = 0, progress: bool = False
) -> Tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and standard deviation of the training mixtures' mono magnitude.

    One pass over ``dataset.stats_sources()`` (unaugmented tracks), in
    ``nb_workers`` parallel processes, each track read in chunks.

    Returns:
        ``(mean, std)``, each of ``n_fft // 2 + 1`` values; ``std`` is floored
        at 1e-4 of its maximum so silent bins do not blow up the input scale.
    """
    items = _StatsItems(dataset.stats_sources(), sample_rate, n_fft, n_hop, chunk=int(60 * sample_rate))
    if len(items) == 0:
        raise TrainingError("the training set has no tracks to compute statistics from")
    loader = DataLoader(items, batch_size=None, num_workers=nb_workers)
    total = torch.zeros(n_fft // 2 + 1, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    count = 0
    it = loader
    if progress:
        from tqdm import tqdm

        it = tqdm(loader, desc="statistics", unit="track", leave=False)
    for s, sq, c in it:
        total += s
        total_sq += sq
        count += int(c)
    mean = total / max(count, 1)
    std = torch.sqrt(torch.clamp(total_sq / max(count, 1) - mean**2, min=0))
    std = torch.maximum(std, 1e-4 * std.max().clamp(min=1e-8))
    return mean.numpy(), std.numpy()


# ---------------------------------------------------------------- training


class _EpochSampler(torch.utils.data.Sampler):
    """Yields ``(epoch, index)`` pairs from a :class:`DistributedSampler`."""

    def __init__(self, sampler: DistributedSampler):
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, i) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class _EpochItems(Dataset):
    """Dataset view indexed by ``(epoch, index)``: sets the epoch, then returns the item."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Tuple[int, int]):
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block is done (in the main thread), then raise it.

    Saving an epoch writes several files; an interrupt in the middle would
    leave a checkpoint without its json. Each file is atomic anyway, so a
    SIGKILL still leaves a consistent (older) set.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _seconds(t: float) -> str:
    return f"{t:.1f}s"


class Trainer:
    """One training run; see :func:`train`."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.ctx = dist_utils.setup(use_cuda=not cfg.no_cuda)
        self.device = self.ctx.device
        self.is_main = self.ctx.rank == 0
        self.out = Path(cfg.output)
        if cfg.batch_size % self.ctx.world_size:
            raise TrainingError(
                f"--batch-size {cfg.batch_size} does not split evenly over {self.ctx.world_size} processes"
            )
        self.local_batch = cfg.batch_size // self.ctx.world_size
        self.part = make_part(cfg.architecture, cfg.target, cfg.nfft, cfg.nhop, cfg.nb_channels,
                              mcoef=cfg.mcoef, combination=cfg.combination)

    # -- setup -------------------------------------------------------------

    def build(self) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        try:  # every process checks, so that none waits for a rank 0 that gave up
            make_output_folder(self.out)
        except OSError as err:
            raise TrainingError(str(err)) from None
        self.train_ds, self.valid_ds = data_mod.load_datasets(
            cfg.dataset,
            root=cfg.root,
            target=cfg.target,
            seq_duration=cfg.seq_dur,
            samples_per_track=cfg.samples_per_track,
            sample_rate=cfg.sample_rate,
            nb_channels=cfg.nb_channels,
            seed=cfg.seed,
            **cfg.dataset_options,
            **self.part.dataset_options(cfg.dataset),
        )
        if len(self.train_ds) == 0:
            raise TrainingError(f"{cfg.root}: no training items")
        if len(self.valid_ds) == 0:
            raise TrainingError(f"{cfg.root}: no validation tracks")
        if len(self.train_ds) // self.ctx.world_size < self.local_batch:  # batches are never partial
            raise TrainingError(
                f"{cfg.root}: the training set gives {len(self.train_ds)} excerpts per epoch, fewer than one "
                f"batch of {cfg.batch_size}; lower --batch-size or raise --samples-per-track"
            )
        self.sample_rate = float(self.train_ds.sample_rate)
        self.max_bin = bandwidth_to_max_bin(self.sample_rate, cfg.nfft, cfg.bandwidth)
        self.part.to(self.device)

        self.state: Dict[str, Any] = {
            "epoch": 0, "train_loss_history": [], "valid_loss_history": [],
            "train_time_history": [], "best_epoch": 0, "lr_history": [],
        }
        chk = None
        if cfg.checkpoint:
            chk = self._read_checkpoint(Path(cfg.checkpoint))
            model = self._model_from_arch(chk["arch"])
            model.load_state_dict(chk["model"])
        elif cfg.model:
            try:
                model, stft = self.part.load_folder(cfg.model)
            except ModelError as err:
                raise TrainingError(str(err)) from None
            if stft != (cfg.nfft, cfg.nhop, cfg.nb_channels):
                raise TrainingError(f"{cfg.model}: its STFT/channel settings differ from this run's arguments")
        else:
            mean, std = self._statistics()
            model = self.part.new_model(cfg.nfft // 2 + 1, cfg.nb_channels, cfg.hidden_size, cfg.nb_layers,
                                        cfg.unidirectional, mean, std, self.max_bin)
            # every process starts from rank 0's initial weights
            dist_utils.broadcast_module(model, self.ctx)
        self.arch = self.part.arch(model)
        self.model = model.to(self.device)
        self.net = dist_utils.wrap_model(self.model, self.ctx)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=cfg.lr_decay_gamma, patience=cfg.lr_decay_patience, cooldown=10
        )
        self.es = EarlyStopping(patience=cfg.patience)
        self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        # holds the best weights when saving
        self.best_model = self._model_from_arch(self.arch)
        if chk is not None:
            self.optimizer.load_state_dict(chk["optimizer"])
            self.scheduler.load_state_dict(chk["scheduler"])
            self.es = EarlyStopping(**chk["early_stopping"])
            self.state = chk["state"]
            self.best_state = chk["best_model"]
        self.scaler = dist_utils.make_grad_scaler(cfg.amp, self.device)
        self.amp_dtype = dist_utils.amp_dtype(cfg.amp, self.device)
        if cfg.amp and self.amp_dtype is None:
            self.log("--amp has no effect on the CPU: training in float32")
        elif self.amp_dtype is not None:
            self.log(f"mixed precision: {str(self.amp_dtype).replace('torch.', '')} autocast, STFT in float32")

    def _model_from_arch(self, arch: Dict[str, Any]) -> torch.nn.Module:
        try:
            return self.part.model_from_arch(arch)
        except (PartError, KeyError) as err:
            raise TrainingError(f"{self.cfg.checkpoint}: unusable checkpoint ({err})") from None

    def _read_checkpoint(self, folder: Path) -> Dict[str, Any]:
        path = folder / f"{self.part.stem}.chkpnt" if folder.is_dir() else folder
        try:
            chk = load_torch(path)
        except ModelError as err:
            raise TrainingError(str(err)) from None
        needed = ("model", "optimizer", "scheduler", "early_stopping", "state", "best_model", "arch")
        if not isinstance(chk, dict) or any(k not in chk for k in needed):
            raise TrainingError(f"{path}: not a training checkpoint of this program")
        return chk

    def _statistics(self) -> Tuple[np.ndarray, np.ndarray]:
        bins = self.cfg.nfft // 2 + 1
        stats = torch.zeros(2, bins, dtype=torch.float64)
        if self.is_main:
            t0 = time.time()
            mean, std = dataset_statistics(self.train_ds, self.sample_rate, self.cfg.nfft, self.cfg.nhop,
                                           nb_workers=self.cfg.nb_workers, progress=not self.cfg.quiet)
            stats[0], stats[1] = torch.from_numpy(mean), torch.from_numpy(std)
            self.log(f"dataset statistics: {len(self.train_ds.stats_sources())} tracks in {_seconds(time.time() - t0)}")
        dist_utils.broadcast_tensor(stats, self.ctx)
        return stats[0].numpy(), stats[1].numpy()

    # -- loops -------------------------------------------------------------

    def log(self, msg: str) -> None:
        if self.is_main:
            print(msg, flush=True)

    def _loader(self, epoch: int) -> DataLoader:
        """The training loader, built once; each epoch re-seeds its sampler.

        Items are requested as ``(epoch, index)`` so that persistent workers,
        which keep their copy of the dataset across epochs, still draw the
        excerpts of the current epoch.
        """
        if getattr(self, "loader", None) is None:
            self.sampler = _EpochSampler(DistributedSampler(
                self.train_ds, num_replicas=self.ctx.world_size, rank=self.ctx.rank,
                shuffle=True, seed=self.cfg.seed, drop_last=True,
            ))
            workers = self.cfg.nb_workers
            self.loader = DataLoader(
                _EpochItems(self.train_ds), batch_size=self.local_batch, sampler=self.sampler, drop_last=True,
                num_workers=workers, pin_memory=self.device.type == "cuda",
                persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                # its own generator: worker seeds never draw from the global (dropout) generator,
                # so results do not depend on the number of workers
                generator=torch.Generator().manual_seed(self.cfg.seed + self.ctx.rank),
            )
        self.sampler.set_epoch(epoch)
        return self.loader

    def train_epoch(self, epoch: int) -> float:
        self.net.train()
        # dropout and loader seeds depend only on (seed, epoch, rank): a resumed run
        # repeats an uninterrupted one, and processes draw different dropout masks
        torch.manual_seed(self.cfg.seed * 1_000_003 + epoch * 1009 + self.ctx.rank)
        loader = self._loader(epoch)
        total, count = 0.0, 0
        bar = None
        if self.is_main and not self.cfg.quiet:
            from tqdm import tqdm

            bar = tqdm(total=len(loader), desc=f"epoch {epoch}", unit="batch", leave=False)
        self.data_wait = 0.0  # seconds spent waiting for batches this epoch
        asked = time.perf_counter()
        for x, y in loader:
            self.data_wait += time.perf_counter() - asked
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():
                X, Y = self.part.prepare(x, y)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                Yhat = self.net(X)
            loss = self.part.loss(Yhat.float(), Y)
            value = dist_utils.mean_over_processes(loss.detach(), self.ctx)
            if not math.isfinite(value):
                raise TrainingError(
                    f"loss became {value} in epoch {epoch}; stopped, the last good checkpoint is kept in {self.out}"
                )
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            total += value * x.shape[0]
            count += x.shape[0]
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total / count:.4g}")
            asked = time.perf_counter()
        if bar is not None:
            bar.close()
        return total / max(count, 1)

    def validate(self) -> float:
        """Mean squared error over whole validation tracks, each processed in chunks."""
        self.net.eval()
        chunk = max(self.cfg.nhop, int(self.cfg.valid_chunk_dur * self.sample_rate))
        sse = torch.zeros(2, dtype=torch.float64)
        with torch.inference_mode():
            for i in range(self.ctx.rank, len(self.valid_ds), self.ctx.world_size):
                x, y = self.valid_ds[i]
                for start in range(0, x.shape[-1], chunk):
                    xc = x[None, ..., start : start + chunk].to(self.device)
                    yc = y[None, ..., start : start + chunk].to(self.device)
                    X, Y = self.part.prepare(xc, yc)
                    with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                        Yhat = self.model(X)
                    total, count = self.part.valid_sums(Yhat.float(), Y)
                    sse[0] += total
                    sse[1] += count
        dist_utils.sum_over_processes(sse, self.ctx)
        if sse[1] == 0:
            raise TrainingError("the validation set gave no frames to score (tracks too short?)")
        return float(sse[0] / sse[1])

    # -- outputs -----------------------------------------------------------

    def _json(self) -> Dict[str, Any]:
        args = asdict(self.cfg)
        opts = args.pop("dataset_options")
        args.update(opts)
        return {
            "args": args,
            "sample_rate": self.sample_rate,
            "epochs_trained": self.state["epoch"],
            "best_epoch": self.state["best_epoch"],
            "best_loss": self.es.best if math.isfinite(self.es.best) else None,
            "num_bad_epochs": self.es.num_bad_epochs,
            "train_loss_history": self.state["train_loss_history"],
            "valid_loss_history": self.state["valid_loss_history"],
            "train_time_history": self.state["train_time_history"],
            "data_wait_history": self.state.get("data_wait_history", []),
            "valid_time_history": self.state.get("valid_time_history", []),
            "lr_history": self.state["lr_history"],
            "world_size": self.ctx.world_size,
        }

    def save(self) -> None:
        """Write checkpoint, best model, json and plot (rank 0 only), each atomically."""
        if not self.is_main:
            return
        with _sigint_deferred():
            self._write_outputs()

    def _write_outputs(self) -> None:
        t = self.part.stem
        save_torch(self.out / f"{t}.chkpnt", {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "early_stopping": asdict(self.es),
            "state": self.state,
            "best_model": self.best_state,
            "arch": self.arch,
        })
        self.best_model.load_state_dict(self.best_state)
        self.part.save(self.out, self.best_model, self.sample_rate, self.cfg.nfft, self.cfg.nhop, extra=self._json())
        plot_losses(self.out / f"{t}_loss.png", self.state["train_loss_history"],
                    self.state["valid_loss_history"], self.state["best_epoch"], t,
                    ylabel=self.part.loss_label, log_scale=self.part.log_scale)

    def run(self) -> int:
        self.build()
        cfg = self.cfg
        start = self.state["epoch"] + 1
        if start > 1:
            self.log(f"resuming at epoch {start} from {cfg.checkpoint}")
            # a run killed between writing the checkpoint and the other files left them
            # one epoch behind: write the whole set again from the checkpoint
            self.save()
        if self.es.num_bad_epochs >= self.es.patience:
            self.log("early stopping had already stopped this run")
            return 0
        for epoch in range(start, cfg.epochs + 1):
            t0 = time.time()
            train_loss = self.train_epoch(epoch)
            t_valid = time.time()
            valid_loss = self.validate()
            t_valid = time.time() - t_valid
            if not math.isfinite(valid_loss):
                raise TrainingError(
                    f"validation loss became {valid_loss} in epoch {epoch}; stopped, the last good checkpoint is kept in {self.out}"
                )
            self.scheduler.step(valid_loss)
            stop = self.es.step(valid_loss)
            if self.es.num_bad_epochs == 0:
                self.state["best_epoch"] = epoch
                self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            elapsed = time.time() - t0
            self.state["epoch"] = epoch
            self.state["train_loss_history"].append(train_loss)
            self.state["valid_loss_history"].append(valid_loss)
            self.state["train_time_history"].append(elapsed)
            self.state.setdefault("data_wait_history", []).append(self.data_wait)
            self.state.setdefault("valid_time_history", []).append(t_valid)
            self.state["lr_history"].append(self.optimizer.param_groups[0]["lr"])
            self.save()
            self.log(
                f"epoch {epoch:4d}  train {train_loss:.6g}  valid {valid_loss:.6g}  "
                f"best {self.es.best:.6g} (epoch {self.state['best_epoch']})  "
                f"lr {self.optimizer.param_groups[0]['lr']:.3g}  {_seconds(elapsed)}"
            )
            if stop:
                self.log(f"early stopping: no improvement for {cfg.patience} epochs")
                break
        self.log(f"best model (epoch {self.state['best_epoch']}) saved in {self.out}/{self.part.stem}.pth")
        return 0


def plot_losses(path: Path, train: List[float], valid: List[float], best_epoch: int, target: str,
                ylabel: str = "MSE", log_scale: bool = True) -> None:
    """Save the loss curves as a png, atomically (log-scaled y axis: for positive losses only)."""
    # a Figure without pyplot: no global figure state and no switch of the caller's matplotlib backend
    from matplotlib.figure import Figure

    from .utils import atomic_path

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, label="train")
    ax.plot(epochs, valid, label="valid")
    if best_epoch:
        ax.axvline(best_epoch, color="gray", linestyle=":", label=f"best ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(f"{target} training")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


@contextlib.contextmanager
def _process_settings_kept() -> Iterator[None]:
    """Give the caller back its torch thread count, random generators and cuDNN autotuning.

    A run seeds the global generator (dropout masks) each epoch and turns on
    cuDNN autotuning on GPUs; a program that calls :func:`train` and goes on
    afterwards finds its own settings again.
    """
    threads = torch.get_num_threads()
    benchmark = torch.backends.cudnn.benchmark
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark


def train(cfg: TrainConfig) -> int:
    """Run a training; returns the exit status. Errors end with one line on stderr.

    The caller's torch thread count, random generator states and cuDNN
    autotuning setting are the same afterwards as before.
    """
    with _process_settings_kept():
        return _train(cfg)


def _train(cfg: TrainConfig) -> int:
    trainer = None
    try:
        trainer = Trainer(cfg)
        return trainer.run()
    except (TrainingError, PartError, data_mod.DatasetError, ModelError, AudioError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        if trainer is None or trainer.is_main:
            print(f"\ninterrupted: the last finished epoch is saved; resume with --checkpoint {cfg.output}",
                  file=sys.stderr, flush=True)
        return 130
    finally:
        # The DistributedDataParallel model (its reducer) holds the gloo process group.
        # Left alive until interpreter exit, its worker threads were torn down unjoined
        # and aborted the process ("terminate called without an active exception") in
        # about one torchrun run in four; free it before leaving the group.
        trainer = None
        gc.collect()
        dist_utils.cleanup()
