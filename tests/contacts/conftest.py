"""Contacts over a real store, SQLite and PostgreSQL (with CESSION_TEST_DATABASE_URL): the store's
fixtures, and a local SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import socket

import pytest

from tests.store.conftest import empty_store_url, migrated_postgres, migrated_sqlite, store, store_url  # noqa: F401 (fixtures)


@pytest.fixture
def smtp_server():
    """(host, port, received envelopes) of a real SMTP server on the loopback, for the test's length."""
    from aiosmtpd.controller import Controller

    received = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, received
    finally:
        controller.stop()
