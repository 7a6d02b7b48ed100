"""Production operations: metrics, structured logs, health probes, backups, migration, shedding."""
