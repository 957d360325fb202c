"""The exit statuses of every coreflow command: 0 done, 1 could not be done, 2 usage error."""

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
