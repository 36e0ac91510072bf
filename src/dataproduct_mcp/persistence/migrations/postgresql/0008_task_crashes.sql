-- 0008: a task's crash budget, apart from its retry budget. `crashes` counts the runs that ended
-- because the worker stopped (crash, kill -9, lost lease); the task resumes each time until
-- `max_crashes` (a task that keeps killing its worker is a poison pill). `max_attempts` stays the
-- budget for retryable failures of the handler itself.
ALTER TABLE tasks ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN max_crashes INTEGER NOT NULL DEFAULT 20;
