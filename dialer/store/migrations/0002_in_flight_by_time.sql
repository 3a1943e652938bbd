-- The in-flight index of 0001 led with direction, so listing live calls oldest first
-- (reconciliation) was planned as a walk over every attempt ever made, in time order.
-- Leading with created_at serves that listing and still keeps the index as small as
-- the number of live calls; counting one direction filters those few rows.
DROP INDEX attempts_in_flight;
CREATE INDEX attempts_in_flight ON attempts (created_at) WHERE outcome IS NULL;
