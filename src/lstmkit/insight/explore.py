"""An interactive, self-contained HTML page of a run's gates and states (`lstmkit inspect explore|serve`).

    page = explore_data(open_explorer(run_dir), texts=["a fine film"], samples=100)
    write_page(page, "page.html")                  # one file: scripts, styles and data inlined
    server = make_server(run_dir, port=8000)       # the same page, bound to 127.0.0.1, running the model in Python

What the page holds, per shown text: every recurrent layer's gates (LSTM i, f, g, o; GRU r, z, n) and
states (c, h) per unit and token, as `lstmkit.insight.probes.probe` records them (the numbers of
`lstmkit inspect gates`' PNG), and the running prediction (`gates.running_predictions`) or, for a
tagger, each token's tag. Over a sample of the run's data set it holds, per unit, the mean of the gate
that keeps the state (LSTM f; GRU z, as h = z ⊙ h_prev + (1 - z) ⊙ n), by which the page sorts units,
and per unit and row the TOP_CONTEXTS positions where the unit's value is highest (LSTMVis's search).

The text box runs the model in the page when the model is Embedding -> one LSTM, GRU or SimpleRNN ->
Dense(1, sigmoid) with at most INLINE_MAX_PARAMS parameters: its weights go into the page as base64
float32, the word table with them. Otherwise (a bigger model, the POS tagger) the page says to run
`lstmkit inspect serve --run DIR`, whose page sends the text to the Python model instead.

Dimensions: N sample texts, T tokens, H hidden units.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.insight.gates import _EvalMode, pad_ids, running_predictions
from lstmkit.insight.probes import LayerTrace, probe

# 1M float32 parameters are 4 MB, 5.3 MB as base64: the page still opens in well under a second. The
# classic IMDB LSTM (Embedding 10000 x 32, LSTM 32) has 328,353.
INLINE_MAX_PARAMS = 1_000_000
TOP_CONTEXTS = 10  # positions listed per unit and row
CONTEXT_GAP = 3  # two listed positions of one text are more than this many tokens apart
HOLD_GATE = {"lstm": "f", "gru": "z"}  # the gate whose mean says how long a unit keeps its state
_STATIC = "static"
_POS_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")  # typed text for the tagger: words and punctuation marks


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _key(t: LayerTrace) -> str:
    return f"{t.name}/{t.layer}/{t.direction}"


@dataclass
class Traced:
    """One text read by the model: its tokens, every layer's values (T, H) per name, the prediction per token."""

    tokens: list[str]
    values: dict[str, dict[str, np.ndarray]]  # layer key -> name -> (T, H)
    layers: dict[str, LayerTrace]  # layer key -> the trace (its kind, name, ...)
    scores: list[float] | None = None  # the running prediction, or
    tags: list[str] | None = None  # each token's tag


class TextClassifierRun:
    """An IMDB-like run folder (`lstmkit.insight.runs.load_imdb_run`): ids (1, T) -> one score."""

    kind = "classifier"

    def __init__(self, run_dir: Path) -> None:
        from lstmkit.insight.runs import load_imdb_run

        self.dir = run_dir
        self.run = load_imdb_run(run_dir)
        self.model, self.maxlen = self.run.model, self.run.maxlen
        self.encoding = json.loads((run_dir / "encoding.json").read_text()) if (run_dir / "encoding.json").is_file() \
            else {"source": "indices"}

    def _cut(self, ids: list[int], tokens: list[str]) -> tuple[list[int], list[str]]:
        if self.maxlen is not None and len(ids) > self.maxlen:  # pad_sequences keeps the last maxlen
            return ids[-self.maxlen:], tokens[-self.maxlen:]
        return ids, tokens

    def trace(self, text: str, running: bool = True) -> Traced:
        ids, tokens = self._cut(*self.run.encode(text))
        if not ids:
            raise ValueError(f"the text {text[:60]!r} has no words the model reads")
        x = pad_ids(ids, self.maxlen)
        n_pad = len(x) - len(ids)
        with _EvalMode(self.model):
            result = probe(self.model, torch.tensor([x], dtype=torch.long))
        layers = {_key(t): t for t in result.traces}
        values = {k: {n: t[n][0, n_pad:].float().numpy() for n in (*t.gates, *t.states)} for k, t in layers.items()}
        scores = running_predictions(self.model, ids, maxlen=self.maxlen).tolist() if running else None
        return Traced(tokens, values, layers, scores=scores)

    def sample_texts(self, n: int) -> list[str]:
        from lstmkit.data import imdb

        _, test = imdb.read_reviews()
        pick = np.random.default_rng(0).choice(len(test), size=min(n, len(test)), replace=False)
        return [test.texts[i] for i in pick]

    def js_model(self) -> tuple[dict[str, Any] | None, str]:
        """The weights and word table for the page's forward pass, or None and why not."""
        return _js_model(self.model, self.encoding, self.maxlen)


class TaggerRun:
    """A `lstmkit run pos` folder: words and characters (1, T) -> a tag per word."""

    kind = "tagger"

    def __init__(self, run_dir: Path) -> None:
        from lstmkit.experiments import pos

        self.dir, self._pos = run_dir, pos
        self.model, self.enc = pos.load_tagger(run_dir)

    def trace(self, text: str | list[str], running: bool = True) -> Traced:
        words = _POS_TOKEN.findall(text) if isinstance(text, str) else list(text)
        if not words:
            raise ValueError(f"the text {str(text)[:60]!r} has no words")
        data = self._pos.encode([(words, [self.enc.tags[0]] * len(words))], self.enc)
        w = torch.as_tensor(data.words[0])[None]  # (1, T)
        c = torch.as_tensor(data.chars[0])[None]  # (1, T, C)
        with _EvalMode(self.model):
            result = probe(self.model, w, c)
        layers = {_key(t): t for t in result.traces if tuple(t["h"].shape[:2]) == (1, len(words))}  # not char_lstm
        values = {k: {n: t[n][0].float().numpy() for n in (*t.gates, *t.states)} for k, t in layers.items()}
        tags = [self.enc.tags[i] for i in result.output[0].argmax(-1).tolist()]
        return Traced(words, values, layers, tags=tags)

    def sample_texts(self, n: int) -> list[list[str]]:
        from lstmkit.data import ud

        return [s.words for s in ud.load("test", limit=n)]

    def js_model(self) -> tuple[dict[str, Any] | None, str]:
        return None, "the tagger (character BiLSTM and a two-layer BiLSTM) runs in Python only"


def open_explorer(run_dir: str | os.PathLike) -> TextClassifierRun | TaggerRun | None:
    """The model of a run folder as an explorer; None for a folder without a model (charts only)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"no run folder at {run}: expected the --out folder of `lstmkit run imdb|pos|memory`")
    tagger = (run / "model.safetensors").is_file() and (run / "model.json").is_file()  # `lstmkit run pos`
    if (run / "model.keras").is_file() or ((run / "model.safetensors").is_file() and not tagger):
        return TextClassifierRun(run)
    if tagger:
        return TaggerRun(run)
    if _charts(run, None):
        return None
    have = sorted(p.name for p in run.iterdir())
    raise ValueError(f"{run} holds neither a model (model.keras of `lstmkit run imdb`, model.safetensors + model.json "
                     f"of `lstmkit run pos`) nor results to chart (metrics.json of `lstmkit run memory`, the .json "
                     f"of `lstmkit inspect gradients`); the folder has {have or 'nothing'}")


# ----- the page's data --------------------------------------------------------------------------
def _text_record(t: Traced, label: str) -> dict[str, Any]:
    return {"label": label, "tokens": t.tokens, "scores": t.scores, "tags": t.tags,
            "values": {k: {n: _b64(v) for n, v in names.items()} for k, names in t.values.items()}}


def _search(explorer: TextClassifierRun | TaggerRun, sample: Sequence[Any]) -> dict[str, Any]:
    """Per layer: each unit's hold-gate mean over the sample, and per row its top positions [text, step, value]."""
    traced = [explorer.trace(s, running=False) for s in sample]
    out: dict[str, Any] = {}
    for key, layer in (traced[0].layers.items() if traced else []):
        owner = np.concatenate([np.full(len(t.tokens), i) for i, t in enumerate(traced)])  # (sum T,)
        step = np.concatenate([np.arange(len(t.tokens)) for t in traced])
        rows: dict[str, Any] = {}
        for name in traced[0].values[key]:
            v = np.concatenate([t.values[key][name] for t in traced])  # (sum T, H)
            rows[name] = [_top(v[:, u], owner, step) for u in range(v.shape[1])]
        hold = HOLD_GATE.get(layer.kind)
        mean = np.concatenate([t.values[key][hold] for t in traced]).mean(0).tolist() if hold else None
        out[key] = {"hold_gate": hold, "hold_mean": mean, "top": rows}
    return {"texts": [{"tokens": t.tokens, "score": t.scores[-1] if t.scores else None} for t in traced],
            "layers": out, "final": _finals(explorer, sample)}


def _finals(explorer: TextClassifierRun | TaggerRun, sample: Sequence[Any]) -> list[float] | None:
    if not isinstance(explorer, TextClassifierRun):
        return None
    out = []
    with _EvalMode(explorer.model), torch.no_grad():
        for s in sample:
            ids, _ = explorer._cut(*explorer.run.encode(s))
            y = explorer.model(torch.tensor([pad_ids(ids, explorer.maxlen)], dtype=torch.long))
            out.append(float(torch.as_tensor(y[0] if isinstance(y, tuple | list) else y).reshape(-1)[0]))
    return out


def _top(v: np.ndarray, owner: np.ndarray, step: np.ndarray) -> list[list[float]]:
    """The TOP_CONTEXTS highest values of one unit, no two of one text within CONTEXT_GAP steps."""
    picked: list[list[float]] = []
    for j in np.argsort(-v, kind="stable"):
        i, s = int(owner[j]), int(step[j])
        if all(p[0] != i or abs(p[1] - s) > CONTEXT_GAP for p in picked):
            picked.append([i, s, round(float(v[j]), 6)])
            if len(picked) == TOP_CONTEXTS:
                break
    return picked


def _charts(run: Path, gradients: str | os.PathLike | None) -> dict[str, Any]:
    """The gradient-flow numbers (`lstmkit inspect gradients`' .json) and memory-task results found."""
    charts: dict[str, Any] = {}
    candidates = [Path(gradients)] if gradients else sorted(run.glob("*.json"))
    for p in candidates:
        data = json.loads(p.read_text()) if p.is_file() else None
        if isinstance(data, dict) and isinstance(data.get("flows"), dict):
            charts["gradients"] = {"file": p.name, "flows": data["flows"], "scores": data.get("scores")}
            break
    if gradients and "gradients" not in charts:
        raise ValueError(f"{gradients} holds no gradient flows: expected the .json of `lstmkit inspect gradients`")
    metrics = run / "metrics.json"
    data = json.loads(metrics.read_text()) if metrics.is_file() else {}
    if isinstance(data, dict) and isinstance(data.get("results"), list) and data.get("task"):
        charts["memory"] = {"task": data["task"], "results": [
            {k: r[k] for k in ("model", "length", "accuracy", "seed") if k in r} for r in data["results"]]}
    return charts


def explore_data(explorer: TextClassifierRun | TaggerRun | None, run_dir: str | os.PathLike, *,
                 texts: Sequence[str] | None = None, samples: int = 100, sample: Sequence[Any] | None = None,
                 gradients: str | os.PathLike | None = None, inline_model: bool = True,
                 max_inline_params: int = INLINE_MAX_PARAMS) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (see the module docstring).

    `texts` are shown in full (default: the first 3 of the sample); `sample` (default: `samples` texts
    of the run's data set, drawn with seed 0) is searched for each unit's top contexts."""
    run = Path(run_dir)
    data: dict[str, Any] = {"run": run.name, "kind": None if explorer is None else explorer.kind,
                            "charts": _charts(run, gradients), "texts": [], "layers": [], "search": None,
                            "model": None, "model_note": ""}
    if explorer is None:
        return data
    if sample is None:
        sample = explorer.sample_texts(samples) if samples > 0 else []
    shown = list(texts) if texts else [s if isinstance(s, str) else " ".join(s) for s in sample[:3]]
    if not shown:
        raise ValueError("no texts to show: give --texts FILE or --samples N above 0")
    traced = [explorer.trace(t) for t in shown]
    data["texts"] = [_text_record(t, f"text {i + 1}") for i, t in enumerate(traced)]
    data["layers"] = [{"key": k, "name": t.name, "kind": t.kind, "layer": t.layer, "direction": t.direction,
                       "units": int(traced[0].values[k]["h"].shape[1]), "rows": [*t.gates, *t.states]}
                      for k, t in traced[0].layers.items()]
    data["search"] = _search(explorer, sample) if len(sample) else None
    model, why = explorer.js_model()
    if model is not None and model["params"] > max_inline_params:
        model, why = None, (f"the model has {model['params']:,} parameters, above the {max_inline_params:,} "
                            "inlined in a page")
    data["model"] = model if inline_model else None
    data["model_note"] = why if model is None else ""
    return data


def _js_model(model: Any, encoding: dict[str, Any], maxlen: int | None) -> tuple[dict[str, Any] | None, str]:
    """Embedding -> LSTM|GRU|SimpleRNN -> Dense(1, sigmoid) of lstmkit.keras, as arrays for the page."""
    layers = [type(m).__name__ for m in getattr(model, "layers", [])]
    if layers[:1] == ["InputLayer"]:
        layers = layers[1:]
    if len(layers) != 3 or layers[0] != "Embedding" or layers[1] not in ("LSTM", "GRU", "SimpleRNN") \
            or layers[2] != "Dense":
        return None, f"the page's forward pass runs Embedding -> LSTM|GRU|SimpleRNN -> Dense, not {' -> '.join(layers)}"
    emb, rnn, dense = [m for m in model.layers if type(m).__name__ != "InputLayer"]
    c, dc = rnn.get_config(), dense.get_config()
    defaults = c.get("activation") == "tanh" and c.get("recurrent_activation", "sigmoid") == "sigmoid"
    if not defaults or not c.get("use_bias", True) or c.get("go_backwards") or c.get("return_sequences") \
            or not c.get("reset_after", True) or dc.get("activation") != "sigmoid" or dc.get("units") != 1 \
            or emb.get_config().get("mask_zero"):
        return None, ("the page's forward pass supports default activations, biases, GRU reset_after=True, no "
                      "masking and Dense(1, sigmoid)")
    weights = {"embeddings": emb.get_weights()[0]}
    for name, w in zip(("kernel", "recurrent_kernel", "bias"), rnn.get_weights()):
        weights[name] = w
    weights["dense_kernel"], weights["dense_bias"] = dense.get_weights()
    tokenizer = _js_tokenizer(encoding)
    if tokenizer is None:
        return None, f"the page cannot tokenise the encoding {encoding.get('source')!r}"
    arrays = {k: {"shape": list(np.shape(v)), "data": _b64(np.asarray(v))} for k, v in weights.items()}
    return {"kind": {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[layers[1]],
            "units": int(c["units"]), "maxlen": maxlen,
            "weights": arrays, "params": int(sum(np.size(v) for v in weights.values())), **tokenizer}, ""


def _js_tokenizer(encoding: dict[str, Any]) -> dict[str, Any] | None:
    """How the page turns text into ids: the words it may meet, with their ids, and the rules around them."""
    if encoding.get("source", "indices") == "indices":
        from lstmkit.data import imdb

        num_words, index_from = encoding.get("num_words", 10000), int(encoding.get("index_from", 3))
        words = {w: r + index_from for w, r in imdb.get_word_index().items()
                 if num_words is None or r + index_from < num_words}  # the rest are oov anyway
        return {"tokenizer": "keras", "words": words, "start": encoding.get("start_char", 1),
                "oov": encoding.get("oov_char", 2)}
    vocab = encoding.get("vocabulary")
    if isinstance(vocab, dict) and "format" in vocab:
        from lstmkit.data.text import UNK, Vocabulary

        table = Vocabulary.from_json(vocab)
        return {"tokenizer": "lstmkit", "words": dict(table.stoi), "start": None, "oov": UNK}
    if isinstance(vocab, list):
        vocab = {str(w): i for i, w in enumerate(vocab)}
    if isinstance(vocab, dict) and vocab:
        oov = next((vocab[k] for k in ("[UNK]", "<unk>", "<oov>") if k in vocab), 1)
        return {"tokenizer": "keras", "words": vocab, "start": None, "oov": oov}
    return None


# ----- the page -----------------------------------------------------------------------------------
def _static(name: str) -> str:
    return resources.files("lstmkit.insight").joinpath(_STATIC, name).read_text(encoding="utf-8")


def render_page(data: dict[str, Any], *, served: bool = False) -> str:
    """The HTML of the page: styles, script and data inlined, nothing fetched."""
    payload = json.dumps({**data, "served": served}, separators=(",", ":"), allow_nan=False)
    payload = payload.replace("</", "<\\/")  # no "</script>" inside the data
    title = html.escape(f"lstmkit explore: {data['run']}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            f"script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'\">"
            f"<title>{title}</title><style>{_static('explore.css')}</style></head>\n"
            f'<body><div id="app"></div>\n<script type="application/json" id="data">{payload}</script>\n'
            f"<script>{_static('explore.js')}</script></body></html>\n")


def write_page(data: dict[str, Any], out: str | os.PathLike) -> Path:
    from lstmkit.io import atomic_write_text

    return atomic_write_text(out, render_page(data))


# ----- the server -------------------------------------------------------------------------------
def make_server(run_dir: str | os.PathLike, *, port: int = 8000, samples: int = 100,
                texts: Sequence[str] | None = None, sample: Sequence[Any] | None = None) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 only: GET / is the page, POST /api/trace {"text": ...} reads a text with
    the Python model and answers the page's record of it. Call `serve_forever()` on it."""
    explorer = open_explorer(run_dir)
    if explorer is None:
        raise ValueError(f"{run_dir} holds no model to run: `lstmkit inspect explore` makes its charts page")
    page = render_page(explore_data(explorer, run_dir, texts=texts, samples=samples, sample=sample,
                                    inline_model=False), served=True).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path in ("/", "/index.html"):
                self._send(200, page, "text/html; charset=utf-8")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            if self.path != "/api/trace":
                self._send(404, b"not found", "text/plain")
                return
            try:
                text = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))["text"]
                if not isinstance(text, str):
                    raise TypeError(f"'text' must be a string, got {type(text).__name__}")
                body = json.dumps(_text_record(explorer.trace(text), "your text")).encode()
                self._send(200, body, "application/json")
            except (ValueError, KeyError, TypeError) as e:
                self._send(400, json.dumps({"error": str(e)}).encode(), "application/json")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the page's requests are not news
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
