"""The README's examples work as written: every command of its "Commands" block and every input
file its "Inputs" section shows (as SimPy checks the examples of its documentation).

Each command runs in-process (`sparkdelay.app.cli.main`) in a scratch folder laid out like a
fresh clone (copies of the repository's `docs/`, `data/` and `tests/data/`), must exit 0 and
must write the files its options name. A command that reads a file an earlier example writes
(`validate --model model.json` after `calibrate -o model.json`) runs that example first, with its
fast settings. The ones that take minutes as written (`sweep`, `report` and `demo` simulate the
study's whole grid; `calibrate` and `differential` choose terms by cross-validated trace fits)
run with fast settings in the default suite (`FAST`: fewer repetitions, a smaller grid, the
linear fit; never another path, file or command) and exactly as written under `pytest -m slow`;
the others always run as written. `cluster`, `run` and `history` need Java and a real Spark: they are skipped, with that reason.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from sparkdelay.app.cli import main
from sparkdelay.sim.model.costs import CostModel

from conftest import REPO

README = (REPO / "README.md").read_text()
NEEDS_SPARK = {"cluster", "run", "history"}
# Fast settings of the examples that take more than a few seconds as written (the study grid):
# option -> value, replacing the example's value or added to it. The others always run as written.
FAST = {
    "sweep": {"--reps": "1", "--partitions": "1-40:13"},
    "report": {"--reps": "1", "--nodes": "1-3", "--partitions": "1,9,40"},
    "demo": {"--reps": "1", "--validate-reps": "1"},
    "differential": {"--method": "linear", "--reps": "5"},
    "calibrate": {"--method": "linear"},     # the default trace fit's term selection: minutes on 54 runs
}
OUTPUT_OPTIONS = ("-o", "--output", "--out", "--trace", "--gantt")
CLONE_PARTS = ("docs", "data", "tests/data")


def _section(heading: str) -> str:
    """The README's text under a `## heading`, up to the next `## ` heading (its ### subsections included)."""
    start = README.index(f"\n## {heading}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def _blocks(text: str, lang: str) -> list[str]:
    return [body for kind, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S) if kind == lang]


COMMANDS_SECTION = _section("Commands")
INPUTS = COMMANDS_SECTION[COMMANDS_SECTION.index("### Inputs"):]
COMMANDS = [line for line in _blocks(COMMANDS_SECTION, "")[0].splitlines() if line.startswith("sparkdelay ")]


def _argv(line: str) -> list[str]:
    """The command's arguments as a shell gives them: comments dropped, globs expanded (cwd-relative)."""
    argv = []
    for word in shlex.split(line, comments=True)[1:]:
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        argv += matches or [word]
    return argv


def _fast(argv: list[str]) -> list[str]:
    argv = list(argv)
    for option, value in FAST.get(argv[0], {}).items():
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
    return argv


def _outputs(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in OUTPUT_OPTIONS]


def _producer(path: str, before: int) -> str | None:
    """The earlier example that writes `path` (by an output option), if any."""
    for line in COMMANDS[:before]:
        if path in _outputs(shlex.split(line, comments=True)[1:]):
            return line
    return None


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A scratch folder laid out like a fresh clone, as the current directory."""
    for part in CLONE_PARTS:
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(line: str, fast: bool, capsys) -> None:
    argv = _argv(line)
    if fast:
        argv = _fast(argv)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0, f"{line!r} exited {code}: {err[-2000:]}"
    for out in _outputs(argv):
        assert Path(out).exists(), f"{line!r} did not write {out}"


def _cases():
    for i, line in enumerate(COMMANDS):
        name = line.split()[1]
        if name in FAST:
            yield pytest.param(i, line, True, id=f"{i:02d}-{name}-fast")
            yield pytest.param(i, line, False, marks=pytest.mark.slow, id=f"{i:02d}-{name}-as-written")
        else:
            yield pytest.param(i, line, False, id=f"{i:02d}-{name}")


def test_the_readme_has_examples_of_every_command():
    from sparkdelay.app.cli import build_parser
    names = {line.split()[1] for line in COMMANDS}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert names == set(sub.choices), "every subcommand has an example, and every example is a subcommand"


@pytest.mark.parametrize("index,line,fast", list(_cases()))
def test_readme_command(index, line, fast, clone, capsys):
    if line.split()[1] in NEEDS_SPARK:
        pytest.skip(f"needs Java and a real Spark Standalone cluster: {line}")
    for word in shlex.split(line, comments=True)[1:]:
        producer = _producer(word, index)
        if producer is not None and not Path(word).exists():
            # e.g. calibrate's model.json for validate; fast, as it only supplies the file (its
            # as-written run is its own case)
            _run(producer, True, capsys)
    _run(line, fast, capsys)


YAML_INPUTS = _blocks(INPUTS, "yaml")


@pytest.mark.parametrize("block", YAML_INPUTS, ids=[b.split()[1].rstrip(":,") for b in YAML_INPUTS])
def test_an_input_block_is_the_example_file_the_commands_use(block):
    path = block.split()[1].rstrip(":,")          # the block's first line: "# docs/examples/<file>..."
    assert (REPO / path).read_text() == block, f"the README shows {path} other than it is"
    assert any(path in line for line in COMMANDS), f"no example command uses {path}"


def test_the_model_block_is_a_model_the_simulator_reads(tmp_path, capsys):
    (block,) = _blocks(INPUTS, "jsonc")
    doc = json.loads("\n".join(line for line in block.splitlines() if not line.lstrip().startswith("//")))
    assert set(doc["params"]) == set(CostModel.field_names()), "the README lists every cost parameter"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    assert CostModel.load(path) == CostModel.from_params(doc["params"])
    assert main(["simulate", "--model", str(path), "--nodes", "2", "--partitions", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_tasks"] == 5
