"""Remember the last successful run in a small Snowflake table."""

import os
from datetime import datetime

import snowflake.connector

EPOCH = "1970-01-01 00:00:00"


def connect():
    return snowflake.connector.connect(
        account=os.environ["SNOWFLAKE_ACCOUNT"],
        user=os.environ["SNOWFLAKE_USER"],
        password=os.environ["SNOWFLAKE_PASSWORD"],
        warehouse=os.environ.get("SNOWFLAKE_WAREHOUSE", "COMPUTE_WH"),
    )


def last_run(target: str) -> str:
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS DR_WRITEBACK_STATE "
            "(TARGET STRING PRIMARY KEY, LAST_RUN TIMESTAMP_TZ)"
        )
        cursor.execute("SELECT LAST_RUN FROM DR_WRITEBACK_STATE WHERE TARGET = %s", (target,))
        row = cursor.fetchone()
        return str(row[0]) if row else EPOCH


def save_run(target: str, when: datetime) -> None:
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "MERGE INTO DR_WRITEBACK_STATE s USING (SELECT %s AS T, %s AS L) n ON s.TARGET = n.T "
            "WHEN MATCHED THEN UPDATE SET LAST_RUN = n.L "
            "WHEN NOT MATCHED THEN INSERT (TARGET, LAST_RUN) VALUES (n.T, n.L)",
            (target, when.isoformat()),
        )
