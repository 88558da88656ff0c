"""`lstmkit inspect ...`: pictures of what a recurrent network does inside.

    lstmkit inspect gates --run DIR --text "..." --out FILE.png [--layer NAME]
    lstmkit inspect gradients --out FILE.png [--task recall] [--length 100] [--steps 300] [--init keras] ...
    lstmkit inspect explore --run DIR [--texts FILE] [--samples N] --out page.html
    lstmkit inspect serve --run DIR [--port 8000]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from lstmkit.data import memory_names
from lstmkit.io import atomic_savefig, write_json


def _gates(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from lstmkit.insight.gates import gates_figure
    from lstmkit.insight.runs import load_imdb_run

    run = load_imdb_run(args.run)
    ids, tokens = run.encode(args.text)
    if not ids:
        raise ValueError(f"the text {args.text!r} has no words the model knows")
    fig = gates_figure(run.model, ids, tokens, layer=args.layer, maxlen=run.maxlen, logits=args.logits,
                       title=f"{Path(args.run).name}: gates, states and running prediction")
    try:
        atomic_savefig(fig, args.out, dpi=args.dpi)
    finally:
        plt.close(fig)
    print(f"wrote {args.out}")
    return 0


def _gradients(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from lstmkit.insight.gradients import gradient_flow_figure, gradient_flow_study

    flows, scores = gradient_flow_study(
        task=args.task, length=args.length, hidden=args.hidden, steps=args.steps, batch_size=args.batch_size,
        lr=args.lr, init=args.init, seed=args.seed, backend=args.backend,
    )
    score_name = "accuracy" if args.task == "recall" else "fraction within 0.04"
    title = (f"{args.task}, T={args.length + (1 if args.task == 'recall' else 0)}, hidden {args.hidden}, "
             f"init {args.init}; trained {args.steps} steps: "
             + ", ".join(f"{k} {score_name} {v:.2f}" for k, v in scores.items()))
    fig = gradient_flow_figure(flows, title=title)
    try:
        atomic_savefig(fig, args.out, dpi=args.dpi)
    finally:
        plt.close(fig)
    data = Path(args.out).with_suffix(".json")
    write_json(data, {"settings": {k: v for k, v in vars(args).items() if k != "func"}, "scores": scores,
                      "flows": {m: {s: f.as_dict() for s, f in st.items()} for m, st in flows.items()}})
    print(f"wrote {args.out} and {data}")
    return 0


def _read_texts(path: str | None) -> list[str] | None:
    """The texts of a file, one per line (blank lines skipped)."""
    if path is None:
        return None
    texts = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise ValueError(f"{path} holds no text: expected one text per line")
    return texts


def _explore(args: argparse.Namespace) -> int:
    from lstmkit.insight.explore import INLINE_MAX_PARAMS, explore_data, open_explorer, write_page

    data = explore_data(open_explorer(args.run), args.run, texts=_read_texts(args.texts), samples=args.samples,
                        gradients=args.gradients, max_inline_params=args.max_inline_params or INLINE_MAX_PARAMS)
    write_page(data, args.out)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)"
          + (f"; typing needs `lstmkit inspect serve`: {data['model_note']}" if data["model_note"] else ""))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from lstmkit.insight.explore import make_server

    server = make_server(args.run, port=args.port, texts=_read_texts(args.texts), samples=args.samples)
    host, port = server.server_address[:2]
    print(f"serving {args.run} at http://{host}:{port}/ (127.0.0.1 only); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lstmkit inspect", description=(__doc__ or "").strip().splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gates", help="gate and cell-state heatmaps of an IMDB run's model reading a text")
    g.add_argument("--run", required=True, help="the run folder of `lstmkit run imdb`")
    g.add_argument("--text", required=True, help="the text to read")
    g.add_argument("--out", required=True, help="the PNG to write")
    g.add_argument("--layer", default=None, help="which recurrent layer (name); the first by default")
    g.add_argument("--logits", action="store_true", help="the model outputs logits: show sigmoid(output)")
    g.add_argument("--dpi", type=int, default=110)
    g.set_defaults(func=_gates)
    r = sub.add_parser("gradients", help="gradient norm against distance from the loss, SimpleRNN vs LSTM vs GRU")
    r.add_argument("--out", required=True, help="the PNG to write (the numbers go beside it as .json)")
    r.add_argument("--task", choices=memory_names.TASKS, default="recall")
    r.add_argument("--length", type=int, default=100, help="distractor steps L")
    r.add_argument("--hidden", type=int, default=32)
    r.add_argument("--steps", type=int, default=300, help="training steps before the 'trained' measurement")
    r.add_argument("--batch-size", type=int, default=64)
    r.add_argument("--lr", type=float, default=1e-2)
    r.add_argument("--init", choices=memory_names.INITS, default="keras")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--backend", default="auto")
    r.add_argument("--dpi", type=int, default=110)
    r.set_defaults(func=_gradients)
    for name in ("explore", "serve"):
        e = sub.add_parser(name, help="an interactive HTML page of the gates and states, self-contained" if name ==
                           "explore" else "the explore page on 127.0.0.1, reading typed text with the Python model")
        e.add_argument("--run", required=True, help="a run folder of `lstmkit run imdb|pos|memory`")
        e.add_argument("--texts", default=None, help="a file of texts to show, one per line (default: 3 of the sample)")
        e.add_argument("--samples", type=int, default=100, help="texts of the data set searched for each unit's "
                       "top contexts")
        if name == "explore":
            e.add_argument("--out", required=True, help="the HTML file to write")
            e.add_argument("--gradients", default=None, help="the .json of `lstmkit inspect gradients` to chart")
            e.add_argument("--max-inline-params", type=int, default=None,  # None: explore.INLINE_MAX_PARAMS
                           help="largest model whose weights go into the page (default: 1000000)")
        else:
            e.add_argument("--port", type=int, default=8000)
        e.set_defaults(func=_explore if name == "explore" else _serve)
    return p


def main(argv: Sequence[str]) -> int:
    """Entry point of `lstmkit inspect`; returns the exit status."""
    args = parser().parse_args(list(argv))
    if getattr(args, "samples", 0) < 0:
        raise ValueError(f"--samples must be >= 0, got {args.samples}")
    if getattr(args, "length", 1) < 1 or getattr(args, "steps", 0) < 0:
        raise ValueError(f"--length must be >= 1 and --steps >= 0, got {args.length} and {args.steps}")
    return args.func(args)
