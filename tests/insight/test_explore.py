"""The explore page's exporter without a browser: its data against the probes, the size threshold, the
page's self-containment, `lstmkit inspect explore` and the server (bound to 127.0.0.1)."""

import base64
import json
import re
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.insight import explore
from lstmkit.insight.gates import pad_ids, running_predictions, text_trace
from tests.insight.explore_runs import MAXLEN, SAMPLE, TEXTS, imdb_like_run


def f32(b64):
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return imdb_like_run(tmp_path_factory.mktemp("explore") / "imdb-lstm")


@pytest.fixture(scope="module")
def explorer(run):
    return explore.open_explorer(run)


@pytest.fixture(scope="module")
def data(explorer, run):
    return explore.explore_data(explorer, run, texts=TEXTS, sample=SAMPLE)


def test_each_text_holds_the_probed_gates_states_and_running_prediction(data, explorer):
    (layer,) = data["layers"]  # one recurrence; its name is the Keras-style layer name ("lstm", "lstm_1", ...)
    key = layer["key"]
    assert key == f"{layer['name']}/0/forward" and layer["kind"] == "lstm"
    assert data["layers"][0]["rows"] == ["i", "f", "g", "o", "c", "h"] and data["layers"][0]["units"] == 6
    for text, rec in zip(TEXTS, data["texts"]):
        ids, tokens = explorer.run.encode(text)
        assert rec["tokens"] == tokens
        trace, n_pad = text_trace(explorer.model, ids, maxlen=MAXLEN)
        for name in "ifgoch":
            got = f32(rec["values"][key][name]).reshape(len(tokens), 6)  # (T, H)
            np.testing.assert_array_equal(got, trace[name][0, n_pad:].numpy())
        np.testing.assert_array_equal(rec["scores"], running_predictions(explorer.model, ids, maxlen=MAXLEN))
    assert data["texts"][1]["tokens"][-1] == "[zzqxv]"  # unknown words are shown in brackets


def test_sample_search_is_the_hold_gate_mean_and_the_top_positions(data, explorer):
    search = data["search"]
    traced = [text_trace(explorer.model, explorer.run.encode(s)[0], maxlen=MAXLEN) for s in SAMPLE]
    f = np.concatenate([t["f"][0, n:].numpy() for t, n in traced])  # (sum T, H)
    layer = search["layers"][data["layers"][0]["key"]]
    assert layer["hold_gate"] == "f"
    np.testing.assert_allclose(layer["hold_mean"], f.mean(0), rtol=1e-6)
    for unit in range(6):
        top = layer["top"]["h"][unit]
        assert len(top) == explore.TOP_CONTEXTS
        values = [v for _, _, v in top]
        assert values == sorted(values, reverse=True)
        for i, s, v in top:
            trace, n = traced[i]
            assert v == pytest.approx(float(trace["h"][0, n + s, unit]), abs=1e-6)
        every = np.concatenate([t["h"][0, n:, unit].numpy() for t, n in traced])
        assert values[0] == pytest.approx(float(every.max()), abs=1e-6)  # the highest is found
        for (i, s, _), (j, t, _) in [(a, b) for k, a in enumerate(top) for b in top[k + 1:]]:
            assert i != j or abs(s - t) > explore.CONTEXT_GAP
    assert [t["tokens"] for t in search["texts"]] == [explorer.run.encode(s)[1] for s in SAMPLE]
    with torch.no_grad():
        finals = [float(explorer.model(torch.tensor([pad_ids(explorer.run.encode(s)[0], MAXLEN)]))[0, 0])
                  for s in SAMPLE]
    np.testing.assert_allclose(search["final"], finals, rtol=1e-6)


def test_the_inlined_model_is_the_layers_weights_and_the_word_table(data, explorer):
    model = data["model"]
    assert model["kind"] == "lstm" and model["units"] == 6 and model["maxlen"] == MAXLEN
    layers = [m for m in explorer.model.layers if type(m).__name__ != "InputLayer"]
    expected = [layers[0].get_weights()[0], *layers[1].get_weights(), *layers[2].get_weights()]
    got = [model["weights"][k] for k in ("embeddings", "kernel", "recurrent_kernel", "bias", "dense_kernel",
                                         "dense_bias")]
    for g, e in zip(got, expected):
        assert g["shape"] == list(e.shape)
        np.testing.assert_array_equal(f32(g["data"]).reshape(e.shape), e)
    assert model["params"] == sum(e.size for e in expected)
    # every word the Python encoder reads as an in-range id, with that id; the rest are oov there too
    ids, tokens = explorer.run.encode("the film was great and awful")
    assert tokens[-1] == "[awful]" and "awful" not in model["words"]  # its id is 300 or more
    assert all(model["words"][w] == i for w, i in zip(tokens[1:-1], ids[1:-1]))
    assert max(model["words"].values()) < 300 and (model["start"], model["oov"]) == (1, 2)
    assert model["tokenizer"] == "keras"


def test_a_model_above_the_threshold_is_not_inlined_and_says_serve(explorer, run):
    params = explore.explore_data(explorer, run, texts=TEXTS[:1], sample=[])["model"]["params"]
    small = explore.explore_data(explorer, run, texts=TEXTS[:1], sample=[], max_inline_params=params)
    assert small["model"] is not None and small["model_note"] == ""
    big = explore.explore_data(explorer, run, texts=TEXTS[:1], sample=[], max_inline_params=params - 1)
    assert big["model"] is None and f"{params:,} parameters, above the {params - 1:,}" in big["model_note"]
    assert big["search"] is None
    page = explore.render_page(big)
    assert "lstmkit inspect serve" in page and '"model":null' in page


def test_the_page_is_one_file_that_fetches_nothing(data):
    page = explore.render_page({**data, "run": "</script><b>x"})
    assert page.count("<script") == 2 and "<script src" not in page and "<link" not in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # the page's own policy forbids any fetch but its server's
    start = page.index('id="data">') + len('id="data">')
    payload = page[start:page.index("</script>", start)]
    assert json.loads(payload)["run"] == "</script><b>x"  # the data cannot end its script early
    assert "<title>lstmkit explore: &lt;/script&gt;&lt;b&gt;x</title>" in page


def test_inspect_explore_command_writes_the_page(run, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("a great film\n\n  not good at all  \n")
    out = tmp_path / "page.html"
    assert main(["inspect", "explore", "--run", str(run), "--texts", str(texts), "--samples", "0", "--out",
                 str(out)]) == 0
    page = out.read_text()
    start = page.index('id="data">') + len('id="data">')
    data = json.loads(page[start:page.index("</script>", start)])
    assert [t["tokens"] for t in data["texts"]] == [["<start>", "a", "great", "film"],
                                                     ["<start>", "not", "good", "at", "all"]]
    assert f"wrote {out}" in capsys.readouterr().out
    texts.write_text("\n")
    assert main(["inspect", "explore", "--run", str(run), "--texts", str(texts), "--out", str(out)]) == 2
    assert "holds no text: expected one text per line" in capsys.readouterr().err
    assert main(["inspect", "explore", "--run", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "no run folder at" in capsys.readouterr().err


def test_a_run_folder_of_results_only_gives_charts(tmp_path):
    run = tmp_path / "memory"
    run.mkdir()
    results = [{"model": m, "length": L, "accuracy": a, "seed": 0, "loss": 1.0}
               for m, L, a in [("lstm", 10, 1.0), ("lstm", 60, 0.9), ("simple_rnn", 10, 0.8), ("simple_rnn", 60, 0.1)]]
    (run / "metrics.json").write_text(json.dumps({"task": "recall", "results": results}))
    flows = {"lstm": {"init": {"kind": "lstm", "distance": [1, 0], "dh": [0.5, 1.0], "dx": [0.1, 0.2]}}}
    (run / "grad.json").write_text(json.dumps({"settings": {}, "scores": {"lstm": 1.0}, "flows": flows}))
    assert explore.open_explorer(run) is None
    data = explore.explore_data(None, run)
    assert data["charts"]["memory"]["results"][1] == {"model": "lstm", "length": 60, "accuracy": 0.9, "seed": 0}
    assert data["charts"]["gradients"]["flows"] == flows and data["texts"] == []
    (run / "metrics.json").unlink()
    (run / "grad.json").unlink()
    with pytest.raises(ValueError, match=r"holds neither a model .* nor results to chart"):
        explore.open_explorer(run)


def test_serve_binds_127_0_0_1_and_reads_typed_text_with_the_python_model(run, explorer):
    server = explore.make_server(run, port=0, texts=TEXTS[:1], sample=SAMPLE[:2])
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page = urllib.request.urlopen(base + "/", timeout=10).read().decode()
        assert '"served":true' in page and '"model":null' in page  # the page asks the server instead
        ask = urllib.request.Request(base + "/api/trace", data=json.dumps({"text": "a great film"}).encode(),
                                     headers={"Content-Type": "application/json"})
        rec = json.loads(urllib.request.urlopen(ask, timeout=10).read())
        expected = explorer.trace("a great film")
        assert rec["tokens"] == expected.tokens == ["<start>", "a", "great", "film"]
        (key,) = expected.values
        np.testing.assert_array_equal(f32(rec["values"][key]["c"]), expected.values[key]["c"].reshape(-1))
        assert rec["scores"] == pytest.approx(expected.scores, abs=0)
        bad = urllib.request.Request(base + "/api/trace", data=b'{"text": 3}')
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=10)
        assert e.value.code == 400 and "'text' must be a string, got int" in e.value.read().decode()
    finally:
        server.shutdown()
        server.server_close()


def _tagger_run(out):
    """A `lstmkit run pos` folder with an untrained tiny tagger (its files as the run writes them)."""
    from dataclasses import asdict

    from lstmkit.data import ud
    from lstmkit.experiments import pos
    from lstmkit.experiments.configs import PosConfig
    from lstmkit.experiments.reporting import save_model
    from lstmkit.io import write_json

    sents = [(["The", "cat", "sat", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
             (["It", "was", "the", "dog", "'s", "bone", "!"], ["PRON", "AUX", "DET", "NOUN", "PART", "NOUN", "PUNCT"])]
    enc = pos.build_encoding(sents, list(ud.UPOS_TAGS), max_chars=20)
    config = PosConfig(word_dim=8, char_dim=4, char_hidden=4, hidden=5)
    torch.manual_seed(0)
    model = pos.build(config, enc)
    out.mkdir()
    write_json(out / "encoding.json", enc.to_json())
    save_model(model.state_dict(), {"experiment": "pos", "config": asdict(config), "n_words": len(enc.words),
                                    "n_chars": len(enc.chars), "tags": enc.tags}, out / "model")
    return out


def test_a_pos_tagger_run_shows_both_directions_of_both_layers(tmp_path):
    from lstmkit.experiments import pos

    out = _tagger_run(tmp_path / "pos")
    tagger = explore.open_explorer(out)
    assert isinstance(tagger, explore.TaggerRun)
    sample = [["The", "cat", "sat", "."], ["It", "was", "n't", "me", "!"], ["A", "dog", "barked", "at", "the", "cat"]]
    data = explore.explore_data(tagger, out, texts=["The dog's bone, it said."], sample=sample)
    assert [layer["key"] for layer in data["layers"]] == ["lstm/0/forward", "lstm/0/backward", "lstm/1/forward",
                                                          "lstm/1/backward"]  # not the character BiLSTM
    rec = data["texts"][0]
    assert rec["tokens"] == ["The", "dog's", "bone", ",", "it", "said", "."] and rec["scores"] is None
    model, enc = pos.load_tagger(out)
    assert rec["tags"] == pos.tag(model, enc, [rec["tokens"]])[0]
    assert data["model"] is None and "Python only" in data["model_note"]
    top = data["search"]["layers"]["lstm/1/backward"]["top"]["c"][0]  # 16 tokens: room for 5 apart
    highest = max(float(tagger.trace(s).values["lstm/1/backward"]["c"][:, 0].max()) for s in sample)
    assert len(top) == 5 and top[0][2] == pytest.approx(highest, abs=1e-6)
    assert len(data["search"]["layers"]["lstm/1/backward"]["hold_mean"]) == 5
