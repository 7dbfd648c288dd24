"""Real human-written text for the default corpus: API documentation from installed packages.

Every machine that runs corpusprep has the Python standard library and numpy, scipy, matplotlib
and pyarrow installed (they are dependencies), and their docstrings are prose written by people.
Each public class or function with enough prose becomes one article; a class's article includes
its methods' docstrings. Versions of the packages are recorded, since they decide the text.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import pkgutil
import re
import sys
import warnings
from dataclasses import dataclass

# Modules that print, open windows, start tests or are deprecated shims.
_SKIP_TOP = {"encodings", "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data",
             "test", "lib2to3", "ensurepip", "venv", "xxlimited", "xxsubtype", "__main__",
             "__phello__", "pip", "setuptools", "distutils"}
_SKIP_PART = {"tests", "testing", "conftest", "test", "setup", "conf", "backends", "_api"}
PACKAGES = ("numpy", "scipy", "matplotlib", "pyarrow")


@dataclass(frozen=True)
class ArticlePart:
    kind: str  # "h" heading, "p" paragraph, "pre" code, "ul" list (text = items joined by \n)
    text: str


@dataclass(frozen=True)
class Article:
    name: str  # qualified name, e.g. "json.JSONDecoder"
    module: str
    title: str
    blocks: tuple[ArticlePart, ...]

    @property
    def n_words(self) -> int:
        return sum(len(b.text.split()) for b in self.blocks if b.kind in ("p", "ul"))


_UNDERLINE = re.compile(r"^\s*[-=~^]{3,}\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_MARKUP = re.compile(r"``|`_?|\*\*|\[\w+\]_")
_DIRECTIVE = re.compile(r"^\s*\.\. [\w:-]+::.*$|^\s*[=\-~^+|]{3,}[\s=\-+|]*$", re.M)
_PARAM = re.compile(r"^\s*\**\w+\s+:\s+\S")


def rst_to_text(text: str) -> str:
    """What a docs site shows for reST source: roles and literals as plain words, no markup."""
    return _MARKUP.sub("", _ROLE.sub(r"\1", text))


def _generated(text: str) -> bool:
    """Machine-written tables in docstrings (matplotlib's expanded property lists:
    "agg_filter: a filter function ... alpha: unknown animated: bool ..."), not prose."""
    return text.count(": ") > 12 and text.count(": ") > len(text.split()) / 8


def docstring_blocks(doc: str) -> list[ArticlePart]:
    """Split a docstring into headings, prose paragraphs and lists, as a docs site renders it.

    Code examples, doctests, reST tables and directives are left out: the default corpus is the
    prose of the documentation (its code would be judged by code filters, not prose rules).
    Parameter entries ("x : array_like Input array.") become list items.
    """
    blocks: list[ArticlePart] = []
    doc = _DIRECTIVE.sub("", doc)
    for chunk in re.split(r"\n\s*\n", doc.strip()):
        lines = chunk.splitlines()
        if not lines:
            continue
        if len(lines) >= 2 and _UNDERLINE.match(lines[1]):
            blocks.append(ArticlePart("h", rst_to_text(lines[0].strip())))
            lines = lines[2:]
            if not lines:
                continue
        if lines[0].lstrip().startswith(">>>") or all(l.startswith(("    ", "\t")) for l in lines):
            continue  # code
        elif len(lines) > 1 and all(_BULLET.match(l) or l.startswith("  ") for l in lines) \
                and _BULLET.match(lines[0]):
            items: list[str] = []
            for l in lines:
                if _BULLET.match(l):
                    items.append(rst_to_text(_BULLET.sub("", l).strip()))
                else:
                    items[-1] += " " + rst_to_text(l.strip())
            blocks.append(ArticlePart("ul", "\n".join(items)))
        elif _PARAM.match(lines[0]):
            items: list[str] = []
            for l in lines:
                if _PARAM.match(l) or not items:
                    items.append(rst_to_text(l.strip()))
                else:
                    items[-1] += " " + rst_to_text(l.strip())
            blocks.append(ArticlePart("ul", "\n".join(items)))
        else:
            blocks.append(ArticlePart("p", rst_to_text(" ".join(l.strip() for l in lines))))
    return [b for b in blocks if b.text.strip()]


def _skip_part(part: str) -> bool:
    return part.startswith(("_", "test")) or part in _SKIP_PART


def _own_doc(obj: object) -> str | None:
    """The object's own docstring: inspect.getdoc would hand a class its parent's."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None


def _modules() -> list[str]:
    std_paths = [p for p in sys.path if p.startswith(sys.base_prefix) and "site-packages" not in p]
    names = []
    for mi in pkgutil.walk_packages(std_paths, onerror=lambda n: None):
        parts = mi.name.split(".")
        if parts[0] in _SKIP_TOP or any(_skip_part(p) for p in parts):
            continue
        names.append(mi.name)
    for root in PACKAGES:
        try:
            pkg = importlib.import_module(root)
        except ImportError:
            continue
        names.append(root)
        for mi in pkgutil.walk_packages(pkg.__path__, root + ".", onerror=lambda n: None):
            if not any(_skip_part(p) for p in mi.name.split(".")):
                names.append(mi.name)
    return sorted(set(names))


def _article(qualname: str, module: str, obj: object) -> Article | None:
    doc = _own_doc(obj)
    if not doc:
        return None
    blocks = docstring_blocks(doc)
    if inspect.isclass(obj):
        for mname, meth in sorted(vars(obj).items()):
            if mname.startswith("_") and mname != "__init__":
                continue
            mdoc = getattr(meth, "__doc__", None) if callable(meth) else None
            if isinstance(mdoc, str) and mdoc.strip():
                blocks.append(ArticlePart("h", f"{mname}"))
                blocks += docstring_blocks(inspect.cleandoc(mdoc))
    # A docs page shows a repeated paragraph or parameter entry (shared by several methods) once.
    seen: set[str] = set()
    unique = []
    for b in blocks:
        lines = [l for l in b.text.split("\n") if b.kind == "h" or not (l in seen or seen.add(l))]
        if lines and not _generated(b.text):
            unique.append(ArticlePart(b.kind, "\n".join(lines)))
    return Article(qualname, module, qualname.rsplit(".", 1)[-1], tuple(unique))


def collect_articles(min_words: int = 100) -> list[Article]:
    """Articles whose text is reproducible: collected in two interpreters, kept where they agree.

    A few docstrings are generated at import time with random numbers or set reprs (scipy's
    distribution examples, deprecation notes); two collections with different hash seeds and
    fresh random state disagree exactly there, and those articles are left out.
    """
    import os
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    def one(hash_seed: int, out: Path) -> list[dict]:
        env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
        subprocess.run([sys.executable, "-m", "pipeline.sample.articles", str(min_words), str(out)],
                       env=env, capture_output=True, check=True)
        return json.loads(out.read_text(encoding="utf-8"))

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        first, second = pool.map(one, (1, 2), (Path(tmp) / "a.json", Path(tmp) / "b.json"))
    agreed = {json.dumps(a, sort_keys=True) for a in first} & {json.dumps(a, sort_keys=True) for a in second}
    arts = [a for a in first if json.dumps(a, sort_keys=True) in agreed]
    return [Article(a["name"], a["module"], a["title"], tuple(ArticlePart(*b) for b in a["blocks"]))
            for a in arts]


def _collect_in_process(min_words: int) -> list[Article]:
    out: dict[str, Article] = {}
    seen: set[int] = set()
    texts: set[str] = set()  # the same docstring under two names would be an unplanned duplicate
    warnings.filterwarnings("ignore")
    for name in _modules():
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                mod = importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module that fails to import is just skipped
            continue
        root = name.split(".")[0]
        for attr, obj in sorted(vars(mod).items(), key=lambda kv: kv[0]):
            if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            owner = getattr(obj, "__module__", None) or ""
            if owner.split(".")[0] != root or id(obj) in seen:
                continue
            seen.add(id(obj))
            art = _article(f"{name}.{attr}", name, obj)
            if art and art.n_words >= min_words and art.name not in out:
                key = " ".join(b.text for b in art.blocks)
                if key not in texts:
                    texts.add(key)
                    out[art.name] = art
    return [out[k] for k in sorted(out)]


def versions() -> dict[str, str]:
    from importlib import metadata

    v = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            v[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return v


if __name__ == "__main__":
    out = [{"name": a.name, "module": a.module, "title": a.title,
            "blocks": [[b.kind, b.text] for b in a.blocks]}
           for a in _collect_in_process(int(sys.argv[1]))]
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(out, fh)
