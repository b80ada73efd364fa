"""The README's claims about behaviour hold.

* the two set-up commands are verbatim the ones of today, and the second is what ``.ci/run`` runs;
* every ``eo`` command it lists exists (``eo <cmd> --help`` exits 0), with the options it shows;
* the number of spectral indices it states is ``len(eo.spectral.list_indices())``;
* every ``EO_*`` variable it names is a setting of :data:`eo.config.SETTINGS`;
* every sensor profile it names (``eo/sensors/<id>.yaml``) exists and loads;
* its links and its picture resolve, and its first Python example runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from eo.config import SETTINGS
from eo.spectral import list_indices

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)

#: The two set-up commands, verbatim (other work and CI rely on them).
DEMO_COMMAND = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[demo]" && eo run pipelines/ndvi.yaml'
)
TEST_COMMAND = 'python3 -m venv .venv && . .venv/bin/activate && pip install -q -e ".[dev]" && pytest'


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _blocks(text: str, lang: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(text) if m.group(1).split()[:1] == [lang]]


def _prose() -> str:
    return FENCE.sub("", README)


def test_the_first_screen_is_short_and_points_to_the_guide() -> None:
    first = README[: README.index("## A first look")]
    assert len(first.splitlines()) <= 40
    assert "(docs/README.md)" in first and "(notebooks/README.md)" in first


def test_the_two_set_up_commands_are_verbatim_and_ci_runs_the_second() -> None:
    blocks = [b.strip() for b in _blocks(_section("Set up"), "bash")]
    assert blocks == [DEMO_COMMAND, TEST_COMMAND]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    marker = next(i for i, line in enumerate(ci) if "The README's test command, verbatim" in line)
    assert ci[marker + 1].strip() == TEST_COMMAND
    assert (ROOT / "pipelines" / "ndvi.yaml").is_file()


def _eo_commands() -> list[list[str]]:
    """Every ``eo ...`` invocation in the README's code blocks and inline code."""
    texts = [m.group(2) for m in FENCE.finditer(README)] + re.findall(r"`(eo [^`]+)`", _prose())
    found = []
    for text in texts:
        for line in text.splitlines():
            for part in re.split(r"&&|\|", line.split("  #", 1)[0]):
                words = shlex.split(part.strip(), comments=True) if part.strip() else []
                if words[:1] == ["eo"] and len(words) > 1:
                    found.append(words[1:])
    return found


def test_the_readme_shows_eo_commands() -> None:
    names = {words[0] for words in _eo_commands()}
    assert {"catalog", "search", "sensors", "indices", "run", "zonal", "view", "config"} <= names


@pytest.mark.parametrize("words", sorted({tuple(w[:2]) for w in _eo_commands()}), ids=lambda w: " ".join(w))
def test_every_command_it_lists_exists(words: tuple[str, ...]) -> None:
    from click.testing import CliRunner

    from eo.cli import main

    group = main.commands.get(words[0])
    assert group is not None, f"eo {words[0]}: no such command"
    path = [words[0]]
    if len(words) > 1 and hasattr(group, "commands") and words[1] in group.commands:
        path.append(words[1])
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, res.output


def test_the_options_it_shows_exist() -> None:
    from eo.cli import main

    problems = []
    for words in _eo_commands():
        cmd = main.commands[words[0]]
        rest = words[1:]
        if rest and hasattr(cmd, "commands") and rest[0] in cmd.commands:
            cmd, rest = cmd.commands[rest[0]], rest[1:]
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for word in rest:
            if word.startswith("--") and word.split("=")[0] not in known | {"--help"}:
                problems.append(f"eo {' '.join(words)}: no option {word}")
    assert problems == []


def test_the_number_of_spectral_indices_is_the_catalogues() -> None:
    stated = re.findall(r"(~?\s*\d[\d,]*)\s+(?:spectral\s+)?indices", _prose())
    assert stated, "the README states no number of indices"
    assert {s.replace(",", "").strip() for s in stated} == {str(len(list_indices()))}


def test_every_eo_variable_it_names_is_a_setting() -> None:
    named = set(re.findall(r"\bEO_[A-Z_]+\b", README))
    assert named, "the README names no EO_* variable"
    assert named <= {s.env for s in SETTINGS.values()}, sorted(named - {s.env for s in SETTINGS.values()})


def test_every_sensor_profile_it_names_exists() -> None:
    from eo.sensors import get

    named = set(re.findall(r"eo/sensors/([\w.-]+)\.yaml", README))
    assert named, "the README names no sensor profile"
    for profile_id in named:
        assert (ROOT / "eo" / "sensors" / f"{profile_id}.yaml").is_file()
        assert get(profile_id).id == profile_id


def test_links_and_the_picture_resolve() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", _prose())
    local = [t.split("#", 1)[0] for t in targets if not t.startswith(("http://", "https://", "#"))]
    assert "docs/img/eo-view.png" in local and "benchmarks/README.md" in local
    assert [t for t in local if not (ROOT / t).exists()] == []


@pytest.mark.slow
def test_the_first_look_runs(tmp_path: Path, local_eo_home: Path) -> None:
    (code,) = _blocks(_section("A first look"), "python")
    (tmp_path / "fields.geojson").write_text(
        '{"type": "Polygon", "coordinates": [[[-75.66, 37.67], [-75.64, 37.67], [-75.64, 37.69], '
        "[-75.66, 37.69], [-75.66, 37.67]]]}"
    )
    script = tmp_path / "first_look.py"
    script.write_text(code + "\nprint(len(table), sorted(table.columns))\n")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    res = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "ndvi.tif").stat().st_size > 0
    rows, columns = res.stdout.strip().split(" ", 1)
    assert rows == "1" and "valid_fraction" in columns  # one field, one date, one variable
