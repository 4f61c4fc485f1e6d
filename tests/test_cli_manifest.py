"""`mopsgate manifest check|explain` as an admin (and CI) sees it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.server.cli_manifest import manifest_app

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "permissions.toml"
runner = CliRunner(env={"COLUMNS": "200"})


def test_check_ok_prints_digest() -> None:
    result = runner.invoke(manifest_app, ["check", str(SHIPPED), "--as-of", "2026-12-01"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"OK {re.escape(str(SHIPPED))} \(digest [0-9a-f]{{12}}\)\n", result.stdout)


def test_check_defaults_to_settings_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOPSGATE_MANIFEST", str(SHIPPED))
    result = runner.invoke(manifest_app, ["check"])
    assert result.exit_code == 0 and result.stdout.startswith(f"OK {SHIPPED}")


def test_check_reports_every_problem_with_position(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    text = text.replace('"propose_opt_out"]', '"propose_opt_outt"]')
    text = text.replace('use_cases = ["reporting"]', "use_cases = []")
    bad = tmp_path / "perm.toml"
    bad.write_text(text)
    result = runner.invoke(manifest_app, ["check", str(bad)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) >= 2
    pattern = re.compile(rf"{re.escape(str(bad))}:(\d+):(\d+): .+")
    assert all(pattern.fullmatch(line) for line in lines), lines
    typo = next(line for line in lines if "propose_opt_outt" in line)
    line_no = int(pattern.fullmatch(typo).group(1))  # type: ignore[union-attr]
    assert "propose_opt_outt" in text.splitlines()[line_no - 1]
    assert "did you mean 'propose_opt_out'" in typo
    assert any("principal 'analyst' has no use case" in line for line in lines)


def test_check_missing_and_broken_files(tmp_path: Path) -> None:
    result = runner.invoke(manifest_app, ["check", str(tmp_path / "absent.toml")])
    assert result.exit_code == 1 and ":1:1: cannot read manifest" in result.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text("version = 1\nrules = [\n")
    result = runner.invoke(manifest_app, ["check", str(broken)])
    assert result.exit_code == 1 and "invalid TOML" in result.stdout


def test_explain_shows_effective_rights() -> None:
    result = runner.invoke(
        manifest_app, ["explain", "--principal", "assistant", "--manifest", str(SHIPPED)]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    for needle in (
        "campaign-ops",
        "Data Protection Officer",
        "propose_update_person",
        "assistant-no-delete",
        "marketo lead",
        "compliance",
        "digest",
    ):
        assert needle in out, needle


def test_explain_analyst_is_read_only() -> None:
    result = runner.invoke(manifest_app, ["explain", "-p", "analyst", "-m", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "propose_update_person" not in result.stdout
    assert "search_people" in result.stdout


def test_explain_unknown_principal_and_invalid_manifest(tmp_path: Path) -> None:
    result = runner.invoke(manifest_app, ["explain", "-p", "ghost", "-m", str(SHIPPED)])
    assert result.exit_code == 1
    assert "unknown principal 'ghost'" in result.output and "assistant" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 3\n")
    result = runner.invoke(manifest_app, ["explain", "-p", "assistant", "-m", str(bad)])
    assert result.exit_code == 1 and f"{bad}:1:" in result.stdout


def _overdue(tmp_path: Path, on_overdue: str = "deny") -> Path:
    text = SHIPPED.read_text().replace('on_overdue = "warn"', f'on_overdue = "{on_overdue}"', 1)
    path = tmp_path / "permissions.toml"
    path.write_text(text)
    return path


def test_check_warns_about_reviews_due_or_overdue_at_their_line(tmp_path: Path) -> None:
    path = _overdue(tmp_path)
    lines = path.read_text().splitlines()
    due_lines = [i + 1 for i, line in enumerate(lines) if line.startswith("review_date")]
    soon = runner.invoke(manifest_app, ["check", str(path), "--as-of", "2027-04-25"])
    assert soon.exit_code == 0
    out = soon.stdout.splitlines()
    assert out[0].startswith("OK ") and len(out) == 3
    assert out[1] == (
        f"{path}:{due_lines[0]}:1: warning: use case 'campaign-ops' is due for review on "
        "2027-05-01 (in 6 day(s))"
    )
    late = runner.invoke(manifest_app, ["check", str(path), "--as-of", "2027-05-20"])
    assert late.exit_code == 0
    campaign, reporting = late.stdout.splitlines()[1:]
    assert campaign.startswith(f"{path}:{due_lines[0]}:1: warning: use case 'campaign-ops' was due")
    assert '(19 day(s) overdue); on_overdue = "deny": every call under it is refused' in campaign
    assert reporting.startswith(f"{path}:{due_lines[1]}:1: warning: use case 'reporting'")
    assert 'on_overdue = "warn": nothing is refused' in reporting
    assert "2 warning(s)" in late.stderr


def test_explain_shows_owners_and_overdue_review(tmp_path: Path) -> None:
    path = _overdue(tmp_path)
    args = ["explain", "-p", "assistant", "-m", str(path), "--as-of", "2027-05-20"]
    result = runner.invoke(manifest_app, args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "review overdue: enforced" in out and "on_overdue deny" in out
    assert "escalation mops-oncall@example.com" in out and "business Head of Demand" in out
    assert "review-overdue" in out  # the tools table says which rule refuses them
    current = runner.invoke(manifest_app, [*args[:-1], "2027-04-01"])
    assert "review overdue" not in current.stdout and "review-overdue" not in current.stdout
