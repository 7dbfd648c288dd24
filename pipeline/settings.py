"""The generic settings loader every config of corpusprep is read with: frozen dataclasses built
from TOML tables (or --set overrides), strictly.

Strict because a typo in a threshold name that silently falls back to a default is the worst
kind of data bug: unknown keys, wrong types and out-of-range values all fail at start-up with
the key's full path and what would be accepted. This is the ground floor: it imports nothing of
corpusprep but its errors, so the run config (pipeline/config.py), the stages, the readers and
training's configs all build on it without importing one another.
"""
from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """`value` as type `tp` (ints widen to float, lists to tuples, nested tables to dataclasses),
    or a ConfigError naming the setting and what it expected."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):  # a nested settings table, e.g. model.moe
        return value if isinstance(value, tp) else build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        return _check_union(value, tp, where)
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where} = {value!r}: expected nothing")
    if tp in (int, float, str, bool):
        return _check_scalar(value, tp, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} = {value!r}: expected a list")
        args = typing.get_args(tp)
        item_t = args[0] if args else Any
        return tuple(_check_type(v, item_t, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        return _check_table(value, tp, where)
    return value


def _check_union(value: Any, tp: Any, where: str) -> Any:
    for arg in typing.get_args(tp):
        try:
            return _check_type(value, arg, where)
        except ConfigError:
            continue
    raise ConfigError(f"{where} = {value!r}: expected {tp}")


def _check_scalar(value: Any, tp: type, where: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where} = {value!r}: expected {tp.__name__}")


def _check_table(value: Any, tp: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} = {value!r}: expected a table")
    kt, vt = typing.get_args(tp) or (Any, Any)
    out = {}
    for k, v in value.items():
        key = int(k) if kt is int and isinstance(k, str) and k.lstrip("-").isdigit() else k
        out[_check_type(key, kt, f"{where}.{k}")] = _check_type(v, vt, f"{where}.{k}")
    return out


def build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Make frozen dataclass `cls` from a mapping; unknown keys and wrong types are errors. A key a
    class has renamed (its `RENAMED` class attribute, old -> new) is named with its new name, so an
    old config fails with the fix in the message."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{where}] must be a table, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    renamed = [f"{k} is now {cls.RENAMED[k]}" for k in unknown if k in getattr(cls, "RENAMED", {})]
    if renamed:
        raise ConfigError(f"[{where}] renamed key(s): {'; '.join(renamed)}")
    if unknown:
        raise ConfigError(f"[{where}] unknown key(s) {', '.join(unknown)}; "
                          f"available: {', '.join(known) or '(none)'}")
    kwargs = {k: _check_type(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    missing = [n for n, f in known.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]  # type: ignore[misc]
    if missing:
        raise ConfigError(f"[{where}] missing required key(s): {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"[{where}] {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"[{where}] {e}") from None


def default_of(f: dataclasses.Field) -> Any:
    """A dataclass field's default (made by its factory where it has one); None when required."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (['a','b'], value); the value is read as TOML, else taken as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(doc: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `--set` overrides; `stages.<name>.<key>` addresses a stage by its name."""
    for ov in overrides:
        path, value = parse_override(ov)
        target: Any = doc
        if path[0] == "stages" and len(path) >= 3:
            matches = [s for s in doc.get("stages", []) if s.get("name") == path[1]]
            if not matches:
                raise ConfigError(f"--set {ov}: no stage named {path[1]!r} in this run")
            target, path = matches[0], path[2:]
        for p in path[:-1]:
            target = target.setdefault(p, {})
        target[path[-1]] = value
    return doc


def is_url(path: str) -> bool:
    """A path fsspec resolves to a filesystem other than the local one (pipeline/remote.py
    reads and writes it)."""
    scheme, sep, _ = str(path).partition("://")
    return bool(sep) and scheme.isidentifier() and scheme not in ("file", "local")


def resolve_path(base: Path, value: str) -> str:
    """Paths in a config are relative to the config file's folder ("default" is a name, a URL
    such as s3://bucket/key is remote: pipeline/remote.py)."""
    if value == "default" or is_url(value):
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def read_toml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A TOML file as a dict, or a ConfigError naming the file (missing, not UTF-8, not TOML)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
