-- 0006: scheduled maintenance. One row per job: which process holds the job's lease (only the
-- holder schedules it, so several replicas run each job once per interval), when it last ran and
-- runs next, and the outcome of its last run (a durable task, last_task_id).
CREATE TABLE job_leases (
    job              TEXT PRIMARY KEY,
    owner            TEXT,
    lease_expires_at TIMESTAMPTZ,
    last_run_at      TIMESTAMPTZ,
    next_run_at      TIMESTAMPTZ NOT NULL,
    last_task_id     TEXT,
    last_outcome     TEXT,
    last_error       TEXT,
    runs             INTEGER NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    updated_at       TIMESTAMPTZ NOT NULL
);
