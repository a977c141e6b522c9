"""Where the Neo4j server is, and opening a driver whose failures read as one-line errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import neo4j
from neo4j.exceptions import AuthError, ClientError, ConfigurationError, DriverError, Neo4jError

from hippo.config import NEO4J_DATABASE, NEO4J_PASSWORD, NEO4J_URI, NEO4J_USER
from hippo.errors import HippoError

DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")

# The driver logs retries and dropped connections; failures reach the user as HippoError,
# so keep its records out of Python's last-resort stderr handler.
logging.getLogger("neo4j").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Neo4jConfig:
    """Connection settings; `database` None means the server's default database."""

    uri: str = DEFAULT_URI
    user: str = DEFAULT_USER
    password: str | None = None
    database: str | None = None

    @classmethod
    def from_env(
        cls, uri: str | None = None, user: str | None = None, password: str | None = None,
        database: str | None = None,
    ) -> Neo4jConfig:
        """Given values, else NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE, else defaults."""
        return cls(
            uri=uri or NEO4J_URI.get() or DEFAULT_URI,
            user=user or NEO4J_USER.get() or DEFAULT_USER,
            password=password if password is not None else NEO4J_PASSWORD.get(),
            database=database or NEO4J_DATABASE.get(),
        )

    @property
    def browser_url(self) -> str:
        """The Neo4j Browser on the server's host, at the default HTTP port."""
        return f"http://{urlsplit(self.uri).hostname or '127.0.0.1'}:7474/browser/"


@contextmanager
def open_session(config: Neo4jConfig) -> Iterator[neo4j.Session]:
    """A session on `config.database`, checked to be reachable, authenticated and existing.

    Driver errors raised inside the block become one-line `HippoError`s.
    """
    auth = (config.user, config.password) if config.password else None
    bad_uri = HippoError(f"--uri {config.uri}: not a Bolt address; use e.g. {DEFAULT_URI}")
    if urlsplit(config.uri).scheme not in BOLT_SCHEMES:
        raise bad_uri
    try:
        driver = neo4j.GraphDatabase.driver(
            config.uri, auth=auth, connection_timeout=10, max_transaction_retry_time=15,
            notifications_min_severity="OFF",
        )
    except (ValueError, ConfigurationError):
        raise bad_uri from None
    connected = False
    try:
        with driver, driver.session(database=config.database) as session:
            session.run("RETURN 1").consume()
            connected = True
            yield session
    except Neo4jError as err:
        raise _explain(config, err) from None
    except DriverError:
        if connected:
            raise HippoError(
                f"Neo4j at {config.uri}: the connection was lost; "
                "what was committed is kept and running the command again completes it"
            ) from None
        raise HippoError(
            f"--uri {config.uri}: cannot reach a Neo4j server there; "
            "start one with `scripts/neo4j-server start` or fix --uri / NEO4J_URI"
        ) from None


def _explain(config: Neo4jConfig, err: Neo4jError) -> HippoError:
    if isinstance(err, AuthError) or (err.code or "").startswith("Neo.ClientError.Security"):
        if not config.password:
            return HippoError(f"--password: Neo4j at {config.uri} needs one; pass --password or set NEO4J_PASSWORD")
        return HippoError(
            f"--user/--password: Neo4j at {config.uri} refused user {config.user!r} "
            f"({_first_line(err)}); set --password or NEO4J_PASSWORD"
        )
    if isinstance(err, ClientError) and err.code == "Neo.ClientError.Database.DatabaseNotFound":
        return HippoError(
            f"--database {config.database}: no such database on {config.uri}; create it "
            "or leave out --database / NEO4J_DATABASE to use the default one"
        )
    return HippoError(f"Neo4j at {config.uri}: {_first_line(err)}")


def _first_line(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    return text.strip().splitlines()[0]
