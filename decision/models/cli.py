"""`adgw models validate DIR` / `adgw models publish DIR --name N --version V`.

Exit 0 when valid (and published), 1 with one line per problem on stderr, 2 on usage
errors. The registry is `registry=` (the gateway passes its `models_dir` setting),
else `--registry`, else `fixtures/models`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from decision.models.validate import publish_model, validate_model

DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "fixtures" / "models"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="adgw models", description="validate or publish ONNX models")
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a model directory (model.onnx + manifest.json)")
    v.add_argument("dir", type=Path)
    p = sub.add_parser("publish", help="validate and copy into <registry>/<name>/<version>/")
    p.add_argument("dir", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--registry", type=Path, default=None)
    return ap


def main(argv: Sequence[str] | None = None, *, registry: Path | str | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    if args.command == "validate":
        problems = validate_model(args.dir)
        if not problems:
            print(f"{args.dir}: valid", file=out)
    else:
        target = Path(args.registry or registry or DEFAULT_REGISTRY)
        problems = publish_model(args.dir, target, args.name, args.version)
        if not problems:
            print(f"published {args.name}@{args.version} to {target / args.name / args.version}", file=out)
    for problem in problems:
        print(problem, file=err)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
