"""Input, output and card paths on remote storage (`s3://`, `gs://`, `hf://`, any fsspec URL).

Why a local scratch folder rather than fsspec file objects in every step: the readers map WARC
and zstd files into memory to tolerate damage (pipeline/readers/warc.py), the shards step reads
its token store at positions, and every write is a rename of a finished temp file, none of
which an object store offers. So a run with remote paths works on local copies: the input is
copied into `run.scratch` before the start-up checks (streamed file by file, a file already
there at the same size is not fetched again), the run writes into the scratch copy of its
output, and after every step the output folder is synchronised to its URL (new and changed
files uploaded, files the run removed deleted), the card after it is written. A run resumed on
another machine first fetches what the URL holds. Object stores make each upload atomic, so a
reader of the URL sees finished files only.

Costs: scratch disk of the input plus the output; on a multi-node Ray cluster `run.scratch`
must be a filesystem every node shares (as local output folders must be).
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, InputError, RunError
from pipeline.settings import is_url


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) of a URL; a ConfigError that names the package to
    install when the scheme's implementation is missing, before any work."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        extra = " (pip install 'corpusprep[s3]')" if url.startswith(("s3://", "s3a://")) else ""
        raise ConfigError(f"{url}: {e}{extra}; this check runs before any work") from e
    except ValueError as e:
        raise ConfigError(f"{url}: {e}") from e


@dataclass
class Synced:
    """A local folder kept equal to a remote one: what was pushed or pulled, by (size, mtime),
    so each sync uploads only files that are new or changed since."""

    local: Path
    url: str
    fs: Any = field(init=False, repr=False)
    root: str = field(init=False)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.fs, self.root = filesystem(self.url)
        self.root = self.root.rstrip("/")

    def remote_files(self) -> dict[str, int]:
        """Relative path -> size of every file under the URL ({} when there is none)."""
        if not self.fs.exists(self.root):
            return {}
        found = self.fs.find(self.root, detail=True)
        return {name[len(self.root) + 1:]: int(info.get("size") or 0) for name, info in found.items()
                if info.get("type", "file") == "file" and name.startswith(self.root + "/")}

    def pull(self) -> None:
        """Fetch every remote file that the local folder lacks or holds at another size."""
        for rel, size in sorted(self.remote_files().items()):
            dest = self.local / rel
            if not (dest.is_file() and dest.stat().st_size == size):
                _fetch(self.fs, f"{self.root}/{rel}", dest)
            st = dest.stat()
            self.seen[rel] = (st.st_size, st.st_mtime_ns)

    def push(self) -> None:
        """Upload new and changed local files, delete remote files the local folder no longer
        has; temp files of unfinished writes (`.*.tmp`) never leave the machine."""
        local = {str(p.relative_to(self.local)): p for p in sorted(self.local.rglob("*"))
                 if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))}
        remote = self.remote_files()
        for rel, p in local.items():
            st = p.stat()
            if self.seen.get(rel) != (st.st_size, st.st_mtime_ns) or remote.get(rel) != st.st_size:
                self.fs.put_file(str(p), f"{self.root}/{rel}")
                self.seen[rel] = (st.st_size, st.st_mtime_ns)
        for rel in sorted(set(remote) - set(local)):
            self.fs.rm_file(f"{self.root}/{rel}")
            self.seen.pop(rel, None)


def _fetch(fs: Any, remote: str, dest: Path) -> None:
    """One remote file to `dest`, streamed in blocks, renamed into place when complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.fetch")
    fs.get_file(remote, str(tmp))
    tmp.replace(dest)


@dataclass
class RemoteRun:
    """The scratch copies of a run's remote paths and how to keep them in step."""

    output: Synced | None
    cards: Synced | None

    def after_step(self) -> None:
        if self.output is not None:
            self.output.push()

    def after_card(self) -> None:
        self.after_step()
        if self.cards is not None:
            self.cards.push()


def scratch_of(cfg: Any) -> Path:
    """`run.scratch`, or a folder under the system temp dir named for the run and its output URL
    (two runs to different URLs never share one)."""
    if cfg.run.scratch:
        return Path(cfg.run.scratch)
    tag = hashlib.sha256(f"{cfg.run.output}|{cfg.input.path}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"corpusprep-{cfg.run.name}-{tag}"


def localize(cfg: Any, resume: bool) -> tuple[Any, RemoteRun]:
    """`cfg` with its remote paths replaced by scratch copies (the input fetched, the output
    fetched when resuming), and the RemoteRun that pushes the output and card back (one that
    does nothing when no path is remote). `cfg.source`, and so the config hash and the card, keep the URLs."""
    urls = {k: v for k, v in (("output", cfg.run.output), ("cards_dir", cfg.run.cards_dir),
                              ("path", cfg.input.path), ("labels", cfg.input.labels)) if v and is_url(v)}
    if not urls:
        return cfg, RemoteRun(None, None)
    for url in urls.values():
        filesystem(url)  # a missing implementation fails here, before any transfer
    scratch = scratch_of(cfg)
    run, inp = cfg.run, cfg.input
    output = cards = None
    if "output" in urls:
        output = Synced(scratch / "output", run.output)
        if resume:
            output.pull()
        elif output.remote_files():
            raise RunError(f"output {run.output} is not empty; pass --resume to continue what it holds, or "
                           "choose another run.output")
        else:
            shutil.rmtree(output.local, ignore_errors=True)  # a scratch copy of nothing remote: stale
        run = dataclasses.replace(run, output=str(output.local))
    if "cards_dir" in urls:
        cards = Synced(scratch / "cards", run.cards_dir)
        run = dataclasses.replace(run, cards_dir=str(cards.local))
    changes = {k: str(fetch_input(urls[k], scratch / "input" / k)) for k in ("path", "labels") if k in urls}
    return dataclasses.replace(cfg, run=run, input=dataclasses.replace(inp, **changes)), RemoteRun(output, cards)


def fetch_input(url: str, dest: Path) -> Path:
    """A remote file, folder or glob copied under `dest` with its layout (so document ids, made
    from paths relative to the input's root, equal a local run's on the same layout); files
    already there at the remote size are kept. Returns the local file or folder to read."""
    fs, path = filesystem(url)
    single = False
    if any(c in path for c in "*?["):
        root = re.split(r"[*?\[]", path, maxsplit=1)[0].rsplit("/", 1)[0]
        files = {p: info for p, info in fs.glob(path, detail=True).items() if info.get("type") == "file"}
    elif fs.isdir(path):
        root = path.rstrip("/")
        files = {p: info for p, info in fs.find(root, detail=True).items() if info.get("type", "file") == "file"}
    elif fs.isfile(path):
        root, files, single = path.rsplit("/", 1)[0], {path: fs.info(path)}, True
    else:
        raise InputError(f"input {url!r} does not exist; check input.path in the config")
    if not files:
        raise InputError(f"input {url!r}: no file found")
    for name, info in sorted(files.items()):
        local = dest / name[len(root) + 1:]
        if not (local.is_file() and local.stat().st_size == int(info.get("size") or 0)):
            _fetch(fs, name, local)
    return dest / path[len(root) + 1:] if single else dest
