"""Exit 0 when the test PostgreSQL server answers, else say why and exit 1."""

import os
import sys


def params() -> dict:
    return {
        "host": os.environ.get("SYNNEFO_TEST_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("SYNNEFO_TEST_PG_PORT", "5432")),
        "user": os.environ.get("SYNNEFO_TEST_PG_USER", "postgres"),
        "password": os.environ.get("SYNNEFO_TEST_PG_PASSWORD", ""),
    }


def main() -> int:
    try:
        import psycopg

        with psycopg.connect(dbname="postgres", connect_timeout=5, **params()):
            return 0
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", with the reason
        print(f"PostgreSQL not available at {params()['host']}:{params()['port']}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
