"""The resnet-claims command line: list | verify | report | calibrate | cache (info, clear, audit)."""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn, Sequence

from .cache import CacheError, CacheWriteError, CellCache
from .configs import check_config, check_values, describe_claim
from .executors import ExecutorError, make_executor
from .plugins import PluginError, available, resolve
from .preregistration import current_digests, render_pinned
from .preregistration import describe as describe_declaration
from .report import write_report
from .spec import BUDGETS, Claim, ClaimError
from .registry import all_claims, select
from .run import Execution
from .verify import exit_status, exit_status_help, summary_line, verify, write_results

EXAMPLES_VERIFY = """examples:
  resnet-claims verify                                  # every claim, default budget, reference impl
  resnet-claims verify --claims 'marion.*' --budget smoke
  resnet-claims verify --impl mypkg.resnet:factory --out reports/mine
  resnet-claims verify --claims marion.iid_sqrt_l_unique --config '{"activation": "tanh"}'
""" + exit_status_help()

EXAMPLES_CALIBRATE = """examples:
  resnet-claims calibrate                               # every claim, 20 seeds, default budget
  resnet-claims calibrate --seeds 5 --budget smoke --claims 'marion.*' --out reports/cal-smoke
  resnet-claims calibrate --merge part-a part-b --out reports/calibration   # parts run apart, one table
runs each claim on the reference, on every negative control it lists and on every positive control
of a finding; rerunning the same command resumes from --out/calibration.json. --merge runs nothing
(--seeds, --controls and --fresh do not apply; --budget, --device, --dtype and --impl must be the
parts').
exit status: 0 every target met, 1 some target missed or a run errored, 2 bad usage"""


DEFAULT_CALIBRATION = Path("reports/calibration/calibration.json")
CALIBRATION_HELP = (f"calibration.json whose reliability table the HTML report shows (default: {DEFAULT_CALIBRATION} "
                    "when present; 'none' to leave it out)")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (what was wrong, then where to read more), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    """A master seed: a non-negative integer (numpy's SeedSequence takes no negative entropy)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; expected a non-negative integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; expected a non-negative integer")
    return value


def _bounded(upper: float, expected: str):  # type: ignore[no-untyped-def]
    """An argparse type: a number x with 0 < x <= upper (finite), else one line naming ``expected``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= upper):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value
    return parse


_seconds = _bounded(math.inf, "a positive number of seconds")
_fraction = _bounded(1.0, "a fraction F with 0 < F <= 1")


def _run_options(parser: argparse.ArgumentParser, where: str) -> None:
    """The options verify and calibrate share: which claims, at which budget, on which device and dtype,
    and where their cells run (``where``: the executor's help)."""
    parser.add_argument("--claims", nargs="+", metavar="ID", help="claim ids or globs (default: all)")
    parser.add_argument("--budget", default="default", help=f"one of {', '.join(BUDGETS)} (default: default)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", default="float32", help="float32 or float64 (default float32)")
    parser.add_argument("--executor", default="inline",
                        help=f"{where}: inline (default), processes:N, or dask://HOST:PORT")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="resnet-claims", description="Verify theoretical claims about deep ResNets.")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list every claim id with its statement and source",
                        epilog="examples:\n  resnet-claims list\n  resnet-claims list --verbose marion.iid_sqrt_l_unique\n"
                               "  resnet-claims list --digests > claims/catalogue/declarations.txt",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--verbose", nargs="+", metavar="ID", default=None,
                    help="for these claim ids or globs: the NetSpecs each budget builds, the --config fields honoured, "
                         "the claim's kind, declaration digests and amendments")
    ls.add_argument("--digests", action="store_true",
                    help="print the current declaration digest of every claim and reading, in the format of "
                         "claims/catalogue/declarations.txt")
    v = sub.add_parser("verify", help="run claims against an implementation and write results.json",
                       epilog=EXAMPLES_VERIFY, formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_options(v, "where cells run")
    v.add_argument("--seed", type=_seed, default=0, help="master seed, a non-negative integer (default 0)")
    v.add_argument("--impl", default=None, help="implementation: a registered name or module:factory "
                   "(default: $RESNET_CLAIMS_IMPL, else reference)")
    v.add_argument("--config", default=None, help="JSON object of parameters overriding the claim's fixed ones")
    v.add_argument("--out", default="reports", help="output folder for results.json (default reports/)")
    v.add_argument("--calibration", default=None, metavar="PATH", help=CALIBRATION_HELP)
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.add_argument("--no-cache", action="store_true", help="neither read nor write the cell cache")
    v.add_argument("--with-controls", action="store_true",
                   help="also run each claim on the negative controls it lists (shown in the report)")
    v.add_argument("--cell-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="a cell (or the plug-in checks before a claim's cells) running longer makes its claim an "
                        "error; the other claims still run. Cells and checks then run in worker processes, killed "
                        "when a plug-in does not stop (default: no limit; inline or processes:N, not Dask)")
    k = sub.add_parser("cache", help="show, clear or audit the cell cache ($RESNET_CLAIMS_CACHE: the database file "
                                     "or its folder; else the user cache folder)",
                       epilog="examples:\n  resnet-claims cache info\n  resnet-claims cache clear\n"
                              "  resnet-claims cache audit --fraction 0.05\n"
                              "  resnet-claims cache audit --impl mypkg.resnet:factory --seed 1234\n"
                              "audit recomputes a random sample of cached cells (seeded from the clock; the seed is "
                              "printed) and lists those that differ or that it could not check: exit status 0 only "
                              "when every sampled cell was recomputed and equal (docs/cache.md)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("action", help="info, clear or audit")
    k.add_argument("--fraction", type=_fraction, default=0.1, metavar="F",
                   help="audit: share of cached cells recomputed, 0 < F <= 1 (default 0.1)")
    k.add_argument("--seed", type=_seed, default=None, help="audit: seed of the sample (default: from the clock)")
    k.add_argument("--impl", action="append", default=None, metavar="IMPL",
                   help="audit: also check cells of this plug-in (module:factory or a registered name; repeatable); "
                        "this package's implementations and controls are always checked")
    c = sub.add_parser("calibrate", help="measure the suite's false-alarm rate and power (reliability table)",
                       epilog=EXAMPLES_CALIBRATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_options(c, "where each run's cells go")
    c.add_argument("--seeds", type=int, default=20, metavar="K", help="number of master seeds (default 20)")
    c.add_argument("--first-seed", type=_seed, default=0, help="seeds are FIRST..FIRST+K-1 (default 0)")
    c.add_argument("--impl", default="reference", help="implementation calibrated as the reference "
                   "(default: reference; controls are always the reference with one defect)")
    c.add_argument("--out", default="reports/calibration",
                   help="folder for calibration.json and calibration.md (default reports/calibration/)")
    c.add_argument("--controls", nargs="*", metavar="NAME", default=None,
                   help="only these of the listed negative and positive controls (none after the flag: the reference "
                        "alone)")
    c.add_argument("--expected", default=None, metavar="PATH",
                   help="expected-verdicts file: its 'violated' lines for the reference are findings, not false "
                        "alarms (default: tests/claims-expected.txt when present)")
    c.add_argument("--fresh", action="store_true", help="ignore runs saved by an earlier calibration in --out")
    c.add_argument("--merge", nargs="+", metavar="FOLDER", default=None,
                   help="run nothing: tabulate in --out the runs of these calibration folders (parts run apart) "
                        "made under the selected claims' current declarations")
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


def parse_config(text: str | None) -> dict[str, Any] | None:
    """The --config JSON object (None when not given), checked against NetSpec and FIELD_RULES; UsageError if bad."""
    if text is None:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--config is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise UsageError("--config must be a JSON object such as '{\"activation\": \"tanh\"}'")
    from reference_impl.protocol import NetSpec, SpecError

    for key in ("device", "dtype"):
        if key in config:
            raise UsageError(f"--config key {key!r} is not allowed: the run's {key} is set by --{key}")
    fields = NetSpec.__dataclass_fields__
    for key, value in config.items():
        if isinstance(value, bool) and key in fields and not isinstance(fields[key].default, bool):
            raise UsageError(f"--config {key}={json.dumps(value)} is not allowed: {key} takes {fields[key].type}, "
                             "not true/false")
    probe = {k: v for k, v in config.items() if k in fields}
    try:
        NetSpec(**{"width": 8, "depth": 2, **probe})
    except (SpecError, TypeError) as exc:
        raise UsageError(f"--config: {exc}") from None
    check_values(config)
    return config


def _largest(value: Any) -> Any:
    return max(value) if isinstance(value, (list, tuple)) and value else value


def memory_need(claim: Claim, budget: str, config: dict[str, Any] | None, dtype: str) -> tuple[float, str]:
    """Bytes that ``claim`` needs at the least, and what they are: the larger of one cell's (one
    weight matrix per network for two networks, and the input and trace of the S networks, at the
    largest width and depth) and validation's (the PROBE_NETWORKS networks of its probe, every layer
    up to MAX_PROBE_DEPTH, as an implementation that forms its weights builds them)."""
    from .validate import MAX_PROBE_DEPTH, PROBE_NETWORKS

    sweep = claim.sweep(budget)
    params = {**sweep.fixed, **(config or {}), **{k: _largest(v) for k, v in {**sweep.axes, **sweep.inner}.items()}}
    width, depth = params.get("width"), params.get("depth")
    if not isinstance(width, int) or isinstance(width, bool):
        return 0.0, ""
    depth = depth if isinstance(depth, int) and not isinstance(depth, bool) else 1
    item = 8 if dtype == "float64" else 4
    s = sweep.networks
    cell = float(width) ** 2 * item * min(s, 2) + float(s) * (depth + 2) * width * item
    probe = float(width) ** 2 * item * PROBE_NETWORKS * min(depth, MAX_PROBE_DEPTH)
    if probe > cell:
        return probe, (f"validation's {PROBE_NETWORKS} probe networks of width {width}, depth {min(depth, MAX_PROBE_DEPTH)}, "
                       f"{dtype}")
    return cell, f"S={s} networks of width {width}, depth {depth}, {dtype}"


def _machine_memory(device: str) -> float:
    """Bytes of memory on ``device`` (physical memory for cpu)."""
    if device.startswith("cuda"):
        import torch

        return float(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _check_memory(claims: Sequence[Claim], budget: str, config: dict[str, Any] | None, device: str, dtype: str) -> None:
    """Refuse, before any work, a configuration whose cells cannot fit in this machine's memory."""
    have = _machine_memory(device)
    for claim in claims:
        need, what = memory_need(claim, budget, config, dtype)
        if need > have:
            raise UsageError(f"{claim.id} needs at least {need / 1e9:.3g} GB ({what}); this machine has "
                             f"{have / 1e9:.3g} GB on {device}: lower width or depth in --config")


def _check_device(device: str) -> None:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise UsageError(f"--device {device!r} is not allowed; choose one of: cpu, cuda, cuda:N")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: CUDA is not available on this machine (torch.cuda.is_available() is False)")


def _check_out(out: Path) -> None:
    """--out must be a folder this run can write: checked before any claim runs."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".resnet-claims-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out {str(out)!r} is not a writable folder ({exc.strerror or exc})") from None


def _picklable(impl: Any) -> bool:
    try:
        pickle.dumps(impl)
    except Exception:  # noqa: BLE001 - any reason: it cannot travel to a worker
        return False
    return True


def _check_picklable(impl: Any, executor: str) -> None:
    """Worker processes and Dask receive the plug-in by pickling."""
    try:
        pickle.dumps(impl)
    except Exception as exc:
        raise UsageError(f"--executor {executor}: plug-in {printable(str(impl.name))!r} cannot be pickled "
                         f"({type(exc).__name__}: {exc}); plug-ins must be picklable to run in worker processes: "
                         "return it from a module-level factory and keep no lambdas, local classes or open handles "
                         "in it") from None


def printable(text: str) -> str:
    """``text`` with control characters escaped (\\x1b, \\n), safe to print on a terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


PROGRESS_EVERY_S = 30.0  # a progress line at most this often for a claim still running
PROGRESS_AFTER_S = 5.0  # the first line (with the estimate) once a claim's first cell took longer than this


def line_progress(write, clock=None):  # type: ignore[no-untyped-def]
    """A progress callback (claim id, cells done, cells) that writes lines: once the first cell of a claim
    took more than PROGRESS_AFTER_S, its time and the estimate for the rest (the first cells' mean time per
    cell times the cells left), then a line every PROGRESS_EVERY_S. For logs and CI, where no bar is drawn."""
    import time

    clock = clock or time.monotonic
    state = {"claim": None, "start": clock(), "last": clock(), "shown": -math.inf}

    def update(claim_id: str, done: int, total: int) -> None:
        now = clock()
        if claim_id != state["claim"] or done == 1:
            state.update(claim=claim_id, start=state["last"], shown=-math.inf)
        state["last"] = now
        elapsed = now - state["start"]
        first = state["shown"] == -math.inf and elapsed > PROGRESS_AFTER_S
        if done < total and (first or now - state["shown"] >= PROGRESS_EVERY_S):
            left = elapsed / done * (total - done)
            write(f"  {claim_id}: {done}/{total} cells in {elapsed:.0f}s, about {left:.0f}s left")
            state["shown"] = now

    return update


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    if quiet:
        return None, None
    if not sys.stderr.isatty():
        return line_progress(lambda line: print(printable(line), file=sys.stderr, flush=True)), None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="cell", file=sys.stderr, leave=False)

    def update(claim_id: str, done: int, total: int) -> None:
        if bar.total != total or done == 1:
            bar.reset(total=total)
        bar.set_description(claim_id)
        bar.update(done - bar.n)

    return update, bar


def cmd_cache(args: argparse.Namespace) -> int:
    from .audit import audit, passed

    _check_choice("cache action", args.action, ("info", "clear", "audit"))
    if args.action != "audit" and (args.seed is not None or args.impl):
        raise UsageError(f"--seed and --impl apply to 'cache audit' only, not 'cache {args.action}'")
    cache = CellCache()
    if args.action == "clear":
        try:
            removed = cache.clear()
        except CacheWriteError as exc:
            print(f"resnet-claims: error: {printable(str(exc))}", file=sys.stderr)
            return 1
        print(f"removed {removed} cell(s) from {cache.path}")
        return 0
    if args.action == "info":
        info = cache.info()
        print(f"{info['path']}: {info['cells']} cell(s), {info['bytes'] / 1e6:.2f} MB"
              + ("" if info["writable"] else " (read-only)"))
        return 0
    report = audit(cache, args.fraction, args.seed, args.impl or ())
    print(f"audit seed {report['seed']} (repeat this sample with --seed {report['seed']})")
    for entry in report["differ"]:
        print(f"DIFFERS: cell {entry['key']} of {entry['claim']} on {printable(entry['impl'])}, "
              f"{printable(str(entry['params']))} replicate {entry['replicate']}: stored "
              f"{printable(json.dumps(entry['stored']))[:300]}, recomputed {json.dumps(entry['recomputed'])[:300]}")
    for entry in report["unchecked"]:
        said = f" (its recipe says {printable(str(entry['claim']))} on {printable(entry['impl'])})" if "claim" in entry else ""
        print(f"NOT CHECKED: cell {entry['key']}{said}: {printable(entry['why'])}")
    print(f"audited {report['sampled']} of {report['entries']} cached cell(s) in {cache.path}: {report['equal']} "
          f"recomputed and equal, {len(report['differ'])} differ, {len(report['unchecked'])} not checked"
          + ("" if report["sampled"] else " (nothing to audit)"))
    return 0 if passed(report) else 1


def cmd_list(verbose: Sequence[str] | None = None, digests: bool = False) -> int:
    if digests:
        print(render_pinned(current_digests()), end="")
        return 0
    if verbose:
        print("\n".join(f"{describe_claim(c)}\n{describe_declaration(c)}" for c in select(verbose)))
        return 0
    for c in all_claims():
        print(f"{c.id}\n    {c.statement}\n    source: {c.source.paper}, arXiv:{c.source.arxiv}, {c.source.where}")
    return 0


def print_expected_time(calibration: dict[str, Any] | None, claims: Sequence[Any], budget: str,
                        with_controls: bool) -> None:
    """One line before a run: the time the calibration table's reference runs took for these claims at
    this budget (nothing when it timed none of them)."""
    from .calibrate import expected_seconds

    seconds, timed = expected_seconds(calibration, claims, budget)
    if not timed:
        return
    extra = "; --with-controls adds one run per listed control" if with_controls else ""
    about = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    print(f"expected time: about {about} for {timed} of {len(claims)} claim(s), from the "
          f"calibration table's reference runs at budget {budget} (one core each; another machine or plug-in "
          f"differs{extra})", flush=True)


def cmd_verify(args: argparse.Namespace) -> int:
    _check_choice("budget", args.budget, BUDGETS)
    _check_choice("dtype", args.dtype, ("float32", "float64"))
    _check_device(args.device)
    claims = select(args.claims)
    config = parse_config(args.config)
    if config is not None:
        _check_memory(claims, args.budget, config, args.device, args.dtype)
        for claim in claims:  # a field the measurement ignores, or a degenerate value, is bad usage (exit 2)
            check_config(claim, config, args.budget, args.dtype)
    out = Path(args.out)
    _check_out(out)
    impl, source = resolve(args.impl)
    executor = make_executor(args.executor, args.cell_timeout)
    if executor is not None and args.executor == "inline" and not _picklable(impl):
        warnings.warn(f"plug-in {printable(str(impl.name))!r} cannot be pickled, so its cells run in this process: "
                      f"--cell-timeout {args.cell_timeout:g} then stops only plug-in code that lets a timeout through "
                      "(not a catch-all except, a hang outside Python or a process exit); return the plug-in from a "
                      "module-level factory to run it in a worker process", stacklevel=1)
        executor.shutdown()
        executor = None
    if executor is not None:
        _check_picklable(impl, args.executor)
    update, bar = _progress(args.quiet)
    cache = None if args.no_cache else CellCache(resume=out)
    execution = Execution(executor, cache, update, cell_timeout=args.cell_timeout)
    calibration = _calibration(args.calibration)

    def save(results: dict[str, Any]) -> None:  # after each claim, and once before the first: never a stale report
        write_results(results, out)
        write_report([results], out, calibration)
        if not results["claims"]:
            return
        if bar is not None:
            bar.clear()
        print("\n".join(map(printable, summary_line(results["claims"][-1]).splitlines())), flush=True)

    print(f"implementation {printable(str(impl.name))} ({source}), budget {args.budget}, seed {args.seed}, device {args.device}, "
          f"dtype {args.dtype}: {len(claims)} claim(s)", flush=True)
    print_expected_time(calibration, claims, args.budget, args.with_controls)
    try:
        results = verify(claims, impl, source, args.budget, args.seed, args.device, args.dtype, config, execution, save,
                         args.with_controls)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished claims are kept in {out / 'results.json'} (marked incomplete) and finished "
              "cells in the cache; rerun the same command to resume (only missing cells are computed)", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.shutdown(wait=False)
    write_results(results, out)
    if cache is not None:
        cache.finish_run()  # the run completed: cells kept only to resume it go
    print(f"report: {write_report([results], out, calibration)}")
    counts = ", ".join(f"{k} {v}" for k, v in results["run"]["counts"].items() if v)
    status = exit_status(results)
    print(f"{counts or 'no claims'}; {results['run']['seconds']:.1f}s; results in {out / 'results.json'}"
          + ("; nothing was checked (exit status 4)" if status == 4 else ""))
    return status


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
    path = write_report(results, out, _calibration(calibration))
    print(f"report: {path}")
    return path


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import all_met, calibrate, merge
    from .expected import DEFAULT_PATH as DEFAULT_EXPECTED
    from .expected import ExpectedFileError, load_expected

    _check_choice("budget", args.budget, BUDGETS)
    _check_choice("dtype", args.dtype, ("float32", "float64"))
    if args.seeds < 1:
        raise UsageError(f"--seeds {args.seeds} is not allowed; expected a positive integer")
    _check_device(args.device)
    claims = select(args.claims)
    unknown = sorted(set(args.controls or ()) - set(available()))
    if unknown:
        raise UsageError(f"--controls {unknown} unknown; known: {', '.join(available())}")
    out = Path(args.out)
    _check_out(out)
    expected_path = Path(args.expected) if args.expected else DEFAULT_EXPECTED
    if args.expected and not expected_path.is_file():
        raise UsageError(f"--expected {args.expected!r}: no such file")
    impls = set(available()) | {str(resolve(args.impl)[0].name)}
    try:
        expected = load_expected(expected_path, impls) if expected_path.is_file() else {}
    except ExpectedFileError as err:
        raise UsageError(str(err)) from err
    if args.merge is not None:
        missing = [f for f in args.merge if not (Path(f) / "calibration.json").is_file()]
        if missing:
            raise UsageError(f"--merge {missing[0]!r}: no calibration.json there")
        try:
            data = merge([Path(f) for f in args.merge], out, claims, args.impl, expected,
                         log=lambda line: print(line, file=sys.stderr))
        except ValueError as err:
            raise UsageError(str(err)) from err
        print((out / "calibration.md").read_text())
        print(f"reliability table: {out / 'calibration.md'} and {out / 'calibration.json'}")
        return 0 if all_met(data) else 1
    executor = make_executor(args.executor)
    if executor is not None:
        _check_picklable(resolve(args.impl)[0], args.executor)
    log = None if args.quiet else (lambda line: print(line, flush=True))
    try:
        data = calibrate(claims, args.seeds, args.budget, args.device, args.dtype, args.impl, args.first_seed,
                         out, resume=not args.fresh, log=log, controls=args.controls, expected=expected,
                         executor=executor)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {out / 'calibration.json'}; "
              "rerun the same command to compute the rest", file=sys.stderr)
        return 130
    print((out / "calibration.md").read_text())
    print(f"reliability table: {out / 'calibration.md'} and {out / 'calibration.json'}")
    return 0 if all_met(data) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from .report import ReportError, load_results

    try:
        results = [load_results(Path(p)) for p in args.results]
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out else Path(args.results[0]).parent
    _check_out(out)
    _write_report(results, out, args.calibration)
    return 0


def _one_line_warning(message: Any, category: type, filename: str, lineno: int, line: str | None = None) -> str:
    return f"resnet-claims: warning: {printable(str(message))}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnet-claims`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    commands = {"list": lambda: cmd_list(args.verbose, args.digests), "verify": lambda: cmd_verify(args),
                "cache": lambda: cmd_cache(args), "calibrate": lambda: cmd_calibrate(args), "report": lambda: cmd_report(args)}
    previous, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        return commands[args.command]()
    except (UsageError, ClaimError, PluginError, ExecutorError, CacheError, FileNotFoundError) as exc:
        print(f"resnet-claims: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = previous


if __name__ == "__main__":
    sys.exit(main())
