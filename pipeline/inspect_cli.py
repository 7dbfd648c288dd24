"""`corpusprep inspect RUN`: the documents behind the card's numbers, printed for a terminal (or as
JSON with --json). The answers come from inspect_views and inspect_whatif."""
from __future__ import annotations

import argparse
import json
from typing import Any

from pipeline.errors import ConfigError
from pipeline.formatting import human_bytes, short_number


def add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="look at the documents behind a run's numbers; re-decide thresholds",
                       description="One question at a time about a finished run (its output folder, or its "
                                   "card folder): the documents dropped for a reason, one document's journey, "
                                   "a duplicate cluster, a benchmark's leaks, or what other thresholds would "
                                   "have decided, from the measures the run stored (no re-run).")
    p.add_argument("run", help="run output folder (run.output) or its card folder")
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--reason", metavar="STAGE.REASON", help="documents dropped for it, e.g. quality.gopher_dup_5gram")
    q.add_argument("--doc", metavar="ID", help="one document through every step")
    q.add_argument("--cluster", metavar="ID", help="the dedup cluster of a document (kept or removed member)")
    q.add_argument("--leaks", metavar="BENCHMARK", help="documents that matched a benchmark's items, e.g. gsm8k")
    q.add_argument("--what-if", nargs="+", metavar="stages.STAGE.KEY=VALUE",
                   help="re-decide the stage from its stored measures under these settings")
    p.add_argument("--n", type=int, default=5, help="documents to show (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample shown (default 0)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")


def cmd_inspect(args: argparse.Namespace) -> int:
    from pipeline import inspect_views as v
    from pipeline.inspect_run import RunView
    from pipeline.inspect_whatif import what_if

    if args.n < 1:
        raise ConfigError(f"--n {args.n}: must be >= 1")
    view = RunView.open(args.run)
    if args.reason:
        ans, show = v.reason_view(view, args.reason, args.n, args.seed), _print_reason
    elif args.doc:
        ans, show = v.doc_view(view, args.doc), _print_doc
    elif args.cluster:
        ans, show = v.cluster_view(view, args.cluster), _print_cluster
    elif args.leaks:
        ans, show = v.leaks_view(view, args.leaks, args.n), _print_leaks
    else:
        ans, show = what_if(view, args.what_if, min(args.n, 3), args.seed), _print_what_if
    print(json.dumps(ans, indent=1, default=str, ensure_ascii=False) if args.json else "\n".join(show(ans)))
    return 0


def _checks(x: dict[str, Any]) -> list[str]:
    out = [f"    {m} = {short_number(val)} {op} {short_number(t)}" for m, val, op, t in x.get("checks", [])]
    if x.get("found"):
        out.append(f"    listed words found: {', '.join(x['found'])}")
    out += [f"    matched {item} ({method}, {n} n-gram(s)), first: {gram[:120]}" for item, method, n, gram
            in x.get("matches", [])]
    return out


def _print_reason(a: dict[str, Any]) -> list[str]:
    L = [f"{a['reason']}: {a['dropped']:,} document(s) dropped; {len(a['shown'])} shown (--seed {a['seed']})"]
    for x in a["shown"]:
        L += ["", f"- {x['id']}  {x['url']}" + (f"  ({x['detail']})" if x["detail"] else "")] + _checks(x)
        L.append("    " + x["excerpt"].replace("\n", "\n    "))
    return L


def _print_doc(a: dict[str, Any]) -> list[str]:
    L = [f"{a['id']}: {a['final']}"]
    for s in a["steps"]:
        L.append(f"  {s['step']}: {s['verdict']}" + (f" ({s['reason']}" + (f": {s['detail']}" if s.get("detail")
                                                                            else "") + ")" if "reason" in s else "")
                 + (f"; text {s['text']}" if "text" in s else ""))
        if s.get("measures"):
            L.append("    measures: " + ", ".join(f"{k} {short_number(v)}" for k, v in s["measures"].items()))
        L += ["    " + d for d in s.get("diff", [])]
        if s.get("diff_lines", 0) > len(s.get("diff", [])):
            L.append(f"    ... {s['diff_lines'] - len(s['diff'])} more diff lines (--json has the first 40)")
        if s.get("cluster"):
            c = s["cluster"]
            L.append(f"    duplicate cluster: kept {c['kept']}, removed {', '.join(c['members'])}")
        L += [f"    matched {item} ({method}): {gram[:120]}" for item, method, gram in s.get("matches", [])]
    return L


def _print_cluster(a: dict[str, Any]) -> list[str]:
    if not a["members"]:
        return [f"{a['kept']}: in no duplicate cluster"]
    L = [f"cluster of {a['kept']} (kept) and {len(a['members'])} removed", "", f"kept {a['kept']}:",
         "    " + (a.get("kept_excerpt") or "(text not kept)").replace("\n", "\n    ")]
    for m in a["members"]:
        L += ["", f"removed {m['id']} ({m['how']}, Jaccard {short_number(m.get('jaccard'))}):",
              "    " + m.get("excerpt", "").replace("\n", "\n    ")]
    return L


def _print_leaks(a: dict[str, Any]) -> list[str]:
    L = [f"{a['benchmark']}: {a['docs']:,} document(s) matched {a['items']:,} item(s); {len(a['shown'])} shown"]
    for d in a["shown"]:
        L += ["", f"- {d['id']} ({d['verdict']}): items {', '.join(map(str, d['items'][:10]))}"]
        L += ["    " + s.replace("\n", " ") for s in d["spans"]] or [f"    n-gram: {g}" for g in d["grams"][:2]]
    return L


def _print_what_if(a: dict[str, Any]) -> list[str]:
    ch = "; ".join(f"{k} {x!r} -> {y!r}" for k, (x, y) in a["changed"].items()) or "nothing changed"
    L = [f"what if {a['stage']}: {ch}",
         f"  {a['docs_in']:,} documents reached {a['stage']}; kept {a['kept_before']:,} -> {a['kept_after']:,} "
         f"({a['kept_after'] - a['kept_before']:+,})"]
    for key, what in (("newly_dropped", "dropped in addition"), ("newly_kept", "kept in addition")):
        s = a[key]
        L.append(f"  {what}: {s['docs']:,} documents, {human_bytes(s['bytes'])}"
                 + (f" ({', '.join(f'{r} {k}' for r, k in s['by_reason'].items())})" if s["docs"] else ""))
        L += [f"    {e['id']} ({e['reason']}): {e['excerpt'][:160]!r}" for e in s["examples"]]
    if a["reason_changed"]:
        L.append(f"  {a['reason_changed']:,} documents dropped either way, under another reason")
    L += [f"  drops after: {a['drops_after']}",
          "  (bytes as the documents reached the stage; later stages would see the newly kept documents too, "
          "and their verdicts on them are not predicted)"]
    return L
