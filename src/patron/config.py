"""Settings: the only place that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_BODY_BYTES = 10 * 1024 * 1024
# CSV imports stream to disk, so they may be far larger than JSON bodies.
MAX_IMPORT_BYTES = 2 * 1024 * 1024 * 1024


def cores() -> int:
    """The CPU cores this process may run on (its affinity, which containers narrow), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Patron can be configured with, read once from the environment."""

    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(".patron"))
    app_id: str | None = None
    app_token: str | None = None
    pool_min_size: int = 2
    pool_max_size: int = 20
    log_level: str = "INFO"
    # Server processes of `patron serve`; None: one per core (`cores()`).
    workers: int | None = None
    # Whether each server process also carries out async actions (`patron worker`'s work).
    worker: bool = True
    worker_poll_seconds: float = 1.0
    segments_refresh_seconds: float = 600.0
    worker_batch_size: int = 5000
    allow_unsafe_durability: bool = False
    client_rate_limit: int = 5
    client_rate_seconds: float = 5.0
    # Where clients reach this server (`https://vouchers.example`, no trailing slash), for the
    # URLs Patron hands out (vouchers' QR codes and barcodes); None: each request's own scheme
    # and Host header (`patron.kit.http.base_url`).
    public_url: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("PATRON_DATABASE_URL") or None,
            data_dir=Path(env.get("PATRON_DATA_DIR") or ".patron"),
            app_id=env.get("PATRON_APP_ID") or None,
            app_token=env.get("PATRON_APP_TOKEN") or None,
            pool_min_size=int(env.get("PATRON_POOL_MIN_SIZE", "2")),
            pool_max_size=int(env.get("PATRON_POOL_MAX_SIZE", "20")),
            log_level=env.get("PATRON_LOG_LEVEL", "INFO").upper(),
            workers=int(env["PATRON_WORKERS"]) if env.get("PATRON_WORKERS") else None,
            worker=env.get("PATRON_WORKER", "1") not in ("0", "false", "no"),
            worker_poll_seconds=float(env.get("PATRON_WORKER_POLL_SECONDS", "1.0")),
            segments_refresh_seconds=float(env.get("PATRON_SEGMENTS_REFRESH_SECONDS", "600")),
            worker_batch_size=int(env.get("PATRON_WORKER_BATCH_SIZE", "5000")),
            allow_unsafe_durability=env.get("PATRON_ALLOW_UNSAFE_DURABILITY", "0")
            in ("1", "true", "yes"),
            client_rate_limit=int(env.get("PATRON_CLIENT_RATE_LIMIT", "5")),
            client_rate_seconds=float(env.get("PATRON_CLIENT_RATE_SECONDS", "5")),
            public_url=_public_url(env.get("PATRON_PUBLIC_URL") or None),
        )


def _public_url(value: str | None) -> str | None:
    """PATRON_PUBLIC_URL without its trailing slashes; ValueError unless it is an http(s) URL."""
    if value is None:
        return None
    url = value.strip().rstrip("/")
    scheme, separator, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not separator or not rest:
        raise ValueError(f"PATRON_PUBLIC_URL must be an http:// or https:// URL, not {value!r}")
    return url
