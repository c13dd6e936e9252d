"""Themes over a generated export with planted themes: each the same complaint in other
words and languages, among different complaints. `themes-tune.jsonl` is what the clustering
was developed on; `themes-heldout.jsonl` and `themes-heldout-2.jsonl` were written before the
clustering they score (and used for development since 2026-11-29, with `themes-tune-2`);
`themes-heldout-3.jsonl` was read once (`bench/bench_themes.py`, evals/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.triage import PRESETS, TriageSummary, run_triage
from tests.conftest import new_assistant
from tests.exports import write_planted_export

DATA = Path(__file__).parent / "data"
FIRST = {"api-upsell": 60, "locker-code": 40, "logout-loop": 25, "refund-old-card": 15}
HELD_OUT = {"voucher-expired-early": 60, "charger-missing-in-box": 40, "hold-music-hangup": 25,
            "wrong-size-label": 15}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Assistant:
    return new_assistant(Settings(data_dir=tmp_path_factory.mktemp("themes"), engine="offline"))


def themes_of(out: Path) -> list[dict[str, object]]:
    return json.loads((out / "themes.json").read_text(encoding="utf-8"))


def planted_counts(out: Path, planted: dict[str, int], source: str = "themes-tune.jsonl"
                   ) -> dict[str, int]:
    """For each planted theme, the count of the theme holding most of its tickets (0: none)."""
    return {name: found(out, {name: count}, source, required=False).get(name, {}).get("count", 0)
            for name, count in planted.items()}


def found(out: Path, planted: dict[str, int], source: str = "themes-tune.jsonl",
          required: bool = True) -> dict[str, dict[str, object]]:
    """For each planted theme, the theme holding most of its tickets."""
    texts = {}
    for row in map(json.loads, (out / "triage.jsonl").read_text().splitlines()):
        texts[row["ticket_id"]] = row
    lines = [json.loads(x) for x in (DATA / source).read_text().splitlines()]
    themes = {t["id"]: t for t in themes_of(out)}
    result = {}
    for name in planted:
        said = [x["text"] for x in lines if x["theme"] == name]
        ids = [r["theme"] for r in texts.values() if any(s in r["text"] for s in said)]
        assert len(ids) == planted[name]
        best = max(set(ids), key=lambda theme: (theme is not None, ids.count(theme)))
        if best is None:
            assert not required, f"{name}: not found as a theme"
            continue
        result[name] = themes[best]
    return result


@pytest.fixture(scope="module")
def first_run(assistant, tmp_path_factory) -> tuple[Path, TriageSummary]:
    folder = tmp_path_factory.mktemp("first")
    write_planted_export(folder / "export.csv", DATA / "themes-tune.jsonl", FIRST)
    summary = run_triage(assistant, folder / "export.csv", folder / "out",
                         preset=PRESETS["generic"], top=5)
    return folder / "out", summary


def test_planted_themes_are_found(first_run):
    out, summary = first_run
    themes = found(out, FIRST)
    for name, theme in themes.items():
        assert theme["count"] >= 0.8 * FIRST[name], (name, theme)
        assert len(theme["languages"]) >= 4, (name, theme["languages"])
        assert theme["name"] and len(theme["examples"]) == 2
        assert theme["previous_count"] is None and theme["change"] is None
    # Sixty customers with one complaint is one decision; a theme under 3 % of the run is not.
    assert themes["api-upsell"]["systemic"]
    small = [t for t in themes_of(out) if t["share"] < 0.03]
    assert small and not any(t["systemic"] for t in small)
    assert len({t["id"] for t in themes.values()}) == len(FIRST)
    assert summary.themes == len(themes_of(out))
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.index("## Fix once, for many") < report.index("## Tonight's list") < report.index(
        "## Themes") < report.index("## Severity × effort")
    assert themes["api-upsell"]["name"] in report and "█" in report
    assert (out / "themes.png").stat().st_size > 1000


def test_planted_theme_counts_are_within_ten_percent_on_the_tune_set(first_run):
    """On the export the clustering was developed on; it says nothing of other text."""
    counts = planted_counts(first_run[0], FIRST)
    assert all(abs(counts[n] - FIRST[n]) <= 0.1 * FIRST[n] for n in FIRST), counts


HELD_OUT_3 = {"points-wiped": 60, "reservation-not-found": 40, "warranty-refused": 25,
              "unsubscribe-ignored": 15}


@pytest.mark.xfail(strict=True, reason="not reached: on held-out planted themes a theme splits "
                   "by language and wording (60 found as 15-20, 25 as 6-8); evals/README.md, "
                   "Themes")
@pytest.mark.parametrize(("source", "planted", "seed"), [
    ("themes-heldout-2.jsonl", HELD_OUT, 5), ("themes-heldout-3.jsonl", HELD_OUT_3, 7)])
def test_planted_theme_counts_are_within_ten_percent_on_held_out_text(
        assistant, tmp_path, source, planted, seed):
    write_planted_export(tmp_path / "export.csv", DATA / source, planted, seed=seed)
    # A tenant of its own, so that this run is no other test's "previous run".
    run_triage(assistant.for_tenant(f"held-out-{seed}"), tmp_path / "export.csv",
               tmp_path / "out", preset=PRESETS["generic"], top=5)
    counts = planted_counts(tmp_path / "out", planted, source)
    assert all(abs(counts[n] - planted[n]) <= 0.1 * planted[n] for n in planted), counts


def test_the_next_run_says_what_changed_and_other_tenants_see_none_of_it(
        assistant, first_run, tmp_path):
    fewer = {"api-upsell": 30, "locker-code": 40, "logout-loop": 25, "refund-old-card": 15}
    write_planted_export(tmp_path / "export.csv", DATA / "themes-tune.jsonl", fewer, seed=4)
    summary = run_triage(assistant, tmp_path / "export.csv", tmp_path / "out",
                         preset=PRESETS["generic"], top=5)
    before, after = found(first_run[0], FIRST), found(tmp_path / "out", fewer)
    api = after["api-upsell"]
    assert api["previous_count"] == before["api-upsell"]["count"]
    assert api["previous_run"] == first_run[1].run_label != summary.run_label
    assert api["change"] == api["count"] - api["previous_count"] < -20
    assert after["locker-code"]["previous_count"] == before["locker-code"]["count"]
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert f"{api['change']:+d} since run {first_run[1].run_label}" in report

    other = assistant.for_tenant("elsewhere")
    run_triage(other, tmp_path / "export.csv", tmp_path / "other",
               preset=PRESETS["generic"], top=5)
    assert all(t["previous_count"] is None for t in themes_of(tmp_path / "other"))
