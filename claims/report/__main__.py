"""``python -m claims.report results.json [more.json] --out DIR``: rebuild the HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from claims.report import ReportError, load_results, write_report


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write the report and print its path; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m claims.report",
        description="Build the HTML verification report from saved results without recomputing.",
        epilog="examples:\n  python -m claims.report reports/results.json\n"
               "  python -m claims.report a/results.json b/results.json --out compare/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", nargs="+", type=Path, help="results.json files; several are compared side by side")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for index.html (default: the folder of the first results file)")
    args = parser.parse_args(argv)
    try:
        results = [load_results(p) for p in args.results]
        out = write_report(results, args.out if args.out is not None else args.results[0].parent)
    except (ReportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
