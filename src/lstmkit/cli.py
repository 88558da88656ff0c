"""The `lstmkit` command: parses arguments into an experiment's config, and nothing else.

    lstmkit run EXPERIMENT [--model M] [--epochs N] [--batch-size N] [--limit N] [--device cpu|cuda|auto]
                           [--backend B] [--seed S] [--out DIR] [--nproc N [--max-restarts K]] [experiment options]
    lstmkit data list | fetch NAME | verify
    lstmkit inspect gates --run DIR --text "..." --out FILE.png
    lstmkit inspect gradients --out FILE.png
    lstmkit inspect explore --run DIR [--texts FILE] [--samples N] --out page.html | serve --run DIR
    lstmkit export --run DIR --format onnx [--out PATH]
    lstmkit bench [--kinds lstm,gru,simple_rnn] [--shapes B,T,I,H;...] [--dtype D] [--device D] [--backend B]
    lstmkit --version

An error in what was asked (bad options, a missing or damaged file) prints one line on stderr and exits
with status 2; `--debug` (before or after the command) shows the traceback instead. A run stopped by
Ctrl-C or SIGTERM exits with 130 or 143 after saying how to resume it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from lstmkit import __version__
from lstmkit.errors import LstmkitError, RunInterrupted
from lstmkit.experiments import EXPERIMENTS, experiment_config, experiment_doc, get_experiment


def _field_type(tp: Any) -> Any:
    """The argparse type of a dataclass field annotation (`int | None` -> int)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if args else str
    return tp


def _add_config_options(parser: argparse.ArgumentParser, config_cls: type) -> None:
    hints = typing.get_type_hints(config_cls)  # the annotations as types, not strings
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        tp = _field_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "") + f" (default: {default})"
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif typing.get_origin(tp) in (list, tuple):
            (item,) = typing.get_args(tp)[:1]
            parser.add_argument(flag, dest=f.name, type=item, nargs="+", default=None, help=help_text)
        else:
            choices = f.metadata.get("choices")
            parser.add_argument(flag, dest=f.name, type=tp, default=None, choices=choices, help=help_text)


def _run(argv: Sequence[str]) -> int:
    if not argv or argv[0].startswith("-"):
        asked = list(argv) in (["-h"], ["--help"])  # asked for help: stdout and success; else a usage error
        print(f"usage: lstmkit run EXPERIMENT [options]; experiments: {', '.join(sorted(EXPERIMENTS))}; "
              "lstmkit run EXPERIMENT --help lists its options", file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    name, rest = argv[0], argv[1:]
    config_cls = experiment_config(name)  # torch-free: the help answers at once
    parser = argparse.ArgumentParser(prog=f"lstmkit run {name}", description=experiment_doc(name),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_options(parser, config_cls)
    group = parser.add_argument_group("processes (torchrun: docs/scaling.md)")
    group.add_argument("--nproc", type=int, default=None, help="train data-parallel in N processes on this machine, "
                       "started by torchrun (torch.distributed.run); --batch-size stays the global batch")
    group.add_argument("--max-restarts", type=int, default=None, help="with --nproc: how often torchrun may restart "
                       "the group when a process dies; the run resumes from its last finished epoch (default: 0)")
    args = parser.parse_args(rest)
    given = {k: v for k, v in vars(args).items() if v is not None}
    nproc, max_restarts = given.pop("nproc", None), given.pop("max_restarts", None)
    config = config_cls(**given)
    from lstmkit.experiments.base import check_data_parallel
    from lstmkit.train import launch

    if nproc is None and max_restarts is not None:
        raise ValueError(f"--max-restarts {max_restarts} needs --nproc N (the processes torchrun restarts)")
    if nproc is not None:
        if nproc < 1:
            raise ValueError(f"--nproc is the number of processes to train in, at least 1; got {nproc}")
        check_data_parallel(config, nproc)  # before any process starts
        return launch.launch(["run", name, *_without(rest, ("--nproc", "--max-restarts"))], nproc, max_restarts or 0)
    with launch.worker():  # under torchrun: threads per process, rank 0 alone prints; else nothing
        get_experiment(name).run(config)
    return 0


def _without(argv: Sequence[str], options: tuple[str, ...]) -> list[str]:
    """`argv` less the given options and their values (`--opt V` or `--opt=V`)."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in options:
            skip = True
        elif not a.startswith(tuple(o + "=" for o in options)):
            kept.append(a)
    return kept


def _data(argv: Sequence[str]) -> int:
    from lstmkit import data

    parser = argparse.ArgumentParser(prog="lstmkit data")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the known data files and where each is found")
    fetch = sub.add_parser("fetch", help="download a data file into the cache")
    fetch.add_argument("name")
    sub.add_parser("verify", help="check every present file against its pinned sha256")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        return data.cli_list()
    if args.cmd == "fetch":
        return data.cli_fetch(args.name)
    return data.cli_verify()


def _inspect(argv: Sequence[str]) -> int:
    from lstmkit.insight import cli as insight_cli

    return insight_cli.main(argv)


def _bench(argv: Sequence[str]) -> int:
    from lstmkit import bench

    parser = argparse.ArgumentParser(prog="lstmkit bench", description=(bench.__doc__ or "").strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(bench.KINDS), help="comma-separated, from lstm,gru,simple_rnn")
    parser.add_argument("--shapes", default=";".join(",".join(map(str, s)) for s in bench.DEFAULT_SHAPES),
                        help="B,T,I,H;B,T,I,H;... (default: the classic IMDB shape at hidden 32, 128, 256)")
    parser.add_argument("--dtype", default="float32", choices=sorted(bench.DTYPES))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--backend", default="auto", help="the lstmkit backend (default: what auto picks)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats; the median is reported")
    parser.add_argument("--json", default=None, help="also write the results and the machine to this file")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bench.main(kinds, bench.parse_shapes(args.shapes), args.dtype, args.device, args.backend, args.repeats,
               args.json)
    return 0


def _export(argv: Sequence[str]) -> int:
    from lstmkit.export import run as export_run

    parser = argparse.ArgumentParser(prog="lstmkit export", description=(export_run.__doc__ or "").strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="the run folder (the --out of `lstmkit run`)")
    parser.add_argument("--format", default="onnx", choices=export_run.FORMATS)
    parser.add_argument("--out", default=None, help="the file to write (default: RUN/model.onnx)")
    args = parser.parse_args(argv)
    path = export_run.export_run(args.run, args.format, args.out)
    print(f"wrote {path}")
    return 0


COMMANDS = {"run": _run, "data": _data, "inspect": _inspect, "bench": _bench, "export": _export}


def _one_line(e: BaseException) -> str:
    """The message of `e` on one line: its lines joined (a traceback-free report is one line)."""
    return " ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """`argv` without the `--debug` flags given before any `--`, and whether there was one."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return kept, len(kept) != len(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv, debug = _take_debug(list(sys.argv[1:] if argv is None else argv))
    if argv in (["--version"], ["-V"]):
        print(f"lstmkit {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except RunInterrupted as e:  # its message says what was kept and how to resume
        if debug:
            raise
        print(f"lstmkit: {_one_line(e)}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        if debug:
            raise
        print("lstmkit: interrupted", file=sys.stderr)
        return 130  # as a shell reports a process SIGINT ended
    except (LstmkitError, ValueError, OSError) as e:  # bad input, a missing or damaged file: one line
        if debug:
            raise
        print(f"lstmkit: error: {_one_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
