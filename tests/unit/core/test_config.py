"""Configuration loading (webhooks/settings.py) and the `chatdesk` commands that use it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from webhooks.settings import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[3]
CHATDESK = Path(sys.executable).parent / "chatdesk"

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
WECOM_SECRET = "wecom-secret-Zq81"
WECOM_TOKEN = "wecom-token-Kp27"
DING_SECRET = "ding-secret-Xv55"
DING_CARD_SECRET = "ding-card-secret-Rt41"
API_TOKEN = "api-token-Hh90-0123456789abcdefghij"

GOOD = f"""
http: {{host: 0.0.0.0, port: 8080, public_base_url: "https://desk.example.com"}}
timezone: Asia/Shanghai
api_tokens: ["{API_TOKEN}"]
wecom:
  corp_id: ww0123456789abcdef
  agent_id: 1000002
  secret: "{WECOM_SECRET}"
  token: "{WECOM_TOKEN}"
  encoding_aes_key: "{AES_KEY}"
dingtalk:
  app_key: dingabc
  app_secret: "{DING_SECRET}"
  card_callback_secret: "{DING_CARD_SECRET}"
people:
  - {{id: zhang, name: 张伟, roles: [engineer], region: 华东, skills: [注塑机], wecom_userid: zhangwei}}
  - {{id: li, name: 李娜, roles: [agent, manager], dingtalk_userid: "0123456"}}
calendars:
  - key: office
    timezone: Asia/Shanghai
    hours: {{mon: ["09:00-12:00", "13:00-18:00"], sat: ["09:00-12:00"]}}
    holidays: cn
    extra_holidays: ["2025-12-31"]
    extra_workdays: ["2025-12-27"]
parts:
  - {{sku: LX-01, name: 滤芯, stock: 10, unit_cost: 85.0}}
"""

# Unknown keys at every depth: top level, a section, a list item, a list item's list item,
# a platform section, a nested calendar.
UNKNOWN_KEYS = f"""
colour: red
http: {{port: 8080, bogus: 1}}
people:
  - {{id: zhang, name: 张伟, roles: [engineer], nickname: 小张}}
calendars:
  - {{key: office, overtime: true}}
ticket_types:
  - key: repair
    name: 报修
    fields: [{{key: device, label: 设备, colour: red}}]
wecom: {{corp_id: ww1, agent_id: 1, secret: s, token: t, encoding_aes_key: "{AES_KEY}", extra_key: 1}}
workers: {{batch: 5, turbo: yes}}
"""
UNKNOWN_PATHS = [
    "colour",
    "http.bogus",
    "people.0.nickname",
    "calendars.0.overtime",
    "ticket_types.0.fields.0.colour",
    "wecom.extra_key",
    "workers.turbo",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CHATDESK_ variable of the surrounding shell may leak into these tests."""
    for name in list(os.environ):
        if name.startswith("CHATDESK_") and not name.startswith("CHATDESK_TEST_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "chatdesk.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value) == "\n".join(err.value.problems)
    return err.value.problems


def test_good_file_loads(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert (s.http.host, s.http.port) == ("0.0.0.0", 8080)
    assert s.wecom is not None and s.wecom.agent_id == 1000002
    assert s.dingtalk is not None and s.dingtalk.effective_robot_code == "dingabc"
    assert [p.id for p in s.people] == ["zhang", "li"]
    desk = s.desk()
    assert [c.key for c in desk.calendars] == ["office"]
    assert str(desk.calendars[0].extra_workdays[0]) == "2025-12-27"
    assert [t.key for t in desk.ticket_types] == ["repair", "maintenance", "consult"]  # defaults
    assert s.sandbox_enabled is False  # auto: platforms are configured


def test_no_file_gives_the_defaults() -> None:
    s = load_settings(None)
    assert s.http.port == 8080 and s.wecom is None and s.dingtalk is None
    assert s.sandbox_enabled is True


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "# nothing here\n"))
    assert s.database_url.startswith("sqlite+aiosqlite:///")


def test_unknown_keys_are_reported_with_their_dotted_paths(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, UNKNOWN_KEYS))
    paths = sorted(p.split(":", 1)[0] for p in problems)
    assert paths == sorted(UNKNOWN_PATHS)
    assert all("unknown key" in p for p in problems)


def test_unknown_key_from_the_environment_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDESK_HTTP__BOGUS", "1")
    problems = problems_of(write(tmp_path, GOOD))
    assert [p.split(":")[0] for p in problems] == ["http.bogus"]


def test_env_overrides_a_yaml_section_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDESK_HTTP__PORT", "9090")
    monkeypatch.setenv("CHATDESK_WECOM__SECRET", "from-env-Rr11")
    s = load_settings(write(tmp_path, GOOD))
    assert s.http.port == 9090
    assert s.http.host == "0.0.0.0"  # the rest of the YAML section is kept
    assert s.http.public_base_url == "https://desk.example.com"
    assert s.wecom is not None
    assert s.wecom.secret.get_secret_value() == "from-env-Rr11"
    assert s.wecom.token.get_secret_value() == WECOM_TOKEN
    assert s.wecom.corp_id == "ww0123456789abcdef"


def test_secrets_may_come_from_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_secrets = f"""
wecom: {{corp_id: ww1, agent_id: 1, encoding_aes_key: "{AES_KEY}"}}
"""
    monkeypatch.setenv("CHATDESK_WECOM__SECRET", "env-only-Aa01")
    monkeypatch.setenv("CHATDESK_WECOM__TOKEN", "env-only-Bb02")
    s = load_settings(write(tmp_path, no_secrets))
    assert s.wecom is not None
    assert s.wecom.secret.get_secret_value() == "env-only-Aa01"
    assert s.wecom.token.get_secret_value() == "env-only-Bb02"


def test_missing_secret_is_reported_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, f'wecom: {{corp_id: ww1, agent_id: 1, encoding_aes_key: "{AES_KEY}"}}')
    paths = sorted(p.split(":")[0] for p in problems_of(path))
    assert paths == ["wecom.secret", "wecom.token"]


def test_bad_env_value_is_reported_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDESK_HTTP__PORT", "eighty")
    problems = problems_of(write(tmp_path, GOOD))
    assert [p.split(":")[0] for p in problems] == ["http.port"]


def test_secrets_are_secretstr_and_not_in_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDESK_ACTION_SECRET", "action-secret-Jj33")
    s = load_settings(write(tmp_path, GOOD))
    assert s.wecom is not None and s.dingtalk is not None
    secrets = {
        WECOM_SECRET: s.wecom.secret,
        WECOM_TOKEN: s.wecom.token,
        AES_KEY: s.wecom.encoding_aes_key,
        DING_SECRET: s.dingtalk.app_secret,
        API_TOKEN: s.api_tokens[0],
        "action-secret-Jj33": s.action_secret,
    }
    for plain, value in secrets.items():
        assert isinstance(value, SecretStr)
        assert value.get_secret_value() == plain
    shown = repr(s) + str(s) + repr(s.wecom) + repr(s.dingtalk) + s.model_dump_json()
    for plain in secrets:
        assert plain not in shown


@pytest.mark.parametrize(
    "text",
    [
        "a: [1, 2\n",  # unterminated flow sequence
        "http:\n  port: 8080\n   host: x\n",  # bad indentation
        "key: 'unterminated\n",
        "\t- tab\n",
        "calendars: [{key: office, extra_holidays: [2025-02-30]}]\n",  # no such day
        "when: 2025-13-01\n",
    ],
)
def test_invalid_yaml_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: YAML")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_yaml_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:") and "映射" in problem


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "absent.yaml")
    assert "absent.yaml" in problem


def test_duplicate_people_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
people:
  - {id: zhang, name: 张伟, roles: [engineer]}
  - {id: li, name: 李娜, roles: [agent]}
  - {id: zhang, name: 张三, roles: [manager]}
""",
    )
    [problem] = problems_of(path)
    assert "people: 重复的键 zhang" in problem


def test_same_platform_user_for_two_people(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
people:
  - {id: zhang, name: 张伟, roles: [engineer], wecom_userid: zw}
  - {id: wang, name: 王强, roles: [engineer], wecom_userid: zw}
""",
    )
    [problem] = problems_of(path)
    assert "people.zhang.wecom_userid" in problem and "people.wang.wecom_userid" in problem


@pytest.mark.parametrize(
    ("hours", "named"),
    [
        ('{mon: ["18:00-09:00"]}', ["18:00-09:00"]),  # ends before it starts
        ('{mon: ["09:00-09:00"]}', ["09:00-09:00"]),  # empty
        ('{mon: ["25:00-26:00"]}', ["25:00-26:00"]),
        ('{mon: ["9:00-12:00"]}', ["9:00-12:00"]),  # HH:MM
        ('{mon: ["09:00-12:60"]}', ["09:00-12:60"]),
        ('{mon: ["09:00 - 12:00"]}', ["09:00 - 12:00"]),
        # every bad span is named, not only the first
        ('{mon: ["18:00-09:00"], tue: ["25:00-26:00"]}', ["18:00-09:00", "25:00-26:00"]),
        # overlapping spans would count the same minutes twice
        ('{mon: ["09:00-12:00", "11:00-13:00"]}', ["09:00-12:00", "11:00-13:00"]),
    ],
)
def test_calendar_span_validation(tmp_path: Path, hours: str, named: list[str]) -> None:
    path = write(tmp_path, f"calendars:\n  - {{key: office, hours: {hours}}}\n")
    [problem] = problems_of(path)
    assert problem.startswith("calendars.0.hours:")
    for span in named:
        assert span in problem


@pytest.mark.parametrize(
    "hours",
    [
        '{mon: ["09:00-12:00", "12:00-18:00"]}',  # touching, not overlapping
        '{sun: ["00:00-24:00"]}',
        '{mon: ["13:00-18:00", "09:00-12:00"]}',  # any order
    ],
)
def test_calendar_spans_accepted(tmp_path: Path, hours: str) -> None:
    s = load_settings(write(tmp_path, f"calendars:\n  - {{key: office, hours: {hours}}}\n"))
    assert s.calendars[0].hours


def test_calendar_other_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
calendars:
  - {key: office, holidays: us, extra_holidays: ["2025-02-30"], hours: {moon: ["09:00-12:00"]}}
""",
    )
    paths = sorted(p.split(":")[0] for p in problems_of(path))
    assert paths == [
        "calendars.0.extra_holidays.0",
        "calendars.0.holidays",
        "calendars.0.hours.moon.[key]",
    ]


def test_sla_must_name_a_configured_calendar(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ticket_types:
  - key: repair
    name: 报修
    sla: {urgent: {calendar: night, response_minutes: 10, resolve_minutes: 60}}
""",
    )
    [problem] = problems_of(path)
    assert "ticket_types.repair.sla.urgent.calendar" in problem and "night" in problem


# --- the command line --------------------------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    clean.update(env or {})
    return subprocess.run(
        args, cwd=REPO, env=clean, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_config_good_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = run(sys.executable, "-m", "webhooks", "check-config", "--config", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "config OK" in out and str(path) in out
    assert "2 people" in out and "3 ticket types" in out and "1 parts" in out
    assert "wecom" in out and "dingtalk" in out
    for secret in (WECOM_SECRET, WECOM_TOKEN, DING_SECRET, API_TOKEN, AES_KEY):
        assert secret not in out + result.stderr


def test_check_config_bad_file_lists_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, UNKNOWN_KEYS)
    result = run(sys.executable, "-m", "webhooks", "check-config", "--config", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert sorted(line.split(":")[0] for line in lines) == sorted(UNKNOWN_PATHS)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text", ["a: [1, 2\n", "extra_holidays: [2025-02-30]\n"])
def test_check_config_invalid_yaml_exits_1(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    result = run(sys.executable, "-m", "webhooks", "check-config", "--config", str(path))
    assert result.returncode == 1
    assert str(path) in result.stderr and "YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_reads_chatdesk_config_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, name="elsewhere.yaml")
    result = run(str(CHATDESK), "check-config", env={"CHATDESK_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout and "2 people" in result.stdout


def test_migrate_creates_the_schema_on_a_new_sqlite_file(tmp_path: Path) -> None:
    db_file = tmp_path / "var" / "desk.db"  # the directory does not exist yet
    path = write(tmp_path, f"database_url: sqlite+aiosqlite:///{db_file}\n")
    for _ in range(2):  # a second run has nothing to do and still succeeds
        result = run(str(CHATDESK), "migrate", "--config", str(path))
        assert result.returncode == 0, result.stderr
        assert "migrations applied" in result.stdout
    with sqlite3.connect(db_file) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"tickets", "ticket_history", "people", "identities", "inbox", "outbox"} <= tables
    assert {"cards", "processed_commands", "counters"} <= tables
    assert counters == {"ticket": 0, "customer": 0}
    assert len(version) == 1


def test_migrate_with_a_bad_config_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "database_url: [not, a, string]\n")
    result = run(str(CHATDESK), "migrate", "--config", str(path))
    assert result.returncode == 1
    assert "database_url" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_dingtalk_without_the_card_callback_secret_is_refused(tmp_path: Path, command: str) -> None:
    """Card callbacks are authenticated only by this secret: no secret, no start."""
    path = write(tmp_path, GOOD.replace(f'  card_callback_secret: "{DING_CARD_SECRET}"\n', ""))
    result = run(sys.executable, "-m", "webhooks", command, "--config", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "dingtalk: card_callback_secret" in result.stderr
    assert "open-dev.dingtalk.com" in result.stderr and "apiSecret" in result.stderr


def test_check_config_refuses_a_short_api_token_and_says_how_to_make_one(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace(API_TOKEN, "x"))
    result = run(sys.executable, "-m", "webhooks", "check-config", "--config", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "api_tokens.0" in result.stderr and "32" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [("wecom_userid", "@all"), ("wecom_userid", "a|b"), ("dingtalk_userid", "@all")],
)
def test_a_person_s_platform_id_is_one_person(tmp_path: Path, key: str, value: str) -> None:
    body = GOOD.replace("wecom_userid: zhangwei", f'{key}: "{value}"')
    problems = problems_of(write(tmp_path, body))
    assert [p.split(":")[0] for p in problems] == [f"people.0.{key}"]


@pytest.mark.parametrize(
    "broken",
    [
        f'wecom:\n  secret: "{WECOM_SECRET}\n  token: x\n',  # unterminated quote
        f"dingtalk:\n  app_secret: {DING_SECRET}: b\n",  # a colon in a plain value
        f'api_tokens:\n  - "{API_TOKEN}\n',
    ],
)
def test_a_yaml_syntax_error_never_prints_a_secret(tmp_path: Path, broken: str) -> None:
    path = write(tmp_path, broken)
    result = run(sys.executable, "-m", "webhooks", "check-config", "--config", str(path))
    assert result.returncode == 1 and "YAML" in result.stderr and "line 2" in result.stderr
    for secret in (WECOM_SECRET, DING_SECRET, API_TOKEN):
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("section", "key"), [("wecom", "encoding_aes_key"), ("dingtalk", "event_aes_key")]
)
def test_check_config_refuses_an_aes_key_serve_would_crash_on(
    tmp_path: Path, section: str, key: str
) -> None:
    body = GOOD.replace(f'encoding_aes_key: "{AES_KEY}"', f'encoding_aes_key: "{AES_KEY[:42]}"')
    if section == "dingtalk":
        body = GOOD.replace(
            f'  card_callback_secret: "{DING_CARD_SECRET}"\n',
            f'  card_callback_secret: "{DING_CARD_SECRET}"\n  event_aes_key: "{AES_KEY}!"\n',
        )
    result = run(
        sys.executable, "-m", "webhooks", "check-config", "--config", str(write(tmp_path, body))
    )
    assert result.returncode == 1 and "config OK" not in result.stdout
    assert f"{section}.{key}" in result.stderr and "43" in result.stderr
