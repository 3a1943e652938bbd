-- PostgreSQL twin of migrations/0002_in_flight_by_time.sql.
DROP INDEX attempts_in_flight;
CREATE INDEX attempts_in_flight ON attempts (created_at) WHERE outcome IS NULL;
