#!/usr/bin/env python
"""Train an Open-Unmix target model.

Example (MUSDB18 decoded to wav):
    python train.py --dataset musdb --root MUSDB_ROOT --is-wav --target vocals --output models/umx
Several processes (GPUs or CPU cores):
    torchrun --nproc_per_node 2 train.py --dataset musdb --root MUSDB_ROOT --is-wav ...
"""

import sys

from openunmix.commands.runtime import tune_allocator

tune_allocator()  # before torch is imported


from openunmix.architectures import ARCHITECTURES
from openunmix.commands.argtypes import (ArgumentParser, fraction, nonnegative_float, nonnegative_int, number,
                                positive_float, positive_int)
from openunmix.training import TrainConfig, train

DATASETS = ["musdb", "aligned", "unaligned", "trackfolder_fix", "trackfolder_var"]


def parse_args(argv=None) -> TrainConfig:
    p = ArgumentParser(prog="train.py", description="Open-Unmix training")
    p.add_argument("--dataset", choices=DATASETS, default="musdb", help="dataset layout (default: %(default)s)")
    p.add_argument("--root", required=True, help="dataset root folder")
    p.add_argument("--target", default="vocals", help="target source (default: %(default)s; umx only)")
    p.add_argument("--architecture", choices=ARCHITECTURES, default="umx",
                   help="umx: one target model; xumx: CrossNet-Open-Unmix, vocals/drums/bass/other jointly "
                        "(default: %(default)s)")
    p.add_argument("--output", default="open-unmix", help="output folder for the model files (default: %(default)s)")
    p.add_argument("--model", default=None, metavar="DIR", help="fine-tune the <target> model of this model folder")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help="resume from DIR/<target>.chkpnt (xumx: DIR/xumx.chkpnt)")
    x = p.add_argument_group("xumx loss")
    x.add_argument("--mcoef", type=nonnegative_float, default=10.0,
                   help="weight of the time-domain weighted-SDR term (default: %(default)s; 0: frequency domain only)")
    x.add_argument("--no-combination", action="store_true",
                   help="no combination loss: average over the single sources only (ablation)")

    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=positive_int, default=1000)
    t.add_argument("--patience", type=positive_int, default=20, help="early stopping: epochs without improvement")
    t.add_argument("--batch-size", "--batch_size", dest="batch_size", type=positive_int, default=16,
                   help="global batch size (split over torchrun processes)")
    t.add_argument("--lr", type=positive_float, default=1e-3)
    t.add_argument("--lr-decay-patience", type=positive_int, default=80, help="epochs without improvement before the lr decays")
    t.add_argument("--lr-decay-gamma", type=fraction, default=0.3, help="lr decay factor")
    t.add_argument("--weight-decay", type=nonnegative_float, default=1e-5)
    t.add_argument("--seed", type=nonnegative_int, default=1)
    t.add_argument("--seq-dur", type=positive_float, default=5.0, help="seconds per training excerpt")
    t.add_argument("--samples-per-track", type=positive_int, default=64, help="excerpts per track and epoch")
    t.add_argument("--valid-chunk-dur", type=positive_float, default=30.0,
                   help="validation tracks are processed in chunks of this many seconds")
    t.add_argument("--nb-workers", type=nonnegative_int, default=0, help="data loader worker processes")
    t.add_argument("--no-cuda", action="store_true")
    t.add_argument("--amp", action="store_true", help="mixed precision on GPU (bf16 where supported, else fp16)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    m = p.add_argument_group("model")
    m.add_argument("--nfft", type=number(int, 16, 65536), default=4096)
    m.add_argument("--nhop", type=positive_int, default=1024)
    m.add_argument("--bandwidth", type=positive_float, default=16000, help="Hz; bins above are not fed to the network")
    m.add_argument("--nb-channels", type=number(int, 1, 2), default=2, help="1 for mono models, 2 for stereo")
    m.add_argument("--sample-rate", type=number(float, 1000, 768000), default=44100.0, help="audio at other rates is resampled")
    m.add_argument("--hidden-size", type=number(int, 2), default=512)
    m.add_argument("--nb-layers", type=positive_int, default=3)
    m.add_argument("--unidirectional", action="store_true")

    d = p.add_argument_group("dataset options")
    d.add_argument("--is-wav", action="store_true", help="musdb: decoded wav layout instead of .stem.mp4")
    d.add_argument("--subset", default=None, help="musdb: subset holding train and valid tracks (default: train)")
    d.add_argument("--valid-tracks", nargs="+", default=None, metavar="NAME",
                   help="musdb: validation track names (default: ROOT/valid_tracks.txt, else musdb's split)")
    d.add_argument("--random-track-mix", action="store_true", help="mix sources from random tracks")
    d.add_argument("--source-augmentations", nargs="*", default=None, metavar="AUG",
                   help="per-source augmentations (default: gain channelswap)")
    d.add_argument("--input-file", default=None, help="aligned: mixture file name")
    d.add_argument("--output-file", default=None, help="aligned: target file name")
    d.add_argument("--interferences", nargs="+", default=None, help="unaligned: interference folders")
    d.add_argument("--target-file", default=None, help="trackfolder_*: target file name")
    d.add_argument("--interferer-files", nargs="+", default=None, help="trackfolder_fix: interferer file names")
    d.add_argument("--ext", default=None, help="unaligned/trackfolder_var: audio file extension")
    d.add_argument("--silence-missing", action="store_true", help="trackfolder_var: a missing target is silence")
    d.add_argument("--short-tracks", choices=["pad", "skip"], default=None,
                   help="tracks shorter than an excerpt: zero-pad (default) or skip")
    a = p.parse_args(argv)
    # each flag's own range is checked by its type; here, what depends on two flags
    if a.nhop > a.nfft:
        p.error(f"argument --nhop: {a.nhop} is larger than --nfft {a.nfft}")
    if not a.unidirectional and a.hidden_size % 2:
        p.error(f"argument --hidden-size: a bidirectional model needs an even size, got {a.hidden_size}")
    options = {
        "is_wav": a.is_wav, "subset": a.subset, "valid_tracks": a.valid_tracks,
        "random_track_mix": a.random_track_mix or None, "source_augmentations": a.source_augmentations,
        "input_file": a.input_file, "output_file": a.output_file, "interferences": a.interferences,
        "target_file": a.target_file, "interferer_files": a.interferer_files, "ext": a.ext,
        "silence_missing_targets": a.silence_missing or None, "short_tracks": a.short_tracks,
    }
    return TrainConfig(
        root=a.root, output=a.output, dataset=a.dataset, target=a.target, epochs=a.epochs,
        patience=a.patience, batch_size=a.batch_size, seq_dur=a.seq_dur, lr=a.lr,
        weight_decay=a.weight_decay, lr_decay_patience=a.lr_decay_patience,
        lr_decay_gamma=a.lr_decay_gamma, seed=a.seed, nfft=a.nfft, nhop=a.nhop,
        bandwidth=a.bandwidth, nb_channels=a.nb_channels, sample_rate=a.sample_rate,
        hidden_size=a.hidden_size, nb_layers=a.nb_layers, unidirectional=a.unidirectional,
        samples_per_track=a.samples_per_track, nb_workers=a.nb_workers,
        valid_chunk_dur=a.valid_chunk_dur, checkpoint=a.checkpoint, model=a.model,
        no_cuda=a.no_cuda, amp=a.amp, quiet=a.quiet,
        dataset_options={k: v for k, v in options.items() if v is not None},
        architecture=a.architecture, mcoef=a.mcoef, combination=not a.no_combination,
    )


if __name__ == "__main__":
    sys.exit(train(parse_args()))
