#!/usr/bin/env bash
# Download the public test data (Aya, XQuAD, MGSM, CMMLU, C-Eval, open QA) into the layout the
# tests read (tests/data.py; shared/data/MANIFEST.md), so a fork's CI has what ../shared/data
# holds here. Each file comes from the public repository and commit the MANIFEST names, and is
# kept only if its git blob id is the one in scripts/test-data.tsv: the bytes are the same as
# ours, or the script fails. The four MGSM exemplar files are derived, as the MANIFEST says, from
# MGSM_EXEMPLARS in url-nlp's mgsm/exemplars.py (read as data with ast.literal_eval, never run).
#
#   scripts/test-data.sh [--dry-run | --verify] [--mirror URL] [DIR]
#
#   DIR         target folder; default $NATIVEJOBS_TEST_DATA, else ../shared/data next to the repo
#   --dry-run   list every file: its source URL and its target path; download nothing
#   --verify    check DIR against the list (no network); exit 1 naming what is missing or differs
#   --mirror    fetch every file as URL/<path in the layout> instead of from the origins (a copy
#               of the folder as a Hugging Face dataset repo, https://huggingface.co/datasets/
#               ORG/NAME/resolve/main, an S3/HTTP mirror, or file:///path); also
#               $NATIVEJOBS_TEST_DATA_MIRROR
#
# Idempotent: a file already there with the right content is not fetched again; a wrong or
# partial one is replaced (downloads land in a temporary file and are renamed when verified).
# Then: export NATIVEJOBS_TEST_DATA=DIR and run the tests. Licences differ per dataset (some
# NonCommercial, some ShareAlike): see the MANIFEST's table before redistributing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v python3 >/dev/null || { echo "test-data.sh: python3 is required" >&2; exit 2; }
exec python3 - "$here/test-data.tsv" "$(dirname "$here")" "$@" <<'PY'
import argparse
import ast
import concurrent.futures
import hashlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

RAW = "{base}/{repo}/{commit}/{path}"
DERIVED = "mgsm/exemplars.py"  # origin path of the derived MGSM exemplar files
ENV, MIRROR_ENV = "NATIVEJOBS_TEST_DATA", "NATIVEJOBS_TEST_DATA_MIRROR"


def blob_id(data: bytes) -> str:
    """What `git hash-object` prints for a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_list(tsv: Path) -> list[dict[str, str]]:
    rows = []
    for line in tsv.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            path, blob, origin, origin_path = line.split("\t")
            repo, commit = origin.split("@")
            rows.append({"path": path, "blob": blob, "repo": repo, "commit": commit, "origin_path": origin_path})
    return rows


GITHUB_RAW = "https://raw.githubusercontent.com"


def source_url(row: dict[str, str], mirror: str | None, raw: str = GITHUB_RAW) -> str:
    if mirror:
        return f"{mirror.rstrip('/')}/{row['path']}"
    return RAW.format(base=raw.rstrip("/"), repo=row["repo"], commit=row["commit"], path=row["origin_path"])


def fetch(url: str, tries: int = 4) -> bytes:
    """The body at url; retried with backoff on network errors and 5xx/429."""
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code < 500 and e.code != 429 or attempt == tries - 1:
                raise RuntimeError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            if attempt == tries - 1 or url.startswith("file:"):  # a missing local file stays missing
                raise RuntimeError(f"{url}: {getattr(e, 'reason', e)}") from None
        time.sleep(2 ** attempt)
    raise AssertionError("unreachable")


def derive_exemplars(source: bytes, lang: str) -> bytes:
    """mgsm_exemplars_{lang}.json from exemplars.py: [{id, q, a, number_answer}], as the
    MANIFEST describes (literals only: the module is parsed, not executed)."""
    tree = ast.parse(source.decode("utf-8"))
    values = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Name)}
    exemplars = ast.literal_eval(values["MGSM_EXEMPLARS"])[lang]
    numbers = ast.literal_eval(values["EXEMPLAR_NUMBER_ANSWERS"])
    rows = [{"id": k, "q": v["q"], "a": v["a"], "number_answer": n}
            for (k, v), n in zip(exemplars.items(), numbers, strict=True)]
    return json.dumps(rows, indent=1, ensure_ascii=False).encode("utf-8")


def is_current(target: Path, blob: str) -> bool:
    return target.is_file() and blob_id(target.read_bytes()) == blob


def get(row: dict[str, str], root: Path, mirror: str | None, raw: str, cache: dict[str, bytes]) -> str:
    """Fetch (or derive) one file into root; return what was done. Raises RuntimeError."""
    target = root / row["path"]
    if is_current(target, row["blob"]):
        return "present"
    url = source_url(row, mirror, raw)
    if row["origin_path"] == DERIVED and not mirror:
        if url not in cache:
            cache[url] = fetch(url)
        lang = row["path"].rsplit("_", 1)[1].removesuffix(".json")
        data = derive_exemplars(cache[url], lang)
    else:
        data = fetch(url)
    if blob_id(data) != row["blob"]:
        raise RuntimeError(f"{row['path']}: {url} gave {len(data)} bytes with git blob "
                           f"{blob_id(data)}, not the expected {row['blob']} (scripts/test-data.tsv)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, target)
    return "fetched"


def main() -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `--dry-run | head` ends quietly
    tsv, repo = Path(sys.argv[1]), Path(sys.argv[2])
    ap = argparse.ArgumentParser(prog="scripts/test-data.sh", description="Download the public test data.")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="list source URL and target of every file")
    mode.add_argument("--verify", action="store_true", help="check DIR against the list, offline")
    ap.add_argument("--mirror", default=os.environ.get(MIRROR_ENV) or None,
                    help=f"base URL of a copy of the layout (default ${MIRROR_ENV}; else the origins)")
    # Tests serve a copy of the origins' trees (file://BASE/REPO/COMMIT/PATH) here.
    ap.add_argument("--github-raw", default=GITHUB_RAW, help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=8, help="parallel downloads")
    ap.add_argument("dir", nargs="?", help=f"target folder (default ${ENV}, else ../shared/data)")
    args = ap.parse_args(sys.argv[3:])
    given = args.dir or os.environ.get(ENV, "").strip()
    root = Path(given).expanduser().resolve() if given else repo.parent / "shared" / "data"
    rows = read_list(tsv)

    if args.dry_run:
        for row in rows:
            how = "derive from" if row["origin_path"] == DERIVED and not args.mirror else "from"
            print(f"{root / row['path']}\t{how} {source_url(row, args.mirror, args.github_raw)}")
        print(f"{len(rows)} files into {root}", file=sys.stderr)
        return 0
    if args.verify:
        bad = [r["path"] for r in rows if not is_current(root / r["path"], r["blob"])]
        for path in bad:
            print(f"missing or different: {root / path}", file=sys.stderr)
        print(f"{len(rows) - len(bad)} of {len(rows)} files in {root} are current", file=sys.stderr)
        return 1 if bad else 0

    cache: dict[str, bytes] = {}
    done: dict[str, int] = {}
    failed: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        # The derived rows share one source file: fetch it once, before the pool can race on it.
        derived = [r for r in rows if r["origin_path"] == DERIVED]
        jobs = {pool.submit(get, r, root, args.mirror, args.github_raw, cache): r for r in rows if r not in derived}
        for r in derived:
            try:
                what = get(r, root, args.mirror, args.github_raw, cache)
                done[what] = done.get(what, 0) + 1
            except (RuntimeError, OSError, KeyError, ValueError, SyntaxError) as e:
                failed.append(f"{r['path']}: {e}")
        for future in concurrent.futures.as_completed(jobs):
            try:
                what = future.result()
                done[what] = done.get(what, 0) + 1
            except (RuntimeError, OSError) as e:
                failed.append(f"{jobs[future]['path']}: {e}")
    summary = ", ".join(f"{n} {what}" for what, n in sorted(done.items())) or "nothing"
    print(f"test data in {root}: {summary}", file=sys.stderr)
    if failed:
        for line in sorted(failed):
            print(f"FAILED {line}", file=sys.stderr)
        print(f"test-data.sh: {len(failed)} of {len(rows)} files could not be fetched; the rest are in "
              f"place. Rerun to retry (present files are kept), or pass --mirror URL.", file=sys.stderr)
        return 1
    print(f"export {ENV}={root}", file=sys.stderr)
    return 0


sys.exit(main())
PY
