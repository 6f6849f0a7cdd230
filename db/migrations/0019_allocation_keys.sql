-- `allocate` takes an idempotency key: a client that timed out repeats the call with the
-- same key and gets the exchange it made, if it made one, instead of a second one.
ALTER TABLE exchanges ADD COLUMN idempotency_key text CHECK (length(idempotency_key) <= 100);
CREATE UNIQUE INDEX exchanges_idempotency ON exchanges (allocated_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
