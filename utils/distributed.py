"""Data-parallel training on several processes: torch ``DistributedDataParallel`` (DDP), launched by ``torchrun``.

    torchrun --standalone --nproc_per_node 2 -m utils.train --data my.json --out checkpoints/my   # 2 CPU processes
    torchrun --standalone --nproc_per_node 4 -m utils.train --out checkpoints/ddp --resume        # 4 GPUs

Nothing changes for a plain ``python -m utils.train``: `current()` then returns a single-process `Context` and
`utils.train.train` runs its usual loop. Under ``torchrun`` (it sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT), `init_from_env` joins the process group (NCCL when CUDA is there, one GPU per process; gloo on CPU)
and the training loop:

* splits each global batch of ``--batch-size`` B over the W processes: a ``DistributedSampler`` with the run's
  seed shuffles the training set the same way in every process (``randperm`` seeded with seed + epoch) and gives
  process r the positions r, r + W, r + 2W, … of that order; each takes B / W of them per step. Global step k
  thus holds positions kB … (k+1)B − 1 of the epoch's order, as one process with batch B and the same sampler;
* averages the gradients over processes (DDP's all-reduce). Every process holds the same number of samples
  (the sampler pads with repeats when W does not divide the set), so the average of the W per-process mean
  losses' gradients is the gradient of the global batch's mean loss: the same update as one process, up to
  float rounding;
* sums training and validation losses over processes; writes checkpoints and ``state.pt`` on rank 0 only;
  follows rank 0's wall-clock stop decision, so no process waits for one that already left.

Resume (``--resume``): every process reads rank 0's ``state.pt``; the sampler's order depends only on seed and
epoch, so a resumed run continues exactly as an uninterrupted one. With ``torchrun --max-restarts N`` a crashed
process restarts the whole group from there.
"""
from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class Context:
    """Where this process stands: rank r of world_size W, on `device`. W = 1 and not `active` without torchrun."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    active: bool = False

    @property
    def is_writer(self) -> bool:
        """Rank 0 alone writes files (checkpoints, state, printed results)."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True inside a process started by ``torchrun`` (or any launcher that sets RANK/LOCAL_RANK/WORLD_SIZE)."""
    return all(k in os.environ for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))


def init_from_env(backend: str | None = None) -> Context:
    """Join the process group described by torchrun's environment variables; a no-op `Context` without them.

    backend: "nccl" (default when CUDA is available; process LOCAL_RANK uses GPU LOCAL_RANK) or "gloo" (CPU).
    """
    if not launched_by_torchrun():
        return Context()
    local_rank = int(os.environ["LOCAL_RANK"])
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPU(s): start torchrun "
                               "with --nproc_per_node ≤ the number of GPUs")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        kw = dict(device_id=torch.device("cuda", local_rank)) if backend == "nccl" else {}
        dist.init_process_group(backend=backend, init_method="env://", **kw)
    return current()


def current() -> Context:
    """The running process group as a `Context` (single-process when none was initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
    return Context(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, device=device,
                   active=True)


def shutdown() -> None:
    """Leave the process group (after the last collective call)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def train_loader(graphs, global_batch_size: int, seed: int, ctx: Context):
    """This process's ``DataLoader``: B / W graphs a step from a ``DistributedSampler`` seeded with `seed`."""
    from torch.utils.data.distributed import DistributedSampler
    from torch_geometric.loader import DataLoader

    if global_batch_size % ctx.world_size:
        raise ValueError(f"--batch-size {global_batch_size} is the global batch and must be a multiple of the "
                         f"{ctx.world_size} processes (each takes an equal share): use e.g. "
                         f"{ctx.world_size * max(1, round(global_batch_size / ctx.world_size))}")
    sampler = DistributedSampler(graphs, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed,
                                 drop_last=False)
    return DataLoader(graphs, batch_size=global_batch_size // ctx.world_size, sampler=sampler)


def set_epoch(loader, epoch: int) -> None:
    """Reshuffle a distributed loader for `epoch` (order = randperm seeded with seed + epoch); others: no-op."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def wrap(model, ctx: Context):
    """`model` on this process's device inside ``DistributedDataParallel``; the model itself when not active."""
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel
    model.to(ctx.device)
    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def shard(items: list, ctx: Context) -> list:
    """Every W-th item from rank r (no padding): this process's share of an evaluation set."""
    return items[ctx.rank::ctx.world_size] if ctx.active else items


def sum_over_ranks(ctx: Context, *values: float) -> tuple[float, ...]:
    """Σ over processes of each value (float64 all-reduce); the values unchanged when not active."""
    if not ctx.active:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return tuple(t.tolist())


def rank0_decides(ctx: Context, flag: bool) -> bool:
    """Rank 0's `flag` in every process (e.g. a wall-clock stop), so that all leave a loop together."""
    if not ctx.active:
        return flag
    t = torch.tensor([int(flag)], device=ctx.device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def mean_over_ranks(ctx: Context, mean: float, n: int) -> float:
    """The mean over all processes of per-process means over `n` items each; `mean` unchanged when not active."""
    if not ctx.active:
        return mean
    total, count = sum_over_ranks(ctx, mean * n, n)
    return total / max(count, 1)
