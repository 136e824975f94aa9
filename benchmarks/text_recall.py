"""Recall and precision of the text indexer on the corpus of real screens (text_corpus.py).

Each screen of the corpus is given to the indexer as recorder gives it while
recording (the BGRA frame and the rectangles that changed, grown by the
margin), and the words it read are compared with the words put on the screen.
A word is what search can find: a run of letters and digits (FTS5's
unicode61 tokens) of 3 or more characters, compared in the index's ``norm``
form (casefolded, O/0 and l/I/i/| as one: what ``recorder search`` tolerates);
``exact`` compares casefolded words only. Per screen, words are counted with
their repeats: recall = words on screen that were read / words on screen,
precision = words read that were on screen / words read.

    python benchmarks/text_corpus.py --out /tmp/text-corpus
    python benchmarks/text_recall.py --corpus /tmp/text-corpus --json benchmarks/results/text-recall.json
    python benchmarks/text_recall.py --corpus /tmp/text-corpus --set scale=3 --set layout=sparse

``--set`` changes an option of the indexer (the ``tesseract`` options of
docs/configuration.md) to see what it is worth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

import attrs
from PIL import Image

from recorder import Screen
from recorder.plugins.tesseract import TesseractOptions
from recorder.plugins.tesseract.reader import TesseractIndexer
from recorder.store.text_norm import normalize

WORD = re.compile(r"[^\W_]+")


def words(text: str, exact: bool) -> Counter:
    form = text.casefold() if exact else normalize(text)
    return Counter(w for w in WORD.findall(form) if len(w) >= 3)


def screen_of(path: Path) -> Screen:
    image = Image.open(path).convert("RGBA")
    return Screen(image.width, image.height, image.width * 4, image.tobytes("raw", "BGRA"))


def score(truth: Counter, read: Counter) -> dict:
    hit = sum((truth & read).values())
    return {"truth": sum(truth.values()), "read": sum(read.values()), "hit": hit}


def rates(counts: dict) -> dict:
    return {"recall": round(counts["hit"] / counts["truth"], 4) if counts["truth"] else None,
            "precision": round(counts["hit"] / counts["read"], 4) if counts["read"] else None, **counts}


def add(total: dict, counts: dict) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


def options_from(assignments: list[str]) -> TesseractOptions:
    fields = {f.name: f for f in attrs.fields(TesseractOptions)}
    values = {}
    for assignment in assignments:
        key, value = assignment.split("=", 1)
        kind = type(fields[key].default)
        values[key] = kind(value)
    return TesseractOptions(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="an indexer option: key=value")
    parser.add_argument("--psm", type=int,
                        help="an experiment: Tesseract's page segmentation mode, whatever layout says")
    parser.add_argument("--only", default="", help="kinds of screen to read (terminal,browser,grid,dialog)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpus = json.loads((args.corpus / "truth.json").read_text(encoding="utf-8"))
    indexer = TesseractIndexer(options_from(args.set))
    if args.psm is not None:
        indexer._open().SetPageSegMode(args.psm)
    rows, groups = [], {}
    for info in corpus["screens"]:
        if args.only and info["kind"] not in args.only.split(","):
            continue
        screen = screen_of(args.corpus / info["file"])
        started = time.process_time()
        seen = indexer.read(screen, [tuple(r) for r in info["rects"]])
        cpu = time.process_time() - started
        text = "\n".join(s.text for s in seen)
        truth = "\n".join(info["lines"])
        counts = {mode: score(words(truth, mode == "exact"), words(text, mode == "exact"))
                  for mode in ("norm", "exact")}
        norm_truth, norm_read = words(truth, False), words(text, False)
        row = {"file": info["file"], "kind": info["kind"], "font": info["font"], "px": info["px"],
               "theme": info["theme"], "scale": info["scale"], "cpu_s": round(cpu, 3),
               "megapixels": round(sum(r[2] * r[3] for r in info["rects"]) / 1e6, 3),
               **rates(counts["norm"]), "exact": rates(counts["exact"]),
               "missed": sorted((norm_truth - norm_read).elements())[:20],
               "wrong": sorted((norm_read - norm_truth).elements())[:20]}
        rows.append(row)
        print(f"{row['file']:44} recall {row['recall']:.3f} precision {row['precision'] or 0:.3f} "
              f"({row['hit']}/{row['truth']}, {row['read']} read) {cpu:5.2f} CPU s", flush=True)
        dark = "light" if info["theme"] == "light" else "dark"
        for key in ("all", info["kind"], f"{info['kind']} {dark}", f"{info['px']} px", f"scale {info['scale']:g}",
                    f"theme {dark}", f"font {info['font']}"):
            group = groups.setdefault(key, {"norm": {}, "exact": {}, "cpu_s": 0.0, "megapixels": 0.0, "screens": 0})
            add(group["norm"], counts["norm"])
            add(group["exact"], counts["exact"])
            group["cpu_s"] += cpu
            group["megapixels"] += row["megapixels"]
            group["screens"] += 1
    indexer.close()
    summary = {key: {**rates(g["norm"]), "exact": rates(g["exact"]), "screens": g["screens"],
                     "cpu_s_per_screen": round(g["cpu_s"] / g["screens"], 3),
                     "cpu_s_per_megapixel": round(g["cpu_s"] / max(g["megapixels"], 1e-9), 3)}
               for key, g in groups.items()}
    print()
    for key, line in summary.items():
        print(f"{key:34} recall {line['recall']:.3f} precision {line['precision']:.3f} "
              f"(exact {line['exact']['recall']:.3f} / {line['exact']['precision']:.3f}) "
              f"{line['screens']:3} screens, {line['cpu_s_per_screen']:.2f} CPU s each")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        import tesserocr

        args.json.write_text(json.dumps({"machine": machine, "tesseract": tesserocr.tesseract_version().split()[1],
                                         "options": attrs.asdict(indexer.options), "psm": args.psm,
                                         "seed": corpus["seed"],
                                         "summary": summary, "screens": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
