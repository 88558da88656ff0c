"""The explore page in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Opened from a file:// URL it must fetch nothing but itself, log no error, show a review's tokens, show
the probe's value for a chosen unit and step, run typed text through its own forward pass to the
Python model's prediction (1e-4), list a clicked unit's top contexts, and answer the keyboard."""

from pathlib import Path

import numpy as np
import pytest

from lstmkit.insight import explore
from lstmkit.insight.gates import pad_ids, text_trace
from tests.insight.explore_runs import MAXLEN, SAMPLE, TEXTS, imdb_like_run

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="no playwright (pip install playwright, greenlet, pyee)")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium for the module, with a fresh profile; pages bypass the page's CSP only so that
    Playwright's own waiting functions can run in them (the page needs no script but its own)."""
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=ARGS, bypass_csp=True, viewport={"width": 1400, "height": 1000})
        yield context
        context.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny IMDB-like runs (LSTM, GRU, SimpleRNN) and the explorers and pages of each."""
    out = {}
    for kind in ("LSTM", "GRU", "SimpleRNN"):
        folder = tmp_path_factory.mktemp(kind)
        run = imdb_like_run(folder / "run", kind=kind)
        explorer = explore.open_explorer(run)
        data = explore.explore_data(explorer, run, texts=TEXTS, sample=SAMPLE if kind == "LSTM" else SAMPLE[:2])
        out[kind] = (explorer, data, explore.write_page(data, folder / "page.html"))
    return out


class Opened:
    def __init__(self, browser, path):
        self.page = browser.new_page()
        self.requests, self.errors = [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type in ("error", "warning") and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.url = Path(path).resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=10_000)


@pytest.fixture
def opened(browser, runs):
    o = Opened(browser, runs["LSTM"][2])
    yield o
    o.page.close()


def test_the_page_loads_from_a_file_without_network_or_console_errors(opened):
    assert opened.requests == [opened.url]
    assert opened.errors == []
    assert opened.page.title() == "lstmkit explore: run"


def test_it_shows_the_tokens_of_the_review(opened, runs):
    explorer = runs["LSTM"][0]
    shown = opened.page.locator("#maps .tokens .tok").all_text_contents()
    assert shown == explorer.run.encode(TEXTS[0])[1]
    opened.page.select_option("#text-select", "1")
    assert opened.page.locator("#maps .tokens .tok").all_text_contents() == explorer.run.encode(TEXTS[1])[1]


@pytest.mark.parametrize(("name", "step", "row"), [("f", 3, 2), ("c", 7, 5), ("h", 0, 0)])
def test_the_value_shown_for_a_unit_and_step_is_the_probes(opened, runs, name, step, row):
    explorer = runs["LSTM"][0]
    canvas = opened.page.locator(f"canvas.heat[data-row='{name}']")
    ch = canvas.bounding_box()["height"] / 6  # 6 units
    canvas.click(position={"x": step * 12 + 6, "y": row * ch + ch / 2})
    shown = opened.page.locator("#readout")
    unit = int(shown.get_attribute("data-unit"))
    assert unit == opened.page.evaluate("lstmkit.order()")[row]
    assert (shown.get_attribute("data-row"), int(shown.get_attribute("data-step"))) == (name, step)
    ids = explorer.run.encode(TEXTS[0])[0]
    trace, n_pad = text_trace(explorer.model, ids, maxlen=MAXLEN)
    expected = trace[name][0, n_pad + step, unit].item()  # a float32, exactly
    assert float(shown.get_attribute("data-value")) == expected
    assert f"unit {unit}, step {step} " in shown.text_content() and f"= {expected:.4f}" in shown.text_content()


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_typing_a_text_gives_the_python_models_prediction_and_gates(browser, runs, kind):
    import torch

    explorer, data, path = runs[kind]
    o = Opened(browser, path)
    text = "What a wonderful film. But the END? Awful, awful... Qwxzv!"
    o.page.fill("#input", text)
    o.page.wait_for_function(f"document.querySelector('#text-select').value === '{len(TEXTS)}'")
    ids, tokens = explorer.run.encode(text)
    ids, tokens = ids[-MAXLEN:], tokens[-MAXLEN:]  # the model reads the last maxlen tokens
    with torch.no_grad():
        expected = float(explorer.model(torch.tensor([pad_ids(ids, MAXLEN)]))[0, 0])
    assert abs(float(o.page.get_attribute("#prediction", "data-value")) - expected) < 1e-4
    assert o.page.locator("#maps .tokens .tok").all_text_contents() == tokens
    trace, n_pad = text_trace(explorer.model, ids, maxlen=MAXLEN)
    key = data["layers"][0]["key"]
    for name in data["layers"][0]["rows"]:
        got = np.array(o.page.evaluate(f"Array.from(lstmkit.texts[{len(TEXTS)}].values['{key}']['{name}'])"))
        np.testing.assert_allclose(got.reshape(len(ids), 6), trace[name][0, n_pad:].numpy(), rtol=0, atol=1e-5)
    assert o.errors == []
    o.page.close()


def test_the_page_tokenises_as_the_python_encoder(opened, runs):
    explorer = runs["LSTM"][0]
    for text in ["Great<br />film,  GREAT", "It's a \"so-so\" film: 7/10 (really)", "ÉCOLE café naïve\tTab",
                 "don't__stop~me", "constructor toString __proto__", "  ", "Ünïcode İstanbul ß"]:
        got = opened.page.evaluate("(s) => lstmkit.encode(s)", text)
        assert (got["ids"], got["tokens"]) == explorer.run.encode(text), text


def test_clicking_a_unit_lists_its_top_contexts(opened, runs):
    data = runs["LSTM"][1]
    opened.page.click(".unit[data-unit='3']")
    items = opened.page.locator("#contexts li")
    layer = data["search"]["layers"][data["layers"][0]["key"]]
    top = layer["top"]["h"][3]
    assert items.count() == len(top) == explore.TOP_CONTEXTS
    for k, (i, s, v) in enumerate(top):
        li = items.nth(k)
        assert (int(li.get_attribute("data-text")), int(li.get_attribute("data-step"))) == (i, s)
        assert float(li.get_attribute("data-value")) == v
        assert li.locator("mark").text_content() == data["search"]["texts"][i]["tokens"][s]
    assert opened.page.get_attribute(".unit[data-unit='3']", "aria-selected") == "true"
    opened.page.select_option("#search-row", "f")
    assert int(items.nth(0).get_attribute("data-step")) == layer["top"]["f"][3][0][1]


def test_units_are_sorted_by_forget_gate_mean_and_the_sort_can_be_turned_off(opened, runs):
    data = runs["LSTM"][1]
    mean = data["search"]["layers"][data["layers"][0]["key"]]["hold_mean"]
    listed = [int(u) for u in opened.page.locator(".unit").evaluate_all("bs => bs.map(b => b.dataset.unit)")]
    assert listed == sorted(range(6), key=lambda u: -mean[u])
    opened.page.uncheck("#sort")
    listed = [int(u) for u in opened.page.locator(".unit").evaluate_all("bs => bs.map(b => b.dataset.unit)")]
    assert listed == list(range(6))


def test_the_keyboard_moves_over_steps_and_units_and_selects(opened):
    page = opened.page
    page.focus("#maps")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "PageDown"):
        page.keyboard.press(key)
    order = page.evaluate("lstmkit.order()")
    readout = page.locator("#readout")
    assert (readout.get_attribute("data-step"), readout.get_attribute("data-unit")) == ("2", str(order[1]))
    assert readout.get_attribute("data-row") == "g"  # the cursor starts on f, the forget gate; Page Down: next row
    page.keyboard.press("Enter")
    assert page.get_attribute("#contexts", "data-unit") == str(order[1])
    page.focus(".unit >> nth=0")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.unit") == str(order[1])
    page.keyboard.press("Enter")  # a button: Enter clicks it
    assert page.get_attribute(f".unit[data-unit='{order[1]}']", "aria-selected") == "true"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") in ("BUTTON", "SELECT")


def test_charts_hover_for_values_and_toggle_models(browser, tmp_path):
    import json

    run = tmp_path / "memory"
    run.mkdir()
    results = [{"model": m, "length": L, "accuracy": a} for m, L, a in
               [("lstm", 10, 1.0), ("lstm", 60, 0.9), ("simple_rnn", 10, 0.8), ("simple_rnn", 60, 0.125)]]
    (run / "metrics.json").write_text(json.dumps({"task": "recall", "results": results}))
    flows = {m: {"trained": {"kind": m, "distance": [2, 1, 0], "dh": [d * 0.01, d * 0.1, d]}} for m, d in
             (("lstm", 1.0), ("gru", 2.0))}
    (run / "grad.json").write_text(json.dumps({"flows": flows}))
    path = explore.write_page(explore.explore_data(None, run), tmp_path / "charts.html")
    o = Opened(browser, path)
    charts = o.page.locator("figure.chart")
    assert charts.count() == 2
    memory = charts.nth(1)
    box = memory.locator("svg").bounding_box()
    # the simple_rnn point at L=60 sits at the right end near the bottom: 0.125 of the way up
    o.page.mouse.move(box["x"] + box["width"] * (548 / 560), box["y"] + box["height"] * ((260 - 0.125 * 232) / 300))
    assert memory.locator("text.tip").text_content() == "simple_rnn: length L 60, 0.1250"
    memory.locator("input[data-group='simple_rnn']").uncheck()
    assert memory.locator("polyline[data-series='simple_rnn']").get_attribute("visibility") == "hidden"
    assert memory.locator("polyline[data-series='lstm']").get_attribute("visibility") == "visible"
    assert o.requests == [o.url] and o.errors == []
    o.page.close()
