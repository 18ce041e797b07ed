"""`sparkdelay replay FILE...`: run scheduler scenarios and report each step.

Exit status as SCENARIO_FORMAT.md says: 0 when every expectation holds, 1 when one fails,
2 when a file is not a valid scenario (one line naming the file, the step and the reason;
the other files still run).
"""

from __future__ import annotations

import sys

from sparkdelay.app.argtypes import input_path, seed
from sparkdelay.app.replay import replay
from sparkdelay.app.scenario import load_scenario
from sparkdelay.ground.errors import UserError

NAME = "replay"
HELP = "Replay scheduler scenario files (SCENARIO_FORMAT.md) against the model, step by step."


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", type=input_path, metavar="FILE", help="scenario YAML files")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the offer shuffle (default 0)")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary")


def _show(value) -> str:
    return "null" if value is None else str(value)


def run(args) -> int:
    invalid = failed = passed = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
            results = replay(scenario, seed=args.seed)
        except UserError as exc:
            print(f"sparkdelay: error: {exc}", file=sys.stderr)
            invalid += 1
            continue
        for r in results:
            if r.passed:
                passed += 1
                if not args.quiet:
                    print(f"{scenario.name} step {r.number} PASS {r.op}")
            else:
                failed += 1
                print(f"{scenario.name} step {r.number} FAIL {r.op}: expected {_show(r.expected)}, "
                      f"got {_show(r.actual)}")
    print(f"{passed} passed, {failed} failed" + (f", {invalid} invalid file(s)" if invalid else ""))
    return 2 if invalid else 1 if failed else 0
