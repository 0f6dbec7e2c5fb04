"""Settings from the environment: a bad value is one line; `describe` masks secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patron.config import ConfigError, Settings, describe, mask_url


class TestFromEnv:
    @pytest.mark.parametrize(
        ("name", "value", "allowed"),
        [
            ("PATRON_POOL_MAX_SIZE", "abc", "a whole number, 1 or more"),
            ("PATRON_POOL_MIN_SIZE", "-1", "a whole number, 0 or more"),
            ("PATRON_LOG_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
            ("PATRON_LOG_FORMAT", "xml", "text or json"),
            ("PATRON_ACCESS_LOG", "maybe", "true or false"),
            ("PATRON_WORKERS", "0", "a whole number, 1 or more"),
            ("PATRON_CLIENT_RATE_SECONDS", "soon", "a number of seconds"),
            ("PATRON_TRUSTED_PROXIES", "10.0.0.0/8,proxy", "IP addresses or networks"),
            ("PATRON_PUBLIC_URL", "ftp://x", "an http:// or https:// URL"),
            ("PATRON_DATABASE_URL", "mysql://db/x", "a postgresql:// URL"),
            ("PATRON_METRICS", "prometheus", "off, open, token or port"),
            ("PATRON_METRICS_PORT", "0", "a port number, 1 to 65535"),
            ("PATRON_METRICS_PORT", "65536", "a port number, 1 to 65535"),
            ("PATRON_METRICS_PORT", "metrics", "a port number, 1 to 65535"),
        ],
    )
    def test_bad_value_is_one_line_naming_variable_value_and_allowed(
        self, name: str, value: str, allowed: str
    ) -> None:
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({name: value})
        message = str(raised.value)
        assert "\n" not in message
        assert message.startswith(f"{name}={value!r} is not allowed: expected ")
        assert allowed in message

    def test_metrics_port_needs_its_port(self) -> None:
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({"PATRON_METRICS": "port"})
        assert str(raised.value) == "PATRON_METRICS=port needs PATRON_METRICS_PORT to be set"

    def test_metrics_port_and_host(self) -> None:
        settings = Settings.from_env({"PATRON_METRICS": "Port", "PATRON_METRICS_PORT": "9100"})
        assert (settings.metrics, settings.metrics_host, settings.metrics_port) == (
            "port",
            "127.0.0.1",
            9100,
        )
        settings = Settings.from_env(
            {"PATRON_METRICS": "port", "PATRON_METRICS_PORT": "9100", "PATRON_METRICS_HOST": "::"}
        )
        assert settings.metrics_host == "::"

    def test_bad_database_url_hides_its_password(self) -> None:
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({"PATRON_DATABASE_URL": "mysql://bob:s3cret@db/x"})
        assert "s3cret" not in str(raised.value)

    def test_values_are_read_and_empty_ones_are_unset(self) -> None:
        settings = Settings.from_env(
            {
                "PATRON_LOG_LEVEL": "debug",
                "PATRON_LOG_FORMAT": "JSON",
                "PATRON_ACCESS_LOG": "1",
                "PATRON_TRUSTED_PROXIES": " 10.0.0.1, 192.168.0.0/16 ",
                "PATRON_WORKER": "no",
                "PATRON_POOL_MAX_SIZE": "7",
                "PATRON_APP_ID": "",
                "OTHER": "ignored",
            }
        )
        assert settings.log_level == "DEBUG"
        assert settings.log_format == "json"
        assert settings.access_log is True
        assert settings.trusted_proxies == "10.0.0.1,192.168.0.0/16"
        assert settings.worker is False
        assert settings.pool_max_size == 7
        assert settings.app_id is None

    def test_defaults(self) -> None:
        settings = Settings.from_env({})
        assert settings == Settings()
        assert settings.access_log is False
        assert settings.log_format == "text"
        assert settings.trusted_proxies == "127.0.0.1"

    def test_keyword_construction_reads_no_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATRON_POOL_MAX_SIZE", "3")
        assert Settings().pool_max_size == 20
        assert Settings.from_env().pool_max_size == 3


class TestNoTraceback:
    def test_a_bad_value_ends_in_one_line(self) -> None:
        code = (
            "import sys\n"
            "from patron.config import ConfigError, Settings\n"
            "try:\n"
            "    Settings.from_env()\n"
            "except ConfigError as exc:\n"
            "    sys.exit(f'patron: {exc}')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={"PATRON_POOL_MAX_SIZE": "abc"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            "patron: PATRON_POOL_MAX_SIZE='abc' is not allowed: expected a whole number, 1 or more"
        ]


class TestDescribe:
    def test_secrets_are_masked(self) -> None:
        settings = Settings(
            database_url="postgresql://bob:s3cret@db.example:5433/patron?password=other",
            app_id="app",
            app_token="tok3n-value",
        )
        rows = dict(describe(settings))
        assert rows["PATRON_APP_TOKEN"] == "***"
        assert rows["PATRON_APP_ID"] == "app"
        assert rows["PATRON_DATABASE_URL"] == (
            "postgresql://bob:***@db.example:5433/patron?password=***"
        )
        text = repr(describe(settings))
        assert "s3cret" not in text
        assert "other" not in text
        assert "tok3n" not in text

    def test_every_setting_by_its_variable(self) -> None:
        rows = dict(describe(Settings()))
        assert set(rows) == {"PATRON_" + name.upper() for name in Settings.model_fields}
        assert rows["PATRON_DATABASE_URL"] == "(unset)"
        assert rows["PATRON_ACCESS_LOG"] == "false"
        assert rows["PATRON_POOL_MAX_SIZE"] == "20"

    def test_url_without_password_is_unchanged(self) -> None:
        assert mask_url("postgresql://db.example/patron") == "postgresql://db.example/patron"
