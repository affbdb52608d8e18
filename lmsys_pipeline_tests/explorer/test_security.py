"""Who may reach the explorer, and what it never shows: the token, refusing to start on an
open address without one, escaped text, masked passwords, no tracebacks."""

import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.explorer import data
from lmsys_pipeline.explorer.app import create_app
from lmsys_pipeline.explorer.settings import ExplorerSettings, SettingsError
from lmsys_pipeline_tests.explorer.built import SCRIPT
from lmsys_pipeline_tests.explorer.conftest import client_for


def test_an_open_address_needs_a_token(tmp_path):
    with pytest.raises(SettingsError, match="--token"):
        create_app(ExplorerSettings(db_url=str(tmp_path / "q.db"), host="0.0.0.0"))
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--db-url", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --host 0.0.0.0 lets other machines")
    assert create_app(ExplorerSettings(db_url=str(tmp_path / "q.db"), host="0.0.0.0", token="t"))


def test_the_token_is_checked_on_every_request(sqlite_explorer, minilm):
    url, built = sqlite_explorer
    with client_for(url, minilm, token="s3cret") as client:
        for path in ("/", "/api/runs", f"/runs/{built.run_a}", "/static/explorer.js", "/docs"):
            refused = client.get(path)
            assert refused.status_code == 401, path
        assert "token" in client.get("/api/runs").json()["error"]
        assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert (
            client.get("/api/runs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        )
        entry = client.get("/?token=s3cret&x=1", follow_redirects=False)
        assert entry.status_code == 303 and entry.headers["location"] == "/?x=1"
        assert "httponly" in entry.headers["set-cookie"].lower()
        assert client.get("/api/runs").status_code == 200  # the cookie now


def test_planted_markup_and_terminal_escapes_show_literally(sqlite_explorer, minilm):
    url, built = sqlite_explorer
    with client_for(url, minilm) as client:
        page = client.get(f"/queries/{built.script}")
        assert SCRIPT not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        escapes = client.get(f"/queries/{built.escapes}").text
        assert "\x1b" not in escapes and "\\x1b[31mred alert" in escapes
        assert 'href="javascript' not in escapes
        hits = client.get("/search", params={"q": SCRIPT}).text
        assert SCRIPT not in hits and "&lt;script&gt;" in hits
        assert client.get(f"/api/queries/{built.script}").json()["query_text"] == SCRIPT


def test_the_database_password_is_masked(explorer_template, postgres_url, minilm):
    from sqlalchemy.engine import make_url

    from lmsys_pipeline_tests.explorer.conftest import TEMPLATE

    secret = make_url(postgres_url).set(database=TEMPLATE, password="hunter2")
    with client_for(secret.render_as_string(hide_password=False), minilm) as client:
        for path in ("/", "/api/session", "/docs"):
            text = client.get(path).text
            assert "hunter2" not in text and "***" in text


def test_a_server_fault_is_one_sentence_without_a_traceback(sqlite_explorer, minilm, monkeypatch):
    url, _ = sqlite_explorer

    def broken(db):
        raise RuntimeError("a bug with internals: /secret/path")

    monkeypatch.setattr(data, "runs", broken)
    with client_for(url, minilm) as client:
        answer = client.get("/api/runs")
        assert answer.status_code == 500
        assert answer.json() == {
            "error": "The server failed on this request (RuntimeError): its log has the details."
        }
        page = client.get("/")
        assert page.status_code == 500 and "/secret/path" not in page.text
