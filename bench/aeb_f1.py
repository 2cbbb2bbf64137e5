"""Body-text F1 of ``newsarchive extract`` on the article-extraction benchmark.

Runs the real command over the benchmark's 181 pages and scores it with the
benchmark's own evaluate.py, beside trafilatura alone on the same pages.

    python bench/aeb_f1.py [--aeb DIR]      (default ../shared/benchmarks/aeb)
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AEB = ROOT.parent / "shared" / "benchmarks" / "aeb"


def load_evaluator(aeb: Path):
    spec = importlib.util.spec_from_file_location("aeb_evaluate", aeb / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def newsarchive_predictions(pages: dict[str, Path]) -> dict[str, dict]:
    command = [sys.executable, "-m", "crawler", "extract", *map(str, pages.values())]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    by_uri = {}
    for line in result.stdout.splitlines():
        record = json.loads(line)
        by_uri[record["url"]] = record["text"]
    return {key: {"articleBody": by_uri.get(path.resolve().as_uri(), "")} for key, path in pages.items()}


def trafilatura_predictions(pages: dict[str, Path]) -> dict[str, dict]:
    import trafilatura

    # Comments excluded, as newsarchive does: the like-for-like baseline (F1 0.960).
    return {key: {"articleBody": trafilatura.extract(path.read_bytes(), include_comments=False) or ""} for key, path in pages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aeb", type=Path, default=DEFAULT_AEB)
    parser.add_argument("--n-bootstrap", type=int, default=200)
    args = parser.parse_args()
    evaluator = load_evaluator(args.aeb)
    truth = json.loads((args.aeb / "ground-truth.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        pages = {}
        for key in truth:
            path = Path(scratch) / f"{key}.html"
            path.write_bytes(gzip.decompress((args.aeb / "html" / f"{key}.html.gz").read_bytes()))
            pages[key] = path
        runs = {"newsarchive extract": newsarchive_predictions(pages), "trafilatura alone": trafilatura_predictions(pages)}
    print(f"{'':<22} {'F1':<14} {'precision':<14} {'recall':<14} pages")
    for name, prediction in runs.items():
        metrics = evaluator.evaluate(truth, prediction, args.n_bootstrap)
        print(
            f"{name:<22} {metrics['f1']:.3f} ± {metrics['f1_std']:.3f}  {metrics['precision']:.3f} ± {metrics['precision_std']:.3f}"
            f"  {metrics['recall']:.3f} ± {metrics['recall_std']:.3f}  {len(prediction)}"
        )


if __name__ == "__main__":
    main()
