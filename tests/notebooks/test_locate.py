"""arb.analysis.locate: which database a notebook reads, and one line when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.analysis.locate import NOTEBOOK_DB_ENV, NotebookStop, locate_database
from notebooks.nbrun import make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "arb")


@pytest.mark.parametrize(
    ("explicit", "environ", "url", "source"),
    [
        (None, {}, "sqlite:///{root}/arb.db", "[store] url of {root}/config.toml"),
        (None, {NOTEBOOK_DB_ENV: "sqlite:////data/other.db"}, "sqlite:////data/other.db", "$ARB_NOTEBOOK_DB_URL"),
        ("sqlite:////data/mine.db", {NOTEBOOK_DB_ENV: "sqlite:////data/other.db"}, "sqlite:////data/mine.db",
         "DB_URL parameter"),
        (None, {NOTEBOOK_DB_ENV: ""}, "sqlite:///{root}/arb.db", "[store] url of {root}/config.toml"),
    ],
)
def test_precedence(project: Path, explicit: str | None, environ: dict[str, str], url: str, source: str) -> None:
    located = locate_database(explicit, project / "notebooks", environ)
    assert (located.url, located.source) == (url.format(root=project), source.format(root=project))
    assert located.root == project


@pytest.mark.parametrize(
    ("store_url", "expected"),
    [
        ("sqlite:///arb.db", "sqlite:///{root}/arb.db"),  # relative: from the project root, as `arb run` ran
        ("sqlite:///runs/../runs.db", "sqlite:///{root}/runs.db"),
        ("sqlite:///{elsewhere}/arb.db", "sqlite:///{elsewhere}/arb.db"),
        ("postgresql+psycopg://arb@db.example/arb", "postgresql+psycopg://arb@db.example/arb"),
    ],
)
def test_store_url_resolved_from_the_project_root(tmp_path: Path, store_url: str, expected: str) -> None:
    config = (Path(__file__).resolve().parents[2] / "config.toml").read_text(encoding="utf-8")
    assert 'url = "sqlite:///arb.db"' in config
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = make_project(tmp_path / "arb", config.replace('url = "sqlite:///arb.db"',
                                                            f'url = "{store_url.format(elsewhere=elsewhere)}"'))
    (project / "runs").mkdir()  # arb checks that the database's directory exists, from the project root
    located = locate_database(None, project / "notebooks", {})
    assert located.url == expected.format(root=project, elsewhere=elsewhere)


def test_an_invalid_config_is_one_line(project: Path) -> None:
    config = project / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("[store]", "[stor]"), encoding="utf-8")
    with pytest.raises(NotebookStop, match=r"config.toml: stor: unknown key") as info:
        locate_database(None, project / "notebooks", {})
    assert info.value._render_traceback_() == [f"NotebookStop: {info.value}"]


def test_outside_a_project(tmp_path: Path) -> None:
    with pytest.raises(NotebookStop, match="no config.toml in .* or above it"):
        locate_database(None, tmp_path, {})
