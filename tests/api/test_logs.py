"""Logging: quiet by default, -v/-vv or CESSION_LOG_LEVEL for more, each line with its run id."""

from __future__ import annotations

import logging

from api import logs


def test_quiet_by_default_and_each_line_names_its_run(capsys):
    log = logging.getLogger("engine.store.runs")
    logs.configure(logs.level_of(0))
    log.info("not shown")
    log.warning("shown")
    assert capsys.readouterr().err.endswith("WARNING engine.store.runs run=-: shown\n")
    logs.configure(logs.level_of(1))
    log.info("stored %s rows", 1000, extra={"run_id": 17})
    log.debug("not shown at -v")
    err = capsys.readouterr().err
    assert err.endswith("INFO engine.store.runs run=17: stored 1000 rows\n") and len(err.splitlines()) == 1
    logs.configure(logs.level_of(2))
    log.debug("shown at -vv")
    assert "DEBUG engine.store.runs run=-: shown at -vv" in capsys.readouterr().err
    logging.getLogger("sqlalchemy.engine").info("another library's info")
    assert capsys.readouterr().err == ""  # others stay at WARNING
    logs.configure(logs.level_of(0, "info"))  # --log-level / CESSION_LOG_LEVEL wins over -v
    log.info("by name")
    assert "run=-: by name" in capsys.readouterr().err
    logs.configure()


def test_configured_twice_a_line_is_written_once(capsys):
    logs.configure(logging.INFO)
    logs.configure(logging.INFO)
    logging.getLogger("api.runs.service").info("once")
    assert capsys.readouterr().err.count("once") == 1
    logs.configure()
