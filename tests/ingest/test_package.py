"""``ingest``'s names: each read from its module on first use, none missing from ``__all__``."""

import subprocess
import sys

import ingest


def test_every_exported_name_is_in_all_and_reads_from_its_module():
    assert sorted(ingest.__all__) == sorted(ingest._EXPORTS)
    for name, module in ingest._EXPORTS.items():
        assert getattr(ingest, name).__module__ == module, name


def test_a_profile_is_checked_without_loading_the_pipeline():
    code = "import sys, ingest.profiles; print('ingest.pipeline' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
