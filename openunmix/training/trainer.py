"""One training run: setup, epochs, validation, early stopping and saving (see :mod:`openunmix.training`)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from .. import architectures
from .. import data as data_mod
from .. import distributed as dist_utils
from ..utils import make_output_folder, remove_stale_temporaries
from .config import EarlyStopping, TrainConfig, TrainingError
from .loader import make_loader
from .outputs import plot_losses, read_checkpoint, run_info, save_checkpoint, sigint_deferred
from .schedule import LRSchedule
from .statistics import dataset_statistics


def _seconds(t: float) -> str:
    return f"{t:.1f}s"


def _copy_state(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


class Trainer:
    """One training run of ``cfg``; :meth:`run` trains and returns 0.

    Every name the settings give (architecture and its options, dataset
    layout and target, model folder, checkpoint) is checked before any work
    starts and before anything is written.

    ``on_step``, when given, is called after every optimizer step with the
    trainer and the number of steps taken so far in the run; when it returns
    True the run stops there, before the epoch's validation (the last
    finished epoch stays saved). It is how a caller watches a run (e.g.
    ``benchmarks/time_to_quality.py`` takes copies of the weights at points in
    time); it must not draw random numbers, or the run changes.
    """

    def __init__(self, cfg: TrainConfig, on_step: Optional[Callable[["Trainer", int], bool]] = None):
        self.cfg = cfg
        self.on_step = on_step
        self.stopped = False
        arch = architectures.get(cfg.architecture)
        self.options = arch.check_options(cfg.architecture_options)
        self.part = arch.training_part(cfg.target, cfg.nb_channels, self.options)
        self.ctx = dist_utils.setup(use_cuda=not cfg.no_cuda)
        self.device = self.ctx.device
        self.is_main = self.ctx.rank == 0
        self.out = Path(cfg.output)
        if cfg.batch_size % self.ctx.world_size:
            raise TrainingError(
                f"--batch-size {cfg.batch_size} does not split evenly over {self.ctx.world_size} processes"
            )
        self.local_batch = cfg.batch_size // self.ctx.world_size
        self.loader = None

    # -- setup -------------------------------------------------------------

    def build(self) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        dataset_options = self.part.dataset_options(cfg.dataset)
        chk, model = self._starting_point()
        self.train_ds, self.valid_ds = data_mod.load_datasets(
            cfg.dataset, root=cfg.root, target=cfg.target, seq_duration=cfg.seq_dur,
            samples_per_track=cfg.samples_per_track, sample_rate=cfg.sample_rate, nb_channels=cfg.nb_channels,
            seed=cfg.seed, **cfg.dataset_options, **dataset_options,
        )
        self._check_datasets()
        try:  # every process checks, so that none waits for a rank 0 that gave up
            make_output_folder(self.out)
        except OSError as err:
            raise TrainingError(str(err)) from None
        if self.is_main:  # what runs killed while writing here left behind
            remove_stale_temporaries(self.out)
        self.sample_rate = float(self.train_ds.sample_rate)
        self.part.to(self.device)

        self.state: Dict[str, Any] = {
            "epoch": 0, "train_loss_history": [], "valid_loss_history": [],
            "train_time_history": [], "best_epoch": 0, "lr_history": [],
        }
        if model is None:
            model = self.part.new_model(self.sample_rate, self._statistics())
            # every process starts from rank 0's initial weights
            dist_utils.broadcast_module(model, self.ctx)
        self.arch = self.part.arch(model)
        self.model = model.to(self.device)
        self.net = dist_utils.wrap_model(self.model, self.ctx)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = LRSchedule(
            self.optimizer, cfg.lr_schedule, cfg.lr, cfg.warmup_steps, self._horizon(), cfg.lr_decay_gamma,
            cfg.lr_decay_patience,
        )
        self.es = EarlyStopping(patience=cfg.patience)
        self.best_state = _copy_state(self.model)
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
        if cfg.compile:
            self.net = torch.compile(self.net)
        if cfg.amp and self.amp_dtype is None:
            self.log("--amp has no effect on this CPU (no bfloat16 units): training in float32")
        elif self.amp_dtype is not None:
            self.log(f"mixed precision: {str(self.amp_dtype).replace('torch.', '')} autocast, STFT in float32")

    def _horizon(self) -> int:
        """Steps over which a cosine or one-cycle schedule decays: ``lr_horizon``, or all epochs' steps."""
        if self.cfg.lr_horizon is not None:
            return self.cfg.lr_horizon
        per_epoch = len(self.train_ds) // self.ctx.world_size // self.local_batch
        return max(1, self.cfg.epochs * per_epoch)

    def _starting_point(self) -> Tuple[Any, Any]:
        """``(checkpoint, model)`` to resume or fine-tune from (``(None, None)`` for a new model)."""
        cfg = self.cfg
        if cfg.checkpoint:
            folder = Path(cfg.checkpoint)
            chk = read_checkpoint(folder / f"{self.part.stem}.chkpnt" if folder.is_dir() else folder)
            model = self._model_from_arch(chk["arch"])
            model.load_state_dict(chk["model"])
            return chk, model
        if cfg.model:
            return None, self.part.load_folder(cfg.model)
        return None, None

    def _check_datasets(self) -> None:
        cfg = self.cfg
        if len(self.train_ds) == 0:
            raise TrainingError(f"{cfg.root}: no training items")
        if len(self.valid_ds) == 0:
            raise TrainingError(f"{cfg.root}: no validation tracks")
        if len(self.train_ds) // self.ctx.world_size < self.local_batch:  # batches are never partial
            raise TrainingError(
                f"{cfg.root}: the training set gives {len(self.train_ds)} excerpts per epoch, fewer than one "
                f"batch of {cfg.batch_size}; lower --batch-size or raise --samples-per-track"
            )

    def _model_from_arch(self, arch: Dict[str, Any]) -> torch.nn.Module:
        try:
            return self.part.model_from_arch(arch)
        except (architectures.ArchitectureError, KeyError) as err:
            raise TrainingError(f"{self.cfg.checkpoint}: unusable checkpoint ({err})") from None

    def _statistics(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """The per-bin mixture statistics the part asks for (rank 0 computes, every process gets them)."""
        if self.part.statistics is None:
            return None
        n_fft, n_hop = self.part.statistics
        stats = torch.zeros(2, n_fft // 2 + 1, dtype=torch.float64)
        if self.is_main:
            t0 = time.time()
            mean, std = dataset_statistics(self.train_ds, self.sample_rate, n_fft, n_hop,
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
        """The training loader, built once; each epoch re-seeds its sampler."""
        if self.loader is None:
            self.loader, self.sampler = make_loader(
                self.train_ds, self.local_batch, self.ctx.world_size, self.ctx.rank, self.cfg.seed,
                self.cfg.nb_workers, pin_memory=self.device.type == "cuda")
        self.sampler.set_epoch(epoch)
        return self.loader

    def train_epoch(self, epoch: int) -> float:
        """One epoch over the training loader; returns the mean training loss."""
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
            self.scheduler.before_step()
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
            if self.on_step is not None and self.on_step(self, self.scheduler.step_count):
                self.stopped = True
                break
            asked = time.perf_counter()
        if bar is not None:
            bar.close()
        return total / max(count, 1)

    def validate(self) -> float:
        """The validation loss over whole validation tracks, each processed in chunks."""
        self.net.eval()
        chunk = max(self.part.min_valid_samples, int(self.cfg.valid_chunk_dur * self.sample_rate))
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

    def save(self) -> None:
        """Write checkpoint, best model, json and plot (rank 0 only), each atomically."""
        if not self.is_main:
            return
        with sigint_deferred():
            stem = self.part.stem
            save_checkpoint(self.out / f"{stem}.chkpnt", {
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "early_stopping": asdict(self.es),
                "state": self.state,
                "best_model": self.best_state,
                "arch": self.arch,
            })
            self.best_model.load_state_dict(self.best_state)
            info = run_info(self.cfg, self.options, self.state, self.es, self.sample_rate, self.ctx.world_size)
            self.part.save(self.out, self.best_model, self.sample_rate, extra=info)
            plot_losses(self.out / f"{stem}_loss.png", self.state["train_loss_history"],
                        self.state["valid_loss_history"], self.state["best_epoch"], stem,
                        ylabel=self.part.loss_label, log_scale=self.part.log_scale)

    def _record(self, epoch: int, train_loss: float, valid_loss: Optional[float], elapsed: float,
                t_valid: float) -> None:
        """Append one epoch to the histories (``valid_loss`` None: the epoch was not validated)."""
        self.state["epoch"] = epoch
        self.state["train_loss_history"].append(train_loss)
        self.state["valid_loss_history"].append(valid_loss)
        self.state["train_time_history"].append(elapsed)
        self.state.setdefault("data_wait_history", []).append(self.data_wait)
        self.state.setdefault("valid_time_history", []).append(t_valid)
        self.state["lr_history"].append(self.optimizer.param_groups[0]["lr"])
        self.state["step"] = self.scheduler.step_count

    def run(self) -> int:
        """Build, then train until ``epochs`` or early stopping; returns 0."""
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
            if self.stopped:
                self.log(f"stopped in epoch {epoch} after {self.scheduler.step_count} steps")
                break
            valid_loss, t_valid = None, 0.0
            if epoch % cfg.valid_every == 0 or epoch == cfg.epochs:
                t_valid = time.time()
                valid_loss = self.validate()
                t_valid = time.time() - t_valid
                if not math.isfinite(valid_loss):
                    raise TrainingError(
                        f"validation loss became {valid_loss} in epoch {epoch}; stopped, the last good checkpoint is kept in {self.out}"
                    )
            stop = False
            if valid_loss is not None:
                self.scheduler.after_validation(valid_loss)
                stop = self.es.step(valid_loss)
                if self.es.num_bad_epochs == 0:
                    self.state["best_epoch"] = epoch
                    self.best_state = _copy_state(self.model)
            elapsed = time.time() - t0
            self._record(epoch, train_loss, valid_loss, elapsed, t_valid)
            self.save()
            shown = "-" if valid_loss is None else f"{valid_loss:.6g}"
            self.log(
                f"epoch {epoch:4d}  train {train_loss:.6g}  valid {shown}  "
                f"best {self.es.best:.6g} (epoch {self.state['best_epoch']})  "
                f"lr {self.optimizer.param_groups[0]['lr']:.3g}  {_seconds(elapsed)}"
            )
            if stop:
                self.log(f"early stopping: no improvement for {cfg.patience} validations")
                break
        self.log(f"best model (epoch {self.state['best_epoch']}) saved in {self.out}/{self.part.stem}.pth")
        return 0
