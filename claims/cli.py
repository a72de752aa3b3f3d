"""The resnet-claims command line: list | verify | report | calibrate."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .cache import CellCache
from .configs import check_config, describe_claim
from .executors import ExecutorError, make_executor
from .plugins import PluginError, available, resolve
from .spec import BUDGETS, Claim, ClaimError, all_claims, select
from .run import Execution
from .verify import exit_status, summary_line, verify, write_results

EXAMPLES_VERIFY = """examples:
  resnet-claims verify                                  # every claim, default budget, reference impl
  resnet-claims verify --claims 'marion.*' --budget smoke
  resnet-claims verify --impl mypkg.resnet:factory --out reports/mine
  resnet-claims verify --claims marion.iid_sqrt_l_unique --config '{"activation": "tanh"}'
exit status: 0 all hold, 1 some violated or error, 3 some inconclusive (none violated), 2 bad usage"""

EXAMPLES_CALIBRATE = """examples:
  resnet-claims calibrate                               # every claim, 20 seeds, default budget
  resnet-claims calibrate --seeds 5 --budget smoke --claims 'marion.*' --out reports/cal-smoke
runs each claim on the reference and on every negative control it lists; rerunning the same
command resumes from --out/calibration.json.
exit status: 0 every target met, 1 some target missed or a run errored, 2 bad usage"""


DEFAULT_CALIBRATION = Path("reports/calibration/calibration.json")
CALIBRATION_HELP = (f"calibration.json whose reliability table the HTML report shows (default: {DEFAULT_CALIBRATION} "
                    "when present; 'none' to leave it out)")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resnet-claims", description="Verify theoretical claims about deep ResNets.")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list every claim id with its statement and source",
                        epilog="examples:\n  resnet-claims list\n  resnet-claims list --verbose marion.iid_sqrt_l_unique",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--verbose", nargs="+", metavar="ID", default=None,
                    help="for these claim ids or globs: the NetSpecs each budget builds and the --config fields honoured")
    v = sub.add_parser("verify", help="run claims against an implementation and write results.json",
                       epilog=EXAMPLES_VERIFY, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--claims", nargs="+", metavar="ID", help="claim ids or globs (default: all)")
    v.add_argument("--budget", default="default", help=f"one of {', '.join(BUDGETS)} (default: default)")
    v.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    v.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    v.add_argument("--dtype", default="float32", help="float32 or float64 (default float32)")
    v.add_argument("--impl", default=None, help="implementation: a registered name or module:factory "
                   "(default: $RESNET_CLAIMS_IMPL, else reference)")
    v.add_argument("--config", default=None, help="JSON object of parameters overriding the claim's fixed ones")
    v.add_argument("--out", default="reports", help="output folder for results.json (default reports/)")
    v.add_argument("--calibration", default=None, metavar="PATH", help=CALIBRATION_HELP)
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.add_argument("--no-cache", action="store_true", help="neither read nor write the cell cache")
    v.add_argument("--with-controls", action="store_true",
                   help="also run each claim on the negative controls it lists (shown in the report)")
    v.add_argument("--executor", default="inline",
                   help="where cells run: inline (default), processes:N, or dask://HOST:PORT")
    k = sub.add_parser("cache", help="show or clear the cell cache ($RESNET_CLAIMS_CACHE or the user cache folder)",
                       epilog="examples:\n  resnet-claims cache info\n  resnet-claims cache clear",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("action", help="info or clear")
    c = sub.add_parser("calibrate", help="measure the suite's false-alarm rate and power (reliability table)",
                       epilog=EXAMPLES_CALIBRATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--seeds", type=int, default=20, metavar="K", help="number of master seeds (default 20)")
    c.add_argument("--first-seed", type=int, default=0, help="seeds are FIRST..FIRST+K-1 (default 0)")
    c.add_argument("--budget", default="default", help=f"one of {', '.join(BUDGETS)} (default: default)")
    c.add_argument("--claims", nargs="+", metavar="ID", help="claim ids or globs (default: all)")
    c.add_argument("--impl", default="reference", help="implementation calibrated as the reference "
                   "(default: reference; controls are always the reference with one defect)")
    c.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    c.add_argument("--dtype", default="float32", help="float32 or float64 (default float32)")
    c.add_argument("--out", default="reports/calibration",
                   help="folder for calibration.json and calibration.md (default reports/calibration/)")
    c.add_argument("--controls", nargs="*", metavar="NAME", default=None,
                   help="only these of the listed controls (none after the flag: the reference alone)")
    c.add_argument("--expected", default=None, metavar="PATH",
                   help="expected-verdicts file: its 'violated' lines for the reference are findings, not false "
                        "alarms (default: tests/claims-expected.txt when present)")
    c.add_argument("--fresh", action="store_true", help="ignore runs saved by an earlier calibration in --out")
    c.add_argument("--quiet", action="store_true", help="no line per run")
    r = sub.add_parser("report", help="rebuild the HTML report from saved results.json file(s)",
                       epilog="examples:\n  resnet-claims report reports/results.json\n"
                              "  resnet-claims report a/results.json b/results.json --out compare/",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("results", nargs="+", help="results.json files (several: side-by-side comparison)")
    r.add_argument("--out", default=None, help="output folder (default: folder of the first file)")
    r.add_argument("--calibration", default=None, metavar="PATH", help=CALIBRATION_HELP)
    return p


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise UsageError(f"--{name} {value!r} is not allowed; choose one of: {', '.join(allowed)}")


def _config(text: str | None, claims: Sequence[Claim], budget: str = "default") -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--config is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise UsageError("--config must be a JSON object such as '{\"activation\": \"tanh\"}'")
    from reference_impl.protocol import NetSpec, SpecError

    probe = {k: v for k, v in config.items() if k in NetSpec.__dataclass_fields__}
    try:
        NetSpec(**{"width": 8, "depth": 2, **probe})
    except (SpecError, TypeError) as exc:
        raise UsageError(f"--config: {exc}") from None
    for claim in claims:
        check_config(claim, config, budget)  # a field the measurement ignores is bad usage (ClaimError: exit 2)
    return config


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    if quiet or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="cell", file=sys.stderr, leave=False)

    def update(claim_id: str, done: int, total: int) -> None:
        if bar.total != total or done == 1:
            bar.reset(total=total)
        bar.set_description(claim_id)
        bar.update(done - bar.n)

    return update, bar


def cmd_cache(args: argparse.Namespace) -> int:
    _check_choice("cache action", args.action, ("info", "clear"))
    cache = CellCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} cell(s) from {cache.path}")
    else:
        info = cache.info()
        print(f"{info['path']}: {info['cells']} cell(s), {info['bytes'] / 1e6:.2f} MB")
    return 0


def cmd_list(verbose: Sequence[str] | None = None) -> int:
    if verbose:
        print("\n".join(describe_claim(c) for c in select(verbose)))
        return 0
    for c in all_claims():
        print(f"{c.id}\n    {c.statement}\n    source: {c.source.paper}, arXiv:{c.source.arxiv}, {c.source.where}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    _check_choice("budget", args.budget, BUDGETS)
    _check_choice("dtype", args.dtype, ("float32", "float64"))
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        raise UsageError(f"--device {args.device!r} is not allowed; choose one of: cpu, cuda, cuda:N")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is False)")
    claims = select(args.claims)
    config = _config(args.config, claims, args.budget)
    impl, source = resolve(args.impl)
    out = Path(args.out)
    update, bar = _progress(args.quiet)
    execution = Execution(make_executor(args.executor), None if args.no_cache else CellCache(), update)

    def save(results: dict[str, Any]) -> None:
        write_results(results, out)
        if bar is not None:
            bar.clear()
        print(summary_line(results["claims"][-1]), flush=True)

    print(f"implementation {impl.name} ({source}), budget {args.budget}, seed {args.seed}, device {args.device}, "
          f"dtype {args.dtype}: {len(claims)} claim(s)", flush=True)
    try:
        results = verify(claims, impl, source, args.budget, args.seed, args.device, args.dtype, config, execution, save,
                         args.with_controls)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished claims are kept in {out / 'results.json'} and finished cells in the "
              "cache; rerun the same command to resume (only missing cells are computed)", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    write_results(results, out)
    _write_report([results], out, args.calibration)
    counts = ", ".join(f"{k} {v}" for k, v in results["run"]["counts"].items() if v)
    print(f"{counts}; {results['run']['seconds']:.1f}s; results in {out / 'results.json'}")
    return exit_status(results)


def _calibration(value: str | None) -> dict[str, Any] | None:
    """The calibration to show in the report: --calibration PATH, 'none', or the default file if present.
    An unusable file is reported on stderr and left out; it never stops the report."""
    from .calibrate import load_calibration

    if value == "none":
        return None
    path = Path(value) if value else DEFAULT_CALIBRATION
    if value is None and not path.exists():
        return None
    try:
        return load_calibration(path)
    except ValueError as exc:
        print(f"resnet-claims: warning: reliability table left out of the report: {exc}", file=sys.stderr)
        return None


def _write_report(results: list[dict[str, Any]], out: Path, calibration: str | None = None) -> Path:
    from .report import write_report

    path = write_report(results, out, _calibration(calibration))
    print(f"report: {path}")
    return path


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import all_met, calibrate
    from .expected import DEFAULT_PATH as DEFAULT_EXPECTED
    from .expected import ExpectedFileError, load_expected

    _check_choice("budget", args.budget, BUDGETS)
    _check_choice("dtype", args.dtype, ("float32", "float64"))
    if args.seeds < 1:
        raise UsageError(f"--seeds {args.seeds} is not allowed; expected a positive integer")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        raise UsageError(f"--device {args.device!r} is not allowed; choose one of: cpu, cuda, cuda:N")
    claims = select(args.claims)
    unknown = sorted(set(args.controls or ()) - set(available()))
    if unknown:
        raise UsageError(f"--controls {unknown} unknown; known: {', '.join(available())}")
    out = Path(args.out)
    expected_path = Path(args.expected) if args.expected else DEFAULT_EXPECTED
    if args.expected and not expected_path.is_file():
        raise UsageError(f"--expected {args.expected!r}: no such file")
    try:
        expected = load_expected(expected_path) if expected_path.is_file() else {}
    except ExpectedFileError as err:
        raise UsageError(str(err)) from err
    log = None if args.quiet else (lambda line: print(line, flush=True))
    try:
        data = calibrate(claims, args.seeds, args.budget, args.device, args.dtype, args.impl, args.first_seed,
                         out, resume=not args.fresh, log=log, controls=args.controls, expected=expected)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {out / 'calibration.json'}; "
              "rerun the same command to compute the rest", file=sys.stderr)
        return 130
    print((out / "calibration.md").read_text())
    print(f"reliability table: {out / 'calibration.md'} and {out / 'calibration.json'}")
    return 0 if all_met(data) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from .report import load_results

    results = [load_results(Path(p)) for p in args.results]
    out = Path(args.out) if args.out else Path(args.results[0]).parent
    _write_report(results, out, args.calibration)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnet-claims`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.verbose)
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "cache":
            return cmd_cache(args)
        if args.command == "calibrate":
            return cmd_calibrate(args)
        return cmd_report(args)
    except (UsageError, ClaimError, PluginError, ExecutorError, FileNotFoundError) as exc:
        print(f"resnet-claims: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
