"""The bundled runner, `coreflow runner`: takes jobs from the spool and runs them.

main.py parses the options and checks the spool; loop.py is the runner itself (one
thread and an event loop: job output, job exits, the change feed, signals, timers;
flusher.py's thread only makes results durable);
process.py is one job's process and log; reaper.py kills the jobs if the runner dies.
Every state change goes through store.jobs.claims.
"""
