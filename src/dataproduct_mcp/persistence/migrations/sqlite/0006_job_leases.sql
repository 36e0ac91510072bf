-- 0006: scheduled maintenance. One row per job: which process holds the job's lease (only the
-- holder schedules it, so several replicas run each job once per interval), when it last ran and
-- runs next, and the outcome of its last run (a durable task, last_task_id). Times: fixed-width
-- ISO 8601 UTC text, as in 0003.
CREATE TABLE job_leases (
    job              TEXT PRIMARY KEY,
    owner            TEXT,
    lease_expires_at TEXT,
    last_run_at      TEXT,
    next_run_at      TEXT NOT NULL,
    last_task_id     TEXT,
    last_outcome     TEXT,
    last_error       TEXT,
    runs             INTEGER NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL
);
