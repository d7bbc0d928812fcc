#!/usr/bin/env python3
"""Writes ../shared/data/pgdocs as Markdown: one file per documentation page, one `##` section
per BEIR document (the page's sections and their parts), in corpus order.

A real-world corpus of short sections (~1.2 KB each) for the ingest benchmark, beside the
generated one of ingest_bench (random words) and the nodejs/npm Markdown (long sections).

    python3 bench/corpora/pgdocs_markdown.py ../shared/data/pgdocs /tmp/pgmd
"""
import json
import os
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    corpus, out_dir = os.path.join(sys.argv[1], "corpus.jsonl"), sys.argv[2]
    pages: dict[str, list[tuple[str, str]]] = {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            page = doc["_id"].split("#", 1)[0]
            pages.setdefault(page, []).append((doc["title"], doc["text"]))
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for page, sections in pages.items():
        body = "".join(f"## {title}\n\n{text.strip()}\n\n" for title, text in sections)
        text = f"# {page}\n\n{body}"
        with open(os.path.join(out_dir, page.replace("/", "_") + ".md"), "w", encoding="utf-8") as f:
            f.write(text)
        total += len(text.encode("utf-8"))
    print(f"{len(pages)} pages, {sum(len(s) for s in pages.values())} sections, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
