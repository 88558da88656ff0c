"""The explore page (`lstmkit inspect explore`) of a run folder: its size, how long the export takes,
and how fast it opens in headless Chromium; appended to benchmarks/results/insight_page.jsonl.

    python benchmarks/insight_page.py --run runs/imdb-lstm --texts texts.txt --samples 100 \\
        --out /tmp/imdb-lstm.html --screenshot docs/img/explore_imdb_lstm.png

Opening: each repeat is a fresh tab on the file:// URL; "ready" is the page's own clock
(`performance.now()` when its first drawing is done, from the navigation start), "load" the
navigation's loadEventEnd. "typing" is the in-page forward pass of the first shown text with its
running prediction (the work behind one keystroke), when the model is inlined.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import append_jsonl, environment

RESULTS = Path(__file__).resolve().parent / "results" / "insight_page.jsonl"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--texts", default=None, help="texts to show, one per line")
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--out", required=True, help="the page to write")
    p.add_argument("--screenshot", default=None, help="a PNG of the page as it opens")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--note", default="shared 2-core machine", help="what else ran on the machine")
    args = p.parse_args()
    env = environment(for_record=not args.no_record)  # before the measurement: a dirty tree refuses here

    from playwright.sync_api import sync_playwright

    from lstmkit.insight.cli import _read_texts
    from lstmkit.insight.explore import explore_data, open_explorer, write_page

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    data = explore_data(open_explorer(args.run), args.run, texts=_read_texts(args.texts), samples=args.samples)
    write_page(data, args.out)
    export_s = time.perf_counter() - t0
    url = Path(args.out).resolve().as_uri()
    ready, load, typing, requests, errors = [], [], [], [], []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                    viewport={"width": 1400, "height": 1000})
        for k in range(args.repeats):
            page = ctx.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            ready.append(page.evaluate("window.lstmkitReadyMs"))
            load.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            if data["model"] is not None:
                typing.append(page.evaluate("""() => { const t = lstmkit.texts[0];
                    const {ids} = lstmkit.encode(t.tokens.join(' ')); const s = performance.now();
                    lstmkit.net.run(ids.slice(-lstmkit.data.model.maxlen)); return performance.now() - s; }"""))
            if k == 0 and args.screenshot:
                page.click(".unit >> nth=0")  # a selected unit and its top contexts in the picture
                page.screenshot(path=args.screenshot, full_page=False)
            page.close()
        ctx.close()
    if errors or set(requests) != {url}:
        raise SystemExit(f"the page fetched {sorted(set(requests) - {url})} or logged errors {errors[:3]}")
    tokens = [len(t["tokens"]) for t in data["texts"]]
    record = {
        "run": Path(args.run).name, "kind": data["kind"], "layers": [la["key"] for la in data["layers"]],
        "model_params_inlined": data["model"]["params"] if data["model"] else None, "model_note": data["model_note"],
        "texts": len(tokens), "text_tokens": tokens, "samples": args.samples,
        "page_bytes": Path(args.out).stat().st_size, "export_seconds": round(export_s, 2),
        "ready_ms_median": round(statistics.median(ready), 1), "ready_ms": [round(x, 1) for x in ready],
        "load_event_ms_median": round(statistics.median(load), 1),
        "typing_ms_median": round(statistics.median(typing), 1) if typing else None,
        "repeats": args.repeats, "command": " ".join(["benchmarks/insight_page.py", *sys.argv[1:]]),
        "note": args.note, "load_average_1_5_15": {"before": [round(x, 2) for x in load_before],
                                                    "after": [round(x, 2) for x in os.getloadavg()]},
        "environment": env,
    }
    print({k: v for k, v in record.items() if k not in ("environment", "ready_ms")})
    if not args.no_record:
        append_jsonl(RESULTS, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
