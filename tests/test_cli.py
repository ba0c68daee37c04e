"""The `cession` command as people and scripts use it."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest


def cession(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_interest_json_has_string_amounts():
    out = json.loads(
        cession(
            "interest",
            "--principal",
            "1000",
            "--from",
            "2025-05-01",
            "--to",
            "2026-03-31",
            "--allow-stale-rates",
            "--json",
        ).stdout
    )
    assert out["total"] == "92.27" and out["days"] == 335
    assert out["periods"][0] == {
        "from": "2025-05-01",
        "to": "2025-05-07",
        "days": 7,
        "rate": "11.25",
        "interest": "2.16",
    }
    assert out["stale_rate_tables"] == {"statutory_late": "2026-03-05"}


def test_interest_table_for_people():
    text = cession("interest", "--principal", "1234.56", "--from", "2020-01-10", "--to", "2024-06-30").stdout
    assert "2022-07-08 – 2022-09-07" in text and "total" in text


def test_interest_refuses_stale_rates_with_a_clear_message():
    result = cession("interest", "--principal", "1000", "--from", "2026-01-01", "--to", "2026-11-01", check=False)
    assert result.returncode == 2 and "--allow-stale-rates" in result.stderr and "Traceback" not in result.stderr


def test_limitation_with_events():
    out = json.loads(
        cession(
            "limitation",
            "--due",
            "2016-03-15",
            "--kind",
            "business",
            "--event",
            "acknowledgment:2019-01-10",
            "--as-of",
            "2026-11-22",
            "--json",
        ).stdout
    )
    assert out["limitation_date"] == "2022-12-31" and out["time_barred"] is True and out["rule_set"] == "2026-12"
    assert out["steps"][1]["end"] == "2022-12-31"
    assert "not moved: III CZP 21/23" in out["steps"][1]["rule"] and "Saturday" in out["steps"][1]["rule"]


def test_limitation_with_a_title_absorbs_earlier_events_and_says_why():
    out = json.loads(
        cession(
            "limitation",
            "--due",
            "2016-03-15",
            "--kind",
            "business",
            "--title",
            "2021-05-01",
            "--event",
            "acknowledgment:2019-01-10",
            "--as-of",
            "2026-11-22",
            "--json",
        ).stdout
    )
    assert out["limitation_date"] == "2027-12-31"
    assert "absorbed" in out["steps"][1]["effect"] and "125" in out["steps"][1]["effect"]


@pytest.mark.slow
def test_interest_shows_which_tranches_are_time_barred():
    out = json.loads(
        cession("interest", "--principal", "10000", "--from", "2016-02-01", "--to", "2020-03-01", "--json").stdout
    )
    assert out["total"] == "2859.45" and out["time_barred"] == "642.47"
    assert out["tranches"][0] == {
        "from": "2016-02-01",
        "to": "2016-12-31",
        "interest": "642.47",
        "time_barred": True,
        "rule": out["tranches"][0]["rule"],
    }
    assert "III CZP 42/04" in out["tranches"][0]["rule"]
    medical = json.loads(
        cession(
            "interest",
            "--principal",
            "10000",
            "--from",
            "2020-02-01",
            "--to",
            "2020-06-30",
            "--basis",
            "commercial_late_medical",
            "--json",
        ).stdout
    )
    assert medical["total"] == "393.01"
    text = cession("interest", "--principal", "10000", "--from", "2016-02-01", "--to", "2020-03-01").stdout
    assert "time-barred interest: 642,47\u00a0zł of 2\u00a0859,45\u00a0zł" in text


@pytest.mark.slow
def test_bad_arguments_exit_2_with_one_line():
    for args in (
        ["interest", "--principal", "12.345", "--from", "2025-01-01", "--to", "2025-02-01"],
        ["limitation", "--due", "2016-13-01", "--kind", "business"],
        ["interest", "--principal", "10", "--from", "2025-01-01", "--to", "2025-02-01", "--basis", "contractual"],
    ):
        result = cession(*args, check=False)
        assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr, args


@pytest.mark.slow
def test_generate_then_state_parquet_to_parquet(tmp_path):
    cession("generate", "--claims", "2000", "--seed", "7", "--out", str(tmp_path))
    out = tmp_path / "state.parquet"
    summary = json.loads(
        cession(
            "state",
            "--claims",
            str(tmp_path / "claims.parquet"),
            "--events",
            str(tmp_path / "events.parquet"),
            "--as-of",
            "2026-01-31",
            "--out",
            str(out),
            "--json",
        ).stdout
    )
    state = pl.read_parquet(out)
    assert state.height == summary["claims"] == 2000
    assert summary["totals"]["total_due"] == f"{state['total_due'].sum() / 100:.2f}"
    assert summary["time_barred"] == state["time_barred"].sum()


@pytest.mark.slow
def test_load_run_and_runs_through_the_store(tmp_path):
    cession("generate", "--claims", "1500", "--seed", "8", "--out", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    files = ("--claims", str(tmp_path / "claims.parquet"), "--events", str(tmp_path / "events.parquet"))
    first = json.loads(cession("load", *files, "--database-url", url, "--json").stdout)
    assert first["claims"] == {"rows": 1500, "inserted": 1500, "already_stored": 0, "rejected": 0}
    again = json.loads(cession("load", *files, "--database-url", url, "--json").stdout)
    assert again["events"]["inserted"] == 0 and again["events"]["already_stored"] == first["events"]["rows"]
    verbose = cession("-v", "run", "--as-of", "2026-01-31", "--database-url", url, "--json")
    ran = json.loads(verbose.stdout)
    assert ran["status"] == "succeeded" and ran["claims"] == 1500 and ran["totals"]["total_due"].count(".") == 1
    assert f" INFO api.runs.service run={ran['run_id']}: run as of 2026-01-31 succeeded" in verbose.stderr  # -v: logged
    listed = cession("runs", "--database-url", url, "--json")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [
        ran["run_id"]
    ] and listed.stderr == ""  # quiet by default
    status = json.loads(cession("db", "status", "--database-url", url, "--json").stdout)
    assert status["schema"] == status["head"] and status["counts"]["claim_state"] == 1500
    missing = cession("run", "--portfolio", "NOPE", "--as-of", "2026-01-31", "--database-url", url, check=False)
    assert missing.returncode == 2 and "not in the store" in missing.stderr and "Traceback" not in missing.stderr


# ------------------------------------------------------------------------ exits, errors, tables, help
def run_here(capsys, *args: str) -> tuple[int, str, str]:
    """A `cession` command in this process: (exit code, stdout, stderr)."""
    from api import exits
    from api.cli import app

    code = exits.run(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_bad_input_is_one_line_and_exit_2_or_json_on_stdout_with_the_same_code(capsys):
    args = ("interest", "--principal", "12.345", "--from", "2025-01-01", "--to", "2025-02-01")
    code, out, err = run_here(capsys, *args)
    assert code == 2 and out == ""
    assert one_error_line(err) == "error: --principal: '12.345': at most two decimals (grosz)"
    code, out, err = run_here(capsys, *args, "--json")
    assert code == 2 and err == ""
    assert json.loads(out) == {"error": "--principal: '12.345': at most two decimals (grosz)", "code": 2}


def test_a_command_line_the_parser_refuses_is_one_line_naming_the_help(capsys):
    code, out, err = run_here(capsys, "interest", "--principal", "10")
    assert code == 2 and one_error_line(err) == "error: Missing option '--from'. (see: cession interest --help)"
    code, out, err = run_here(
        capsys, "limitation", "--due", "2016-03-15", "--kind", "business", "--as-off", "x", "--json"
    )
    assert code == 2 and err == ""  # an unknown option: --json was never read, it is found among the arguments
    assert json.loads(out) == {
        "error": "No such option: --as-off (Possible options: --as-of) (see: cession limitation --help)",
        "code": 2,
    }
    code, out, err = run_here(capsys, "nope")
    assert code == 2 and one_error_line(err) == "error: No such command 'nope'. (see: cession --help)"


def test_a_bug_exits_1_with_its_traceback_and_json_still_gets_its_error(capsys, monkeypatch):
    import api.cli.calculators

    def broken(kind, years):
        return {}["no such key"]

    monkeypatch.setattr(api.cli.calculators, "limitation_kind", broken)
    args = ("limitation", "--due", "2016-03-15", "--kind", "business")
    code, out, err = run_here(capsys, *args)
    assert code == 1 and out == ""
    assert "Traceback (most recent call last)" in err and 'return {}["no such key"]' in err
    assert (
        err.splitlines()[-1]
        == "error: a bug in Cession: KeyError: 'no such key' (the traceback is above; please report it)"
    )
    code, out, err = run_here(capsys, *args, "--json")
    assert code == 1 and "Traceback" in err
    assert json.loads(out) == {
        "error": "a bug in Cession: KeyError: 'no such key' (the traceback is above; please report it)",
        "code": 1,
    }


def test_a_file_the_system_refuses_is_one_line_naming_it(capsys, monkeypatch):
    import api.cli.calculators

    def full(kind, years):
        raise OSError(28, "No space left on device", "/data/state.parquet")

    monkeypatch.setattr(api.cli.calculators, "limitation_kind", full)
    code, out, err = run_here(capsys, "limitation", "--due", "2016-03-15", "--kind", "business")
    assert code == 2 and one_error_line(err) == "error: /data/state.parquet: No space left on device"


def test_ctrl_c_and_sigterm_exit_130(capsys, monkeypatch):
    import os
    import signal
    import time

    import api.cli.calculators

    def ctrl_c(kind, years):
        raise KeyboardInterrupt

    def sigterm(kind, years):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises at once
        raise AssertionError("SIGTERM did not interrupt")

    before = signal.getsignal(signal.SIGTERM)
    args = ("limitation", "--due", "2016-03-15", "--kind", "business")
    monkeypatch.setattr(api.cli.calculators, "limitation_kind", ctrl_c)
    code, out, err = run_here(capsys, *args)
    assert code == 130 and one_error_line(err) == "error: interrupted (SIGINT); nothing half-written was kept"
    monkeypatch.setattr(api.cli.calculators, "limitation_kind", sigterm)
    code, out, err = run_here(capsys, *args, "--json")
    assert code == 130 and json.loads(out) == {
        "error": "interrupted (SIGTERM); nothing half-written was kept",
        "code": 130,
    }
    assert signal.getsignal(signal.SIGTERM) is before  # the command's handler is gone with it


@pytest.mark.slow
def test_sigterm_during_a_series_exits_130_and_leaves_no_files(tmp_path):
    import os
    import signal
    import time

    cession("generate", "--claims", "20000", "--seed", "9", "--out", str(tmp_path))
    out = tmp_path / "series"
    running = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "state",
            "--claims",
            str(tmp_path / "claims.parquet"),
            "--events",
            str(tmp_path / "events.parquet"),
            "--as-of",
            "2020-01-31..2025-12-31",
            "--allow-stale-rates",
            "--out",
            str(out),
        ],
        cwd=Path(__file__).parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".series.staging-*")) and running.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running.poll() is None, "the series ended before it could be interrupted"
    os.kill(running.pid, signal.SIGTERM)
    stdout, stderr = running.communicate(timeout=60)
    assert running.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "error: interrupted (SIGTERM); nothing half-written was kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.parquet", "events.parquet"]


def test_output_paths_are_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    store = tmp_path / "store.db"
    cases = {
        (
            "state",
            "--claims",
            "nowhere.parquet",
            "--events",
            "nowhere.parquet",
            "--as-of",
            "2026-01-31",
            "--out",
            str(tmp_path),
        ): f"error: --out {tmp_path}: is a folder; give a file path, e.g. {tmp_path / 'state.parquet'}",
        (
            "state",
            "--claims",
            "nowhere.parquet",
            "--events",
            "nowhere.parquet",
            "--as-of",
            "2026-01-31,2026-02-28",
            "--out",
            str(a_file),
        ): f"error: --out {a_file}: is a file; give a folder (it is made if missing)",
        (
            "run",
            "--as-of",
            "2026-01-31,2026-02-28",
            "--out",
            str(a_file),
            "--database-url",
            f"sqlite:///{store}",
        ): f"error: --out {a_file}: is a file; give a folder (it is made if missing)",
        (
            "load",
            "--claims",
            "nowhere.parquet",
            "--rejects",
            str(a_file / "rejects.parquet"),
            "--database-url",
            f"sqlite:///{store}",
        ): f"error: --rejects {a_file / 'rejects.parquet'}: {a_file} is a file, not a folder",
        (
            "generate",
            "--claims",
            "10",
            "--out",
            "/proc/cession-out",
        ): "error: --out /proc/cession-out: cannot write in /proc (No such file or directory)",
        (
            "ingest",
            "nowhere.csv",
            "--portfolio",
            "P",
            "--reports",
            str(tmp_path),
            "--database-url",
            f"sqlite:///{store}",
        ): f"error: --reports {tmp_path}: is a folder; give a stem of file names, e.g. {tmp_path / 'reports'} "
        f"(writes {tmp_path / 'reports'}.rejects.csv, ...)",
    }
    for args, message in cases.items():
        code, out, err = run_here(capsys, *args)
        assert code == 2 and one_error_line(err) == message, args
    assert not store.exists()  # the store was never opened


def test_help_shows_flags_as_flags(capsys):
    """typer 0.29's rich help printed `--json <bool>` (even `--help <bool>`): a flag takes no value."""
    from typer.main import get_command

    from api.cli import app

    def paths(command, path=()):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from paths(sub, (*path, name))

    seen = 0
    for path in paths(get_command(app)):
        code, out, err = run_here(capsys, *path, "--help")
        assert code == 0 and "--help" in out, path
        assert "<bool>" not in out and "BOOLEAN" not in out, (path, out)
        seen += 1
    assert seen >= 12
    code, out, _ = run_here(capsys, "runs", "--help")
    assert "--json" in out and "<str>" in out  # options that take a value still say what value


def test_amounts_and_counts_are_written_as_polish_readers_write_them():
    from api import formats
    from engine.money import pln, to_grosz

    assert formats.amount(138690184582) == "1\u00a0386\u00a0901\u00a0845,82\u00a0zł"
    assert formats.amount(5) == "0,05\u00a0zł" and formats.amount(-123456) == "-1\u00a0234,56\u00a0zł"
    assert formats.count(1_500_000) == "1\u00a0500\u00a0000" and formats.count(999) == "999"
    assert formats.seconds(1.234) == "1,23\u00a0s" and formats.decimal(11.25, 2) == "11,25"
    for grosz in (0, 7, 99, 100, 123456, 138690184582, 10**17 + 1):
        assert to_grosz(formats.amount(grosz, currency=False)) == grosz  # read back as typed
        assert pln(grosz) == f"{grosz // 100}.{grosz % 100:02d}"  # --json and files keep '123.45'


def rendered(width: int, show) -> list[str]:
    """What ``show(console)`` prints on a terminal ``width`` columns wide, line by line."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    show(console)
    return console.file.getvalue().splitlines()


def assert_whole(lines: list[str], width: int, values: list[str]) -> None:
    from rich.cells import cell_len

    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    assert not any("…" in line for line in lines), "\n".join(lines)  # nothing cut
    for value in values:
        assert any(value in line for line in lines), (value, "\n".join(lines))


def series(days: int) -> list[dict]:
    from datetime import date, timedelta

    money = {
        "total_due": 138690184582,
        "interest_due": 38690184582,
        "paid_costs": 1,
        "paid_interest": 2_000_000_00,
        "paid_principal": 7_999_999_97,
    }
    return [
        {
            "as_of": (date(2025, 1, 31) + timedelta(days=31 * i)).isoformat(),
            "claims": 1_500_000,
            "totals": {k: v + i for k, v in money.items()},
            "time_barred": 123_456 + i,
            "suspended": 7_890,
            "seconds": 12.345,
            "stale_rate_tables": {},
            "executor": "local",
            "partitions": 4,
        }
        for i in range(days)
    ]


def test_the_multi_day_state_table_fits_80_and_120_columns_with_every_date_and_amount_whole(monkeypatch):
    import api.cli.console
    from api import formats
    from api.cli.states import print_series

    for width in (80, 120, 160, 60):
        summaries = series(4)
        shown = [s["as_of"] for s in summaries]
        shown += [formats.amount(s["totals"][k]) for s in summaries for k in ("total_due", "interest_due")]
        shown += [
            formats.amount(s["totals"]["paid_costs"] + s["totals"]["paid_interest"] + s["totals"]["paid_principal"])
            for s in summaries
        ]

        def show(console, summaries=summaries):
            monkeypatch.setattr(api.cli.console, "out", console)
            print_series(summaries, None, as_json=False)

        lines = rendered(width, show)
        assert_whole(lines, width, shown)
        if width >= 120:
            assert_whole(lines, width, [formats.count(1_500_000), formats.count(123_456)])
        if width == 160:  # everything in one table
            assert_whole(lines, width, [formats.seconds(12.345)])
            assert "not shown" not in "\n".join(lines)
        if width == 80:  # fewer columns, and a line says which
            assert any(
                line.startswith("not shown at this width: claims, time-barred, suspended, time") for line in lines
            )
        if width == 60:  # one block per day: every value, each on its own line
            assert_whole(lines, width, [formats.count(1_500_000), formats.count(123_456)])
            assert sum(line.startswith("as of 20") for line in lines) == 4


def test_the_runs_table_fits_80_columns_with_dates_whole_and_the_error_readable():
    from datetime import date
    from types import SimpleNamespace

    from api import formats
    from api.cli.runs import print_runs

    error = (
        "PartitionsFailed: partition 3 (claim_id 750001..1000000, 250 000 claims) failed twice: "
        "the worker died (OOM); the stored state is as it was"
    )
    runs = [
        SimpleNamespace(
            run_id=10 + i,
            status="failed" if i else "succeeded",
            as_of=date(2025, 12, 31),
            portfolio_id="BANK-2024-06@v2",
            claims=1_500_000,
            time_barred=123_456,
            seconds=73.5,
            error=error if i else None,
        )
        for i in range(3)
    ]
    for width in (80, 120):
        lines = rendered(width, lambda console: print_runs(console, runs))
        assert_whole(lines, width, ["2025-12-31", "BANK-2024-06@v2", "succeeded", "failed"])
        words = " ".join(" ".join(line.replace("│", " ").split()) for line in lines)
        assert "the worker died (OOM)" in words  # the error is there, wrapped at spaces, never one word a line
        assert max(len(line.replace("│", " ").split()) for line in lines if "worker" in line) >= 3
    lines = rendered(120, lambda console: print_runs(console, runs))
    assert_whole(lines, 120, [formats.count(1_500_000), formats.count(123_456), formats.seconds(73.5)])


def test_the_summary_of_a_state_fits_80_columns(monkeypatch):
    import api.cli.console
    import api.cli.states
    from api import formats

    summary = dict(series(1)[0], events=12_345_678, waterfall="costs,interest,principal", limitation_rule_set="2026-12")
    summary["totals"] |= {
        k: 99_999_999_999_99
        for k in ("costs_due", "interest_time_barred", "interest_accrued", "overpaid", "principal_due")
    }

    def show(console):
        monkeypatch.setattr(api.cli.console, "out", console)
        api.cli.states.print_summary(summary, None)

    lines = rendered(80, show)
    assert_whole(
        lines,
        80,
        [
            formats.amount(99_999_999_999_99),
            formats.amount(138690184582),
            "claims 1\u00a0500\u00a0000",
            "events 12\u00a0345\u00a0678",
            "time-barred 123\u00a0456 (8,2%)",
            "limitation rule set 2026-12",
        ],
    )


def test_the_ingest_summary_fits_80_columns_with_every_count_and_amount_whole(monkeypatch):
    from types import SimpleNamespace

    import api.cli.console
    import api.cli.ingest
    from api import formats
    from ingest.pipeline import Control

    failures = pl.DataFrame({"row": [7], "column": ["principal"], "rule": ["must be >= 0"], "value": ["-1,00"]})
    report = SimpleNamespace(
        status="ingested",
        file=Path("eksport-2024-06.csv"),
        portfolio_id="BANK-2024-06",
        rows_read=1_500_000,
        accepted=1_499_999,
        rejected=1,
        blank_lines=0,
        padded_rows=12_345,
        principal=138690184582,
        purchase_price=25_000_000_00,
        new_debtors=1_200_000,
        known_debtors=34_567,
        candidates=pl.DataFrame({"x": [1, 2]}),
        conflicts=pl.DataFrame(),
        encoding="cp1250",
        version=1,
        control=Control(1_500_000, 138690184583, 1_500_000, 138690184582, 1),
        rejects_by_rule=lambda: {"principal: must be >= 0": 1},
        failures=failures,
        ingest_id=12,
        seconds=61.5,
        overlaps=pl.DataFrame({"row": [3, 3, 9]}),
    )

    def show(console):
        monkeypatch.setattr(api.cli.console, "out", console)
        api.cli.ingest.print_report(report, None)

    lines = rendered(80, show)
    assert_whole(
        lines,
        80,
        [
            formats.count(1_500_000),
            formats.count(1_499_999),
            formats.amount(138690184582),
            formats.amount(25_000_000_00),
            f"{formats.count(1_200_000)} / {formats.count(34_567)}",
            "CONTROL TOTALS DO NOT MATCH: count 1\u00a0500\u00a0000 vs 1\u00a0500\u00a0000 rows read;",
            "principal 1\u00a0386\u00a0901\u00a0845,83\u00a0zł",
            "vs 1\u00a0386\u00a0901\u00a0845,82\u00a0zł",
            "ingest 12 stored in one transaction (61,50\u00a0s)",
            "12\u00a0345",
        ],
    )
    assert any("claims another portfolio holds" in line and line.rstrip(" │").endswith(" 2") for line in lines)


def test_an_error_after_a_progress_bar_began_is_still_one_line(tmp_path):
    """A progress bar is drawn only on a terminal: its end left an empty line before the error."""
    binary = tmp_path / "export.csv"
    binary.write_bytes(bytes(range(256)) * 12)
    result = cession(
        "ingest",
        str(binary),
        "--portfolio",
        "P",
        "--database-url",
        f"sqlite:///{tmp_path / 'store.db'}",
        "--reports",
        str(tmp_path / "export"),
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert one_error_line(result.stderr).startswith("error: export.csv is not a CSV text file (")
