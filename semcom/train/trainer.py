"""`semcom train`'s loop: data, steps, validation and checkpoints (its options: ``semcom.train.options``)."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from receiver.segmentation import class_balance_weights
from semcom.baselines.learned import BaselineSystem, task_of
from semcom.data import ImageFolder, Kodak, segmentation_dataset
from semcom.eval.quality import reconstruction_quality, segmentation_quality
from semcom.pipeline import chain_runner
from semcom.train.ema import WeightEMA
from semcom.train.optim import load_optimizer, lr_at, save_optimizer
from semcom.train.options import JOINT, TrainConfig, enet_constant, fading_specs, parse
from semcom.train.surgery import freeze, grow, load_partial, reinit, under
from semcom.train.system import System
from shared import tasks
from shared.backbone import load_imagenet
from shared.channel import Channel, ChannelSpec
from shared.config import ModelConfig, get_preset
from shared.devices import pick_device
from shared.layers import pad_to_multiple
from shared.metrics import ConfusionMatrix
from shared.provenance import git_commit
from shared.tasks import TaskBatch
from shared.weights import CONFIG_FILE, load_modules, read_config, save_checkpoint, starting_pca

RAW_DIR = "raw"  # with --ema: the raw weights beside the averaged checkpoint, for --resume


def clock() -> float:
    """The training clock (seconds); tests replace this one function, not the process's time.time."""
    return time.time()


def _infinite(loader: DataLoader, sampler: DistributedSampler | None, start_epoch: int = 0):
    """The loader's batches, epoch after epoch; each epoch tells the sampler (its order) and the dataset (its
    crops and flips) which epoch it is, so no epoch repeats another's augmentation."""
    for epoch in itertools.count(start_epoch):
        if sampler is not None:
            sampler.set_epoch(epoch)
        if hasattr(loader.dataset, "set_epoch"):
            loader.dataset.set_epoch(epoch)
        yield from loader


class StopRequest:
    """SIGINT or SIGTERM during a run: the step in progress finishes, a checkpoint is saved and the run exits
    128 + the signal's number, so `--resume` loses nothing and a script does not take the run for finished.
    A second signal stops at once. Only in the main thread of a single process (DDP ranks keep the default)."""

    def __init__(self, enabled: bool = True):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def _handle(self, signum, _frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> "StopRequest":
        if self.enabled:
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *_exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


class Trainer:
    def __init__(self, tc: TrainConfig) -> None:
        self.tc = tc
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if self.distributed:
            backend = tc.dist_backend
            if backend == "auto":
                backend = "nccl" if torch.cuda.is_available() and tc.device != "cpu" else "gloo"
            dist.init_process_group(backend)
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
        else:
            self.rank, self.world = 0, 1
        self.device = pick_device(tc.device or "auto")
        if self.device.type == "cuda":
            if self.device.index is None:  # a CUDA generator needs an explicit index: one GPU per local
                # rank; ranks beyond the GPU count share GPUs (only gloo allows that, NCCL needs one each)
                local = int(os.environ.get("LOCAL_RANK", "0"))
                self.device = torch.device("cuda", local % torch.cuda.device_count())
            torch.cuda.set_device(self.device)
        seed = tc.seed * 1000 + self.rank
        torch.manual_seed(seed)
        random.seed(seed)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.awgn = Channel("awgn")
        self.fading = [Channel.of(spec) for spec in fading_specs(tc)]
        self.out = Path(tc.out)
        # the tasks the run trains: "joint", every task of the table (one transmitter serves them all)
        self.tasks: tuple[str, ...] = tasks.names() if tc.task == JOINT else (tasks.get(tc.task).name,)

        resume_from = self.out if tc.resume and (self.out / "train_state.json").exists() else None
        if tc.system != "proposed":
            self._init_baseline(tc, resume_from)
        else:
            self._init_proposed(tc, resume_from)
        self.opt = torch.optim.AdamW(self._param_groups(), lr=tc.lr, betas=tc.betas, weight_decay=tc.weight_decay)
        self.step = 0
        self.time_progress = 0.0
        self.seconds_before = 0.0  # training seconds of the runs this one resumes
        self.history: list[dict] = []
        ema_updates = 0
        if resume_from is not None:
            load_optimizer(resume_from, self.opt)
            state = json.loads((resume_from / "train_state.json").read_text())
            self.step, self.history = state["step"], state.get("history", [])
            self.seconds_before = float(state.get("train_seconds", 0.0))
            ema_updates = state.get("ema_updates", 0)
        # with --ema the model now holds the average (a checkpoint's model.safetensors); on --resume the
        # optimisation continues from the raw weights saved beside it
        self.ema = WeightEMA(self.system, tc.ema, ema_updates) if tc.ema else None
        if self.ema is not None and resume_from is not None and (resume_from / RAW_DIR / CONFIG_FILE).exists():
            load_modules(resume_from / RAW_DIR, self._modules())
        self.model: torch.nn.Module = self.system
        if self.distributed:
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.system, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                # a task left out, or one sent with the DCT code (no learned transmitter path), leaves parameters
                # without a gradient
                find_unused_parameters=(len(self.tasks) < len(tasks.names())
                                        or any(t in self.cfg.encoder.dct_tasks for t in self.tasks)))
        self._build_data()

    def _modules(self) -> dict[str, torch.nn.Module]:
        """What a checkpoint of this run holds, by name (shared.weights' format)."""
        if self.tc.system != "proposed":
            return {"model": self.system.model}
        return {"transmitter": self.system.transmitter, "receiver": self.system.receiver}

    def _param_groups(self) -> list[dict]:
        """The linear analog code (its projection, LMMSE priors and synthesis) moves at `linear_lr_scale` of the
        learning rate and without weight decay: Adam's per-weight steps of the full rate would scramble the
        fitted basis in a few steps, and decay would shrink it; a pretrained segmentation backbone moves at
        `backbone_lr_scale`; the networks around them take the full rate."""
        linear, backbone, rest = [], [], []
        for name, p in self.system.named_parameters():
            if p.requires_grad:
                (linear if ".analog." in f".{name}" else
                 backbone if ".segmentation.backbone." in f".{name}" else rest).append(p)
        groups = [{"params": rest, "lr_scale": 1.0}]
        if linear:
            groups.append({"params": linear, "lr_scale": self.tc.linear_lr_scale, "weight_decay": 0.0})
        if backbone:  # pretrained: fine-tuned at a fraction of the rate
            groups.append({"params": backbone, "lr_scale": self.tc.backbone_lr_scale})
        return groups

    def _init_baseline(self, tc: TrainConfig, resume_from: Path | None) -> None:
        if tc.task != task_of(tc.system):
            raise SystemExit(f"semcom train: baseline {tc.system} is a {task_of(tc.system)} system: "
                             f"use --task {task_of(tc.system)}")
        self.cfg = get_preset(tc.preset)
        src = resume_from or tc.init
        seg = self.cfg.seg
        self.system = (BaselineSystem.load(src) if src else
                       BaselineSystem(tc.system, tc.cbr or "1/16", num_classes=seg.num_classes,
                                      ignore_index=seg.ignore_index)).to(self.device)

    def _init_proposed(self, tc: TrainConfig, resume_from: Path | None) -> None:
        if resume_from is not None:
            cfg, _ = read_config(resume_from)
        elif tc.init:
            cfg, _ = read_config(tc.init)
        else:
            cfg = get_preset(tc.preset)
            if tc.cbr:
                cfg = cfg.replace(**{"encoder.cbr": tc.cbr})
        cfg, added, dropped, grown = grow(cfg, tc, resuming=resume_from is not None)
        self.cfg: ModelConfig = cfg
        fresh = resume_from is None and not tc.init  # --init-partial still starts the linear path from the fit
        pca = starting_pca(cfg, tc.pca) if fresh else None
        if fresh and pca is None:
            raise SystemExit(f"semcom train: the linear path of preset {cfg.name} starts from a patch PCA of "
                             f"{cfg.encoder.stride}x{cfg.encoder.stride} patches; none at {tc.pca or 'weights/linear'} "
                             "(fit one: python -m semcom.baselines.linear --data PHOTOS)")
        self.system = System(cfg, pca).to(self.device)
        # a pretrained backbone starts from ImageNet wherever it starts afresh: in a new model (a partial
        # checkpoint may then give its own), when this run adds it to a checkpoint, or when --reinit covers it
        imagenet = bool(cfg.seg.backbone) and resume_from is None and not tc.init
        if imagenet:
            self._imagenet(cfg)
        if resume_from is not None or tc.init:
            load_modules(resume_from or tc.init, self._modules(), new=added, left_out=dropped)
            for i in grown:  # appended blocks start as the identity: the first step is the checkpoint's model
                self.system.receiver.reconstruction.synthesis.blocks[i].start_as_identity()
        elif tc.init_partial:
            taken, total, values, all_values = load_partial(self.system, tc.init_partial)
            if self.rank == 0:
                print(f"--init-partial {tc.init_partial}: {taken} of {total} tensors taken "
                      f"({values} of {all_values} values)", file=sys.stderr)
        if tc.reinit:
            if resume_from is not None or not tc.init:
                raise SystemExit("semcom train: --reinit starts parts of an --init checkpoint afresh (not with "
                                 "--resume, whose run already did)")
            reinit(self.system, cfg, tc.reinit, tc.seed)
        backbone = "receiver.segmentation.backbone"
        if not imagenet and (backbone in added or cfg.seg.backbone and any(under(backbone, p) for p in tc.reinit)):
            self._imagenet(cfg)  # after any --reinit
        freeze(self.system, ("transmitter",) * tc.freeze_transmitter + tuple(tc.freeze))

    def _imagenet(self, cfg: ModelConfig) -> None:
        n = load_imagenet(self.system.receiver.segmentation.backbone, cfg.seg.backbone)
        if self.rank == 0:
            print(f"segmentation backbone {cfg.seg.backbone}: {n} tensors from ImageNet", file=sys.stderr)

    def _loader(self, ds) -> tuple[DataLoader, DistributedSampler | None]:
        sampler = DistributedSampler(ds, seed=self.tc.seed) if self.distributed else None
        # not persistent: workers take a fresh copy of the dataset each epoch, with that epoch's number
        loader = DataLoader(ds, batch_size=self.tc.batch, shuffle=sampler is None, sampler=sampler,
                            num_workers=self.tc.workers, drop_last=True)
        return loader, sampler

    def _build_data(self) -> None:
        """Each trained task's training stream and validation set: a labelled task's from --seg-data (its
        split, with its classes' loss weights), an image task's from --data (validated on --val-data)."""
        tc = self.tc
        self.train_iters: dict = {}
        self.class_weights: dict[str, torch.Tensor] = {}
        self.val_sets: dict = {}
        for task in self.tasks:
            if not tasks.get(task).labelled:
                if not tc.rec_data:
                    raise SystemExit(f"semcom train: --data (images for {task}) is required for this task")
                self.train_iters[task] = _infinite(*self._loader(ImageFolder(list(tc.rec_data), tc.crop)),
                                                   self.step)
                self.val_sets[task] = Kodak(tc.val_rec) if tc.val_rec else None
                continue
            if not tc.seg_data:
                raise SystemExit(f"semcom train: --seg-data (CamVid or VOC root) is required for {task}")
            seg = segmentation_dataset(tc.seg_data, tc.seg_split, tc.crop, train=True)
            seg.strong = tc.seg_augment == "strong"
            seg.scale = tc.seg_scale
            seg.paste = tc.seg_paste
            if seg.num_classes != self.cfg.seg.num_classes or seg.ignore_index != self.cfg.seg.ignore_index:
                raise SystemExit(f"semcom train: {tc.seg_data} has {seg.num_classes} classes (void "
                                 f"{seg.ignore_index}) but preset {self.cfg.name} expects "
                                 f"{self.cfg.seg.num_classes} (void {self.cfg.seg.ignore_index})")
            self.train_iters[task] = _infinite(*self._loader(seg), self.step)
            c = enet_constant(tc.seg_class_weights)
            if c is not None:
                weights = class_balance_weights(seg.class_pixel_counts(), c).to(self.device)
                self.class_weights[task] = weights
                if self.rank == 0:
                    print(f"{task} class weights (ENet's 1 / ln({c:g} + share), from the training labels): "
                          + " ".join(f"{n} {w:.2f}" for n, w in zip(self.cfg.seg.class_names, weights.tolist())),
                          file=sys.stderr)
            self.val_sets[task] = segmentation_dataset(tc.seg_data, tc.seg_val_split, train=False)

    def _snr(self) -> torch.Tensor:
        lo, hi = self.tc.snr_range
        return lo + (hi - lo) * torch.rand(self.tc.batch, generator=self.generator, device=self.device)

    def next_batch(self) -> dict[str, TaskBatch]:
        """The next training batch of each task the run trains, each sample at its own random SNR."""
        batch: dict[str, TaskBatch] = {}
        for task, stream in self.train_iters.items():
            if tasks.get(task).labelled:
                img, lab = next(stream)
                batch[task] = TaskBatch(img.to(self.device), self._snr(), lab.to(self.device),
                                        self.class_weights.get(task), self.tc.seg_weight)
            else:
                img = pad_to_multiple(next(stream).to(self.device), self.cfg.encoder.stride)[0]
                batch[task] = TaskBatch(img, self._snr())
        return batch

    def _stat_name(self, task: str, metric: str) -> str:
        """A metric's name in the progress and the history: the task's name before it only when another task of
        the run has the same metric."""
        shared = sum(tasks.get(t).metric == metric for t in self.tasks) > 1
        return f"{task}_{metric}" if shared else metric

    def train_step(self) -> dict[str, float]:
        tc = self.tc
        batch = self.next_batch()
        channel = self.awgn
        if torch.rand(1, generator=self.generator, device=self.device).item() < tc.fading_prob:
            pick = 0  # one draw more only for a mix, so that a run on one fading channel keeps its noise
            if len(self.fading) > 1:
                pick = int(torch.randint(len(self.fading), (1,), generator=self.generator, device=self.device))
            channel = self.fading[pick]
        for g in self.opt.param_groups:
            g["lr"] = lr_at(self.step, tc, self.time_progress) * g.get("lr_scale", 1.0)
        self.model.train()
        out = self.model(batch, channel=channel,
                         csi=True, generator=self.generator)
        self.opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.system.parameters(), 1.0)
        self.opt.step()
        if self.ema is not None:
            self.ema.update()
        self.step += 1
        stats = {"loss": float(out["loss"].detach())}
        for task, part in batch.items():
            res = out[task]
            name = self._stat_name(task, tasks.get(task).metric)
            if len(batch) > 1:
                stats[f"{task}_loss"] = float(res["loss"].detach())
            if tasks.get(task).labelled:
                cm = ConfusionMatrix(self.cfg.seg.num_classes, self.cfg.seg.ignore_index)
                cm.update(res["logits"].detach().argmax(1), part.labels)
                stats[name] = cm.miou()
            else:
                mse = float(F.mse_loss(res["image"].detach(), part.images))
                stats[name] = 10 * math.log10(1.0 / max(mse, 1e-10))
            stats.update({k: float(v.detach()) for k, v in res.items() if k != "loss" and v.ndim == 0})
        return stats

    def _runner(self, task: str):
        """The run's system for one task as the evaluation loop calls it: (image, ChannelSpec, seed) -> output."""
        if self.tc.system == "proposed":
            return chain_runner(self.system.transmitter, self.system.receiver, task)
        if not tasks.get(task).labelled:
            return self.system.reconstruct
        if self.tc.system == "fcn":  # on clean frames: the FCN alone
            return lambda img, _spec, _seed: self.system.segment_image(img)  # noqa: E731
        return self.system.segment

    def validate(self) -> dict[str, float]:
        """Each task's quality at 10 dB AWGN on --val-images of its validation set."""
        self.system.eval()
        res: dict[str, float] = {"step": self.step}
        n = self.tc.val_images
        spec = ChannelSpec("awgn", 10.0)
        for task, val in self.val_sets.items():
            if val is None:
                continue
            run = self._runner(task)
            name = self._stat_name(task, tasks.get(task).metric)
            if tasks.get(task).labelled:
                picked = (val[i] for i in range(0, len(val), max(1, len(val) // n)))
                q = segmentation_quality(run, picked, spec, self.cfg.seg.num_classes, self.cfg.seg.ignore_index)
                res[f"val_{name}_10db"] = q["miou"]
            else:
                q = reconstruction_quality(run, (val[i] for i in range(min(n, len(val)))), spec)
                res[f"val_{name}_10db"] = sum(q["psnr"]) / len(q["psnr"])
        return res

    def save(self, started: float) -> None:
        if self.rank != 0:
            return
        meta = {"task": self.tc.task, "steps": self.step,
                "train_data": {t: self.tc.seg_data if tasks.get(t).labelled else list(self.tc.rec_data)
                               for t in self.tasks},
                "cbr": self.cfg.encoder.cbr, "classes": list(self.cfg.seg.class_names),
                "git_commit": git_commit(), "train_seconds_this_run": round(clock() - started, 1),
                "command": "semcom train " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train"] else sys.argv[1:])}
        if self.ema is None:
            self._save_model(self.out, meta)
        else:
            ema = {"decay": self.ema.decay, "updates": self.ema.updates}
            self._save_model(self.out / RAW_DIR, {**meta, "ema": {**ema, "weights": "raw"}})  # --resume's start
            with self.ema.swapped():
                self._save_model(self.out, {**meta, "ema": {**ema, "weights": "average"}})
        save_optimizer(self.out, self.opt)
        state = {"step": self.step, "history": self.history,
                 "train_seconds": round(self.seconds_before + clock() - started, 1)}
        if self.ema is not None:
            state["ema_updates"] = self.ema.updates
        (self.out / "train_state.json").write_text(json.dumps(state, indent=1))

    def _save_model(self, directory: Path, meta: dict) -> None:
        if self.tc.system != "proposed":
            self.system.save(directory, meta)
        else:
            save_checkpoint(directory, self.cfg, self._modules(), meta)

    def _validate_and_log(self, running: dict[str, float], started: float, bar) -> None:
        if self.rank != 0:
            return
        if self.ema is None:
            val = self.validate()
        else:
            with self.ema.swapped():  # the weights a checkpoint holds
                val = self.validate()
        val.update({f"train_{k}": round(v, 4) for k, v in running.items()}, elapsed_s=round(clock() - started, 1))
        self.history.append(val)
        bar.write(json.dumps(val))

    def _time_progress(self, started: float) -> float:
        """Share of --time-limit (this run) or --time-budget (all runs) used; every rank takes rank 0's clock so
        all stop at the same step."""
        if self.tc.time_budget is not None:
            used = (self.seconds_before + clock() - started) / self.tc.time_budget
        else:
            used = (clock() - started) / self.tc.time_limit
        progress = torch.tensor([used], dtype=torch.float64)
        if self.distributed:
            if dist.get_backend() == "nccl":
                progress = progress.to(self.device)
            dist.broadcast(progress, src=0)
        return float(progress.item())

    def run(self) -> int:
        from tqdm import tqdm

        tc = self.tc
        started = clock()
        bar = tqdm(total=tc.steps, initial=self.step, disable=self.rank != 0, dynamic_ncols=True,
                   desc=f"train {tc.system if tc.system != 'proposed' else tc.task} [{self.cfg.name}]")
        running: dict[str, float] = {}
        with StopRequest(enabled=not self.distributed) as stop:
            code = self._loop(started, bar, running, stop)
        bar.close()
        if self.distributed:
            dist.barrier()
            dist.destroy_process_group()
        return code

    def _loop(self, started: float, bar, running: dict[str, float], stop: StopRequest) -> int:
        tc = self.tc
        while self.step < tc.steps:
            if tc.time_limit is not None or tc.time_budget is not None:
                self.time_progress = self._time_progress(started)
                if self.time_progress >= 1.0:
                    limit = (f"time limit of {tc.time_limit:g} s" if tc.time_budget is None
                             else f"time budget of {tc.time_budget:g} s")
                    bar.write(f"{limit} reached at step {self.step}")
                    self._validate_and_log(running, started, bar)
                    self.save(started)
                    break
            if stop.signum is not None:
                self.save(started)
                bar.write(f"{signal.Signals(stop.signum).name}: checkpoint saved at step {self.step} in "
                          f"{self.out}; --resume continues from it")
                return 128 + stop.signum
            stats = self.train_step()
            for k, v in stats.items():
                if v == v:  # skip NaN mIoU of an empty batch
                    running[k] = v if k not in running else 0.95 * running[k] + 0.05 * v
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in running.items()})
            if self.step % tc.val_every == 0 or self.step == tc.steps:
                self._validate_and_log(running, started, bar)
            if self.step % tc.ckpt_every == 0 or self.step == tc.steps:
                self.save(started)
        return 0


def run(tc: TrainConfig) -> int:
    return Trainer(tc).run()


def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
