"""`lstmkit run EXPERIMENT --nproc N`: the run started in N processes by PyTorch's own launcher
(torch.distributed.run, the code behind `torchrun`), and what each of those processes sets up first.

`launch` is `torchrun --standalone --nproc-per-node N --max-restarts K -m lstmkit run EXPERIMENT ...`
called through torch.distributed.run's API: a c10d rendezvous on this machine at a free port, the
elastic agent watching the workers, gloo on the CPU (NCCL with a GPU per process). A worker that dies
makes the agent stop the group and start it again, up to K times; `lstmkit run` then resumes from the
run folder's last checkpoint (lstmkit.experiments.base).

Threads: torchrun gives every worker OMP_NUM_THREADS=1 when the user set none; `launch` sets it to
max(1, cores // N) instead (so 2 processes on 16 cores take 8 threads each), and keeps the user's.
`worker` applies it with torch.set_num_threads and silences the standard output of ranks other than 0.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch

from lstmkit.train import distributed


def launch(argv: list[str], nproc: int, max_restarts: int = 0) -> int:
    """Run `python -m lstmkit *argv` in `nproc` processes on this machine under torch.distributed.run; the
    exit status of the run (that of the first worker that failed on the last attempt)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    if nproc < 1:
        raise ValueError(f"--nproc is the number of processes to train in, at least 1; got {nproc}")
    if max_restarts < 0:
        raise ValueError(f"--max-restarts is how often torchrun may restart the group, at least 0; got {max_restarts}")
    if distributed.launched_by_torchrun():
        raise ValueError("--nproc starts torchrun itself, and this process already runs under torchrun "
                         f"(RANK={os.environ.get('RANK')}): give either --nproc or torchrun, not both")
    if not os.environ.get("OMP_NUM_THREADS", "").strip():  # else torchrun would give each worker 1 thread
        os.environ["OMP_NUM_THREADS"] = str(distributed.threads_per_process(nproc))
    torchrun_argv = ["--standalone", "--nproc-per-node", str(nproc), "--max-restarts", str(max_restarts),
                     "--module", "lstmkit", *argv]
    args = parse_args(torchrun_argv)  # type: ignore[no-untyped-call]  # torch leaves it unannotated
    try:
        torchrun(args)  # type: ignore[no-untyped-call]  # what the torchrun command does with these arguments
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        code = failure.exitcode
        status = code if code > 0 else 128 - code  # -9 (SIGKILL) as a shell reports it: 137
        print(f"lstmkit: rank {rank} of {nproc} ended with status {status} after {max_restarts} restart(s) allowed; "
              "its own message is above", file=sys.stderr)
        return status
    return 0


@contextlib.contextmanager
def worker() -> Iterator[None]:
    """Around `lstmkit run` in a process torchrun started: the threads rule, only rank 0 prints, and the
    process group closed at the end. Outside torchrun: nothing."""
    if not distributed.launched_by_torchrun():
        yield
        return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    torch.set_num_threads(distributed.threads_per_process(local))
    quiet = os.environ.get("RANK", "0") != "0"
    stdout = sys.stdout
    with open(os.devnull, "w") if quiet else contextlib.nullcontext(stdout) as out:
        sys.stdout = out
        try:
            yield
        finally:
            sys.stdout = stdout
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
