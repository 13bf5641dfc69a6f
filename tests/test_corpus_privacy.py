"""Redaction of corpus values (pytest_nectar/corpus/privacy.py): each placeholder, each level."""

from __future__ import annotations

import pytest

from pytest_nectar.corpus.privacy import Redaction, Scrubber

STANDARD = Scrubber(Redaction.STANDARD)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login by alice.smith@example.org", "login by <email>"),
        ("from 203.0.113.77 and 10.1.2.3:8080", "from <ip> and <ip>"),
        ("peer [::1]:57832", "peer <ip>"),
        ("mapped ::ffff:172.25.0.22", "mapped ::ffff:<ip>"),
        ("v6 2001:db8::1 here", "v6 <ip> here"),
        ("Darwin Vadims-MacBook-Pro.local 22.4.0", "Darwin <host> 22.4.0"),
        ("db-primary.prod.internal:5432", "<host>:5432"),
        ("frontend-proxy:8080/api/cart", "<host>:8080/api/cart"),
        ("http://127.0.0.1:36663/?q=1", "http://<ip>:36663/?q=1"),
        ("https://api.example.com/v1/users", "https://<host>/v1/users"),
        ("access '/Users/vadim/work/app.py'", "access '<path>'"),
        ("unknown_service:/home/vk/.nvm/node", "unknown_service:<path>"),
        ("open C:\\Users\\vadim\\notes.txt failed", "open <path> failed"),
        ("user 3f2b8c1e-9d4a-4b6f-8e2a-1c5d7f9a0b3e", "user <id>"),
        ("container b1ebc66777d5 up", "container <id> up"),
        # Kept: routes, module paths, versions, words, durations.
        ("/api/cart", "/api/cart"),
        ("go.opentelemetry.io/otel/sdk/trace", "go.opentelemetry.io/otel/sdk/trace"),
        ("semver:0.27.0", "semver:0.27.0"),
        ("opentelemetry.instrumentation.requests", "opentelemetry.instrumentation.requests"),
        ("kafkaqueue.go:14", "kafkaqueue.go:14"),
        ("12:30:45 GET", "12:30:45 GET"),
    ],
)
def test_text_placeholders(text: str, expected: str) -> None:
    assert STANDARD.text(text) == expected


@pytest.mark.parametrize(
    ("field", "placeholder"),
    [
        ("http.request.header.authorization", "<secret>"),
        ("api_token", "<secret>"),
        ("apiKey", "<secret>"),
        ("db.password", "<secret>"),
        ("http.cookie", "<secret>"),
        ("highlight.session_id", "<secret>"),
        ("host.name", "<host>"),
        ("net.peer.name", "<host>"),
        ("server.address", "<host>"),
        ("net.peer.ip", "<ip>"),
        ("http.client_ip", "<ip>"),
        ("app.user.id", "<id>"),
        ("enduser.role", "<id>"),
        ("customerId", "<id>"),
        ("process.owner", "<id>"),
        ("http.route", None),
        ("service.name", None),
        ("app.user.currency", None),
    ],
)
def test_fields_named_private_hide_every_value(field: str, placeholder: str | None) -> None:
    assert STANDARD.field_placeholder(field) == placeholder


def test_levels() -> None:
    strict, off = Scrubber(Redaction.STRICT), Scrubber(Redaction.OFF)
    assert strict.value("http.route", "/api/cart") == "<value>"
    assert strict.value("service.name", "a@b.example.com") == "<email>"
    assert strict.location("/work/x.json:3: bad") == "<value>"
    assert off.value("host.name", "Vadims-MacBook-Pro.local") == "Vadims-MacBook-Pro.local"
    assert off.value("db.password", "hunter2") == "<secret>"  # never sent, at any level
    assert STANDARD.value("order", "customer-aardvark", high_cardinality=True) == "<id>"
    assert off.value("order", "customer-aardvark", high_cardinality=True) == "customer-aardvark"
    assert STANDARD.location("/work/shared/traces.json:3: bad record") == "<path>:3: bad record"
