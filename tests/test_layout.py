"""The repository's layout rules: one role per folder, one name per module, one house for models.

Each code folder becomes ``posebeam.<folder>`` (setup.py). Imports are read from the source with
``ast``, so a rule is checked without importing anything.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from posebeam.models.registry import ARCHITECTURES, load_object

ROOT = Path(__file__).resolve().parents[1]
CODE_FOLDERS = ("pipeline", "training", "synth", "storage", "transforms", "models", "schemas", "figures")

# folder → prefixes of modules it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "training": ("apache_beam", "posebeam.pipeline", "posebeam.synth"),
    "synth": ("apache_beam", "torch", "posebeam.pipeline", "posebeam.training", "posebeam.models"),
    "storage": ("apache_beam", "torch", "posebeam.pipeline", "posebeam.training", "posebeam.models",
                "posebeam.synth", "posebeam.transforms"),
    "transforms": ("apache_beam", "torch", "posebeam.pipeline", "posebeam.training", "posebeam.models",
                   "posebeam.synth", "posebeam.storage"),
    "models": ("apache_beam", "posebeam.pipeline", "posebeam.training", "posebeam.synth"),
    "schemas": ("apache_beam", "torch", "posebeam.pipeline", "posebeam.training", "posebeam.synth",
                "posebeam.storage", "posebeam.models", "posebeam.transforms"),
    "figures": ("apache_beam", "torch", "posebeam.pipeline", "posebeam.training", "posebeam.synth",
                "posebeam.storage", "posebeam.models"),
}  # fmt: skip


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_setup_maps_exactly_the_code_folders() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    assigned = [
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CODE_FOLDERS" for t in node.targets)
    ]
    assert assigned == [CODE_FOLDERS]


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_each_folder_imports_only_what_its_role_allows(folder: str) -> None:
    offending = {
        f"{path.name}: {name}"
        for path in _modules(folder)
        for name in _imports(path)
        if name.startswith(FORBIDDEN[folder])
    }
    assert not offending


def test_beam_is_imported_only_under_pipeline_tests_and_benchmarks() -> None:
    outside = [
        str(path.relative_to(ROOT))
        for folder in CODE_FOLDERS
        if folder != "pipeline"
        for path in _modules(folder)
        if "apache_beam" in path.read_text(encoding="utf-8")
    ]
    assert not outside


@pytest.mark.parametrize("folder", CODE_FOLDERS)
def test_mypy_reads_every_code_folder_through_the_typecheck_links(folder: str) -> None:
    link = ROOT / ".typecheck" / "posebeam" / folder
    assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve()


@pytest.mark.parametrize("folder", CODE_FOLDERS)
def test_a_folder_cannot_be_imported_under_its_bare_name(folder: str) -> None:
    """``import pipeline`` from the repository root would create a second copy of every module."""
    code = f"import {folder}"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert f"import this folder as posebeam.{folder}" in done.stderr


def test_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for folder in CODE_FOLDERS
        for path in _modules(folder)
    }
    assert {name: lines for name, lines in sizes.items() if lines > 420} == {}


def test_no_file_cites_the_private_notebook() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    notebook = "REFERENCE" + ".md"
    citing = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and not (ROOT / name).is_symlink()
        and notebook in (ROOT / name).read_bytes().decode("utf-8", "ignore")
    ]
    assert not citing


def test_no_code_outside_the_registry_branches_on_an_architecture_name() -> None:
    names = "|".join(re.escape(name) for name in ARCHITECTURES)
    branch = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({names})["']""")
    offending = [
        str(path.relative_to(ROOT))
        for folder in CODE_FOLDERS
        for path in _modules(folder)
        if path.name != "registry.py" and branch.search(path.read_text(encoding="utf-8"))
    ]
    assert not offending


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_registry_entry_names_classes_that_exist(name: str) -> None:
    entry = ARCHITECTURES[name]
    handler = load_object(entry.inference_handler)
    inputs = load_object(entry.training_inputs)
    assert (
        isinstance(handler, type) and hasattr(handler, "run_inference") and hasattr(handler, "reads_frames")
    )
    assert isinstance(inputs, type) and hasattr(inputs, "for_samples") and hasattr(inputs, "loss")
    assert handler.spec_type is entry.spec
    model = entry.build(3, entry.spec().num_channels)
    assert sum(p.numel() for p in model.parameters()) > 0


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _flags(sub)
    return found


def test_every_command_line_flag_is_spelled_out_in_the_code() -> None:
    """Flags are not generated from field names: grep finds each one where it is defined."""
    from posebeam.pipeline.cli import _parser
    from posebeam.pipeline.options import module_parser

    source = "\n".join(path.read_text(encoding="utf-8") for path in _modules("pipeline"))
    flags = _flags(_parser()) | _flags(module_parser())
    assert len(flags) > 40
    assert sorted(flag for flag in flags if f'"{flag}"' not in source and flag != "--help") == []


def _imported_after(modules: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_an_extract_job_never_imports_the_model_stack() -> None:
    """The CLI, the extract job and its workers (which import the modules of the graph's functions)
    start without torch or SciPy, and the isolated pose child without Beam: seconds on every job's start."""
    job = _imported_after(
        [
            "posebeam.pipeline.cli",
            "posebeam.pipeline.run",
            "posebeam.pipeline.extract",
            "posebeam.pipeline.inputs",
        ]
    )
    assert "posebeam.pipeline.extract" in job and "torch" not in job and "scipy.stats" not in job
    assert "scipy.optimize" not in job  # tracking and stitching import it where they run (0.5 s)
    child = _imported_after(["posebeam.pipeline.isolation"])
    assert "posebeam.pipeline.pose_stage" in child and "apache_beam" not in child
